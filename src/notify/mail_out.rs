//! Mail notifications: rendered at delivery time through the recipient's
//! own scope (the queries the pages use, with the recipient as viewer),
//! then sent over SMTP. A customer's mail can only carry what that
//! customer's pages would show: an entry they may not see is never
//! rendered, the delivery is dropped.

use diesel_async::AsyncPgConnection;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Tried;
use crate::config::{Delivery as Settings, SmtpTls};
use crate::db::deliveries::Delivery;
use crate::db::journal::{self, EntryRow};
use crate::db::{tickets, users};
use crate::domain::account::UserId;
use crate::domain::mail as rules;
use crate::domain::notice::Notice;
use crate::domain::ticket::TicketId;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The relay of the configuration; `None` when there is none.
    pub fn new(settings: &Settings) -> Result<Option<Self>, String> {
        let Some(smtp) = &settings.smtp else {
            return Ok(None);
        };
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("the From address {:?} is not valid: {e}", settings.from))?;
        let builder = match smtp.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .map_err(|e| format!("SMTP relay {}: {e}", smtp.host))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|e| format!("SMTP relay {}: {e}", smtp.host))?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(settings.timeout));
        if let (Some(user), Some(password)) = (&smtp.user, &smtp.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }
}

/// Renders and sends one mail delivery (inside the claiming transaction).
pub async fn deliver(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    mailer: Option<&Mailer>,
    delivery: &Delivery,
) -> diesel::QueryResult<Tried> {
    let Some(mailer) = mailer else {
        return Ok(Tried::Dropped("no SMTP relay is configured".to_owned()));
    };
    let message = match render(conn, settings, mailer, delivery).await? {
        Ok(message) => message,
        Err(tried) => return Ok(tried),
    };
    Ok(match mailer.transport.send(message).await {
        Ok(response) => Tried::Sent(format!("relay accepted ({})", response.code())),
        Err(e) if e.is_permanent() => Tried::Permanent(format!("the relay refused: {e}")),
        Err(e) => Tried::Transient(format!("relay: {e}")),
    })
}

/// The message, or why there is none to send.
async fn render(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    mailer: &Mailer,
    delivery: &Delivery,
) -> diesel::QueryResult<Result<Message, Tried>> {
    let dropped = |why: &str| Ok(Err(Tried::Dropped(why.to_owned())));
    let (Some(user_id), Some(ticket_id)) =
        (delivery.payload["user_id"].as_i64(), delivery.ticket_id)
    else {
        return dropped("the delivery names no recipient or ticket");
    };
    let Ok(notice) = delivery.event.parse::<Notice>() else {
        return dropped("unknown notice");
    };
    let user = match users::find(conn, UserId(user_id)).await {
        Ok(user) => user,
        Err(diesel::result::Error::NotFound) => return dropped("the recipient is gone"),
        Err(e) => return Err(e),
    };
    if user.disabled {
        return dropped("the recipient's account is disabled");
    }
    let viewer = user.viewer();
    if notice.is_team_only() && !viewer.role.is_staff() {
        return dropped("a team notice for someone outside the team");
    }
    // The same scoped reads as the ticket page, with the recipient as viewer.
    let Some(ticket) =
        tickets::find_visible(conn, TicketId(ticket_id), viewer.ticket_scope()).await?
    else {
        return dropped("the recipient may not see the ticket");
    };
    let entry_id = delivery.payload["entry_id"].as_i64().unwrap_or(0);
    let entry: Option<EntryRow> = if entry_id > 0 {
        match journal::find(conn, ticket.id, entry_id, viewer.entry_scope()).await? {
            Some(entry) => Some(entry),
            None => return dropped("the recipient may not see this entry"),
        }
    } else {
        None
    };
    let url = format!("{}/tickets/{}", settings.public_url, ticket.id);
    let author = entry
        .as_ref()
        .and_then(|e| e.author.clone())
        .unwrap_or_else(|| "Casebook".to_owned());
    let entry_body = entry.as_ref().map_or("", |e| e.entry.body.as_str());
    let n = ticket.id.0;
    let text = match notice {
        Notice::PublicReply => format!(
            "{author} wrote on ticket #{n}:\n\n{entry_body}\n\n-- \n\
             Reply to this message to answer on the ticket.\n{url}\n"
        ),
        Notice::Resolved => {
            let reason = if entry_body.is_empty() {
                String::new()
            } else {
                format!("\n\n{entry_body}")
            };
            format!(
                "Ticket #{n} \"{}\" was resolved by {author}.{reason}\n\n-- \n\
                 If the problem is back, reply to this message.\n{url}\n",
                ticket.title
            )
        }
        Notice::Assigned => format!(
            "{author} assigned ticket #{n} to you.\n\n{} · {}\n\n{}\n\n-- \n{url}\n",
            ticket.priority(),
            ticket.title,
            excerpt(&ticket.description)
        ),
        Notice::Escalated => format!(
            "{author} escalated ticket #{n} to you.\n\n{entry_body}\n\n{} · {}\n\n-- \n{url}\n",
            ticket.priority(),
            ticket.title
        ),
        Notice::NewP1 => format!(
            "A new P1 arrived in your triage week: #{n} {}\n\n{}\n\n-- \n{url}\n",
            ticket.title,
            excerpt(&ticket.description)
        ),
    };
    let domain = settings.domain();
    let to: Mailbox = match format!("{} <{}>", quote_name(&user.display_name), user.email).parse() {
        Ok(to) => to,
        Err(e) => {
            return Ok(Err(Tried::Permanent(format!(
                "the address {}: {e}",
                user.email
            ))));
        }
    };
    let thread = rules::thread_id(n, &domain);
    let built = Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(rules::subject(n, &ticket.title))
        .message_id(Some(rules::message_id(n, entry_id, delivery.id, &domain)))
        .in_reply_to(thread.clone())
        .references(thread)
        .header(ContentType::TEXT_PLAIN)
        .body(text);
    let mut message = match built {
        Ok(message) => message,
        Err(e) => {
            return Ok(Err(Tried::Permanent(format!(
                "could not build the message: {e}"
            ))));
        }
    };
    let headers = message.headers_mut();
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str(rules::LOOP_HEADER),
        domain.clone(),
    ));
    // RFC 3834: auto-responders must not answer notifications.
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".to_owned(),
    ));
    Ok(Ok(message))
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 2000;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

/// A display name as a quoted string (names may hold commas).
fn quote_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    format!("\"{clean}\"")
}
