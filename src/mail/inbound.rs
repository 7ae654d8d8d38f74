//! One message in. Parsed with `mail-parser` (charsets decoded, plain text
//! preferred, HTML turned to text), checked, then written through the
//! ticket service with the sender as the viewer, so mail can do exactly
//! what the sender could do on the pages: a reference to a ticket the
//! sender may not see is refused, a customer's comment is refused.
//! Everything is one transaction: a refused message writes nothing.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use mail_parser::{MessageParser, MimeHeaders};

use crate::config::Delivery as Settings;
use crate::db::mail::{self as store, NewAttachment};
use crate::db::users::{self, NewUser, User};
use crate::domain::account::{OrgId, Role};
use crate::domain::attachment as files;
use crate::domain::mail as rules;
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::tickets::{self, OpenTicket, TicketError};

/// Which address the message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Replies and new tickets (the customer-facing address).
    Correspond,
    /// Internal notes by the team (the comment address).
    Comment,
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "correspond" => Ok(Action::Correspond),
            "comment" => Ok(Action::Comment),
            other => Err(format!(
                "unknown action {other:?}: use correspond or comment"
            )),
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Opened {
        ticket: i64,
    },
    Replied {
        ticket: i64,
        entry: i64,
    },
    Commented {
        ticket: i64,
        entry: i64,
    },
    /// Taken in before (same Message-ID): nothing written again.
    Duplicate {
        ticket: Option<i64>,
    },
    /// Recognised and dropped on purpose (bounce, auto-reply, loop).
    Dropped {
        reason: &'static str,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the message is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the message cannot be read: {0}")]
    Malformed(String),
    #[error("the message's text cannot be decoded: {0}")]
    Encoding(String),
    #[error("{0}")]
    UnknownSender(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

impl From<TicketError> for MailError {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::NotFound => {
                MailError::Refused("the message names a ticket the sender may not write on".into())
            }
            TicketError::Forbidden => MailError::Refused("the sender may not do this".into()),
            TicketError::Invalid(f) => MailError::Invalid(f.to_string()),
            TicketError::Search(s) => MailError::Invalid(s.to_string()),
            TicketError::Database(d) => MailError::Database(d),
        }
    }
}

impl From<users::WriteError> for MailError {
    fn from(e: users::WriteError) -> Self {
        match e {
            users::WriteError::Field(f) => MailError::Invalid(f.to_string()),
            users::WriteError::Database(d) => MailError::Database(d),
        }
    }
}

/// What was read from the message, before anything is written.
struct Parsed {
    from: String,
    from_name: Option<String>,
    message_id: Option<String>,
    subject: String,
    references: Vec<String>,
    text: String,
    attachments: Vec<(String, String, Vec<u8>)>,
}

/// Reads and checks a message; `Ok(Err(reason))` for mail to drop.
fn parse(raw: &[u8], settings: &Settings) -> Result<Result<Parsed, &'static str>, MailError> {
    if raw.len() > settings.max_message_bytes {
        return Err(MailError::TooLarge {
            limit: settings.max_message_bytes,
        });
    }
    if !looks_like_a_message(raw) {
        return Err(MailError::Malformed(
            "it does not start with a header block (Name: value lines, then an empty line)".into(),
        ));
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| MailError::Malformed("no headers could be parsed".into()))?;
    let from_addr = message
        .from()
        .and_then(|a| a.first())
        .ok_or_else(|| MailError::Malformed("there is no From address".into()))?;
    let from = from_addr
        .address()
        .map(str::trim)
        .filter(|a| a.contains('@'))
        .ok_or_else(|| MailError::Malformed("the From address is not an address".into()))?
        .to_ascii_lowercase();
    let domain = settings.domain();
    let message_id = message.message_id().map(str::to_owned);
    if message.header_raw(rules::LOOP_HEADER).is_some()
        || message_id
            .as_deref()
            .is_some_and(|id| rules::is_own_message_id(id, &domain))
    {
        return Ok(Err("our own mail came back (mail loop)"));
    }
    let content_type = message
        .content_type()
        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
        .unwrap_or_else(|| "text/plain".to_owned());
    if let Some(reason) = rules::automatic(
        message.header_raw("Auto-Submitted"),
        message.header_raw("Precedence"),
        &content_type,
        &from,
    ) {
        return Ok(Err(reason));
    }
    let mut references: Vec<String> = Vec::new();
    for header in [message.in_reply_to(), message.references()] {
        if let Some(list) = header.as_text_list() {
            references.extend(list.iter().map(|s| s.to_string()));
        }
    }
    let text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    if text.contains('\u{FFFD}') || text.contains('\0') {
        return Err(MailError::Encoding(
            "its character set does not match its bytes (undecodable characters)".into(),
        ));
    }
    let mut attachments = Vec::new();
    for part in message.attachments() {
        let data = part.contents();
        if data.len() > settings.max_attachment_bytes {
            return Err(MailError::TooLarge {
                limit: settings.max_attachment_bytes,
            });
        }
        // The same rules as files attached on the ticket page.
        let name = files::safe_filename(
            part.attachment_name().unwrap_or_default(),
            &format!("attachment-{}", attachments.len() + 1),
        );
        let declared = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")));
        let ctype = files::content_type(declared.as_deref(), data);
        attachments.push((name, ctype, data.to_vec()));
    }
    let text = rules::trim_quoted(&text);
    if text.is_empty() && attachments.is_empty() {
        return Err(MailError::Malformed("the message has no text".into()));
    }
    Ok(Ok(Parsed {
        from,
        from_name: from_addr
            .name()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        message_id,
        subject: message.subject().unwrap_or("").to_owned(),
        references,
        text,
        attachments,
    }))
}

/// A header block first: a `Name:` line before the first empty line.
fn looks_like_a_message(raw: &[u8]) -> bool {
    let head = &raw[..raw.len().min(998)];
    let Some(line_end) = head.iter().position(|b| *b == b'\n') else {
        return false;
    };
    let first = &head[..line_end];
    let Some(colon) = first.iter().position(|b| *b == b':') else {
        return false;
    };
    colon > 0
        && first[..colon]
            .iter()
            .all(|b| b.is_ascii_graphic() && *b != b':')
        && (raw.windows(2).any(|w| w == b"\n\n") || raw.windows(4).any(|w| w == b"\r\n\r\n"))
}

/// Takes one message in.
pub async fn receive(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    raw: &[u8],
    action: Action,
) -> Result<Received, MailError> {
    let parsed = match parse(raw, settings)? {
        Ok(parsed) => parsed,
        Err(reason) => return Ok(Received::Dropped { reason }),
    };
    let domain = settings.domain();
    conn.transaction(async move |conn| {
        if let Some(id) = &parsed.message_id
            && let Some((ticket, _)) = store::seen(conn, id).await?
        {
            return Ok(Received::Duplicate { ticket });
        }
        let sender = sender(conn, &parsed).await?;
        let viewer = sender.viewer();
        let named = parsed
            .references
            .iter()
            .find_map(|r| rules::ticket_of_id(r, &domain))
            .or_else(|| rules::ticket_of_subject(&parsed.subject));
        let text = if parsed.text.is_empty() {
            "(attachments only)".to_owned()
        } else {
            parsed.text.clone()
        };
        // A customer's reply to a closed ticket is kept as a new ticket
        // that points back to it (a bounce would lose what they wrote); a
        // resolved one is reopened by the reply (`tickets::write`). The
        // team's mail to a closed ticket is refused, as on the page.
        let closed = match (named, action) {
            (Some(ticket), Action::Correspond) if !viewer.role.is_staff() => {
                crate::db::tickets::find_visible(conn, TicketId(ticket), viewer.ticket_scope())
                    .await?
                    .filter(|t| t.is_closed())
                    .map(|t| t.id.0)
            }
            _ => None,
        };
        let (received, ticket, entry) = match (named.filter(|_| closed.is_none()), action) {
            (Some(ticket), _) => {
                let visibility = match action {
                    Action::Correspond => Visibility::Public,
                    Action::Comment => Visibility::Internal,
                };
                if action == Action::Comment && !viewer.role.is_staff() {
                    return Err(MailError::Refused(
                        "only the team may write internal notes by mail".into(),
                    ));
                }
                let entry =
                    tickets::write(conn, &viewer, TicketId(ticket), &text, visibility).await?;
                let received = match action {
                    Action::Correspond => Received::Replied {
                        ticket,
                        entry: entry.id,
                    },
                    Action::Comment => Received::Commented {
                        ticket,
                        entry: entry.id,
                    },
                };
                (received, ticket, Some(entry.id))
            }
            (None, Action::Comment) => {
                return Err(MailError::Invalid(
                    "a comment must name its ticket ([Casebook #123] in the subject)".into(),
                ));
            }
            (None, Action::Correspond) => {
                let title: String = rules::title_of_subject(&parsed.subject)
                    .chars()
                    .take(tickets::MAX_TITLE_CHARS)
                    .collect();
                let description = match closed {
                    Some(old) => format!("{text}\n\n(A reply to #{old}, which is closed.)"),
                    None => text.clone(),
                };
                let opened = tickets::open(
                    conn,
                    &viewer,
                    OpenTicket {
                        title: &title,
                        description: &description,
                        priority: "",
                        category: "",
                        organization: viewer.org.map(|o| o.0),
                    },
                )
                .await?;
                (
                    Received::Opened {
                        ticket: opened.id.0,
                    },
                    opened.id.0,
                    None,
                )
            }
        };
        for (filename, content_type, data) in &parsed.attachments {
            store::add_attachment(
                conn,
                NewAttachment {
                    id: None,
                    ticket,
                    entry,
                    filename,
                    content_type,
                    data,
                    by: sender.id,
                },
            )
            .await?;
        }
        if let Some(id) = &parsed.message_id {
            store::record_seen(conn, id, ticket, entry).await?;
        }
        Ok(received)
    })
    .await
}

/// The account the sender writes as: theirs, or a new customer account in
/// the organization an admin mapped their domain to.
async fn sender(conn: &mut AsyncPgConnection, parsed: &Parsed) -> Result<User, MailError> {
    if let Some(user) = store::user_by_email(conn, &parsed.from).await? {
        return Ok(user);
    }
    let domain = parsed.from.rsplit_once('@').map_or("", |(_, d)| d);
    let refused = || {
        MailError::UnknownSender(format!(
            "{} has no Casebook account and its domain is not mapped to an organization",
            parsed.from
        ))
    };
    if store::email_taken(conn, &parsed.from).await? {
        // A disabled account: its mail is refused, not given a new account.
        return Err(refused());
    }
    let Some(org) = store::organization_of_domain(conn, domain).await? else {
        return Err(refused());
    };
    let email = crate::domain::account::validate_email(&parsed.from).map_err(|_| refused())?;
    let name = parsed
        .from_name
        .clone()
        .unwrap_or_else(|| email.split('@').next().unwrap_or("customer").to_owned());
    let name: String = name.chars().take(80).collect();
    let user = users::create(
        conn,
        NewUser {
            email: &email,
            display_name: &name,
            role: Role::Customer,
            organization: Some(OrgId(org)),
            // No password: the account can sign in only once one is set.
            password_hash: "!",
        },
    )
    .await?;
    tracing::info!(
        user.id = user.id,
        "made a customer account for {email} from mail"
    );
    Ok(user)
}
