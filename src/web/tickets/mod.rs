//! Tickets: queues, the ticket page with its live journal and actions, and
//! the customer portal (the same pages, showing customers only their
//! organization's tickets and public entries).

pub mod actions;
pub mod live;
pub mod upload;
pub mod view;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::db::tickets::{self, Filter, Queue, Ticket, TicketRow};
use crate::db::{flashes, journal, users};
use crate::domain::FieldError;
use crate::domain::policy::Viewer;
use crate::domain::ticket::{Outcome, Priority, Status, TicketId};
use crate::markdown::{self, SafeHtml};
use crate::secrets::hash_token;
use crate::tickets::{self as service, OpenTicket};
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::page::{Ctx, PageNo};
use crate::web::{render, render_status, see_other};

use view::EntryView;

pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    pub queue: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub page: PageNo,
}

impl ListQuery {
    pub fn filter(&self) -> Filter {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Filter {
            queue: match self.queue.as_str() {
                "triage" => Queue::Triage,
                "mine" => Queue::Mine,
                "resolved" => Queue::Done,
                "all" => Queue::All,
                _ => Queue::Open,
            },
            status: self.status.parse().ok(),
            priority: self.priority.parse().ok(),
            category: text(&self.category),
            organization: self.organization.trim().parse().ok(),
            assignee: self.assignee.trim().parse().ok(),
        }
    }

    fn keep(&self) -> String {
        crate::web::query_string(&[
            ("queue", self.queue.as_str()),
            ("status", self.status.as_str()),
            ("priority", self.priority.as_str()),
            ("category", self.category.as_str()),
            ("organization", self.organization.as_str()),
            ("assignee", self.assignee.as_str()),
        ])
    }
}

#[derive(Template)]
#[template(path = "tickets/list.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<TicketRow>,
    total: i64,
    page: i64,
    pages: i64,
    query: ListQuery,
    keep: String,
    staff: bool,
    statuses: [Status; 6],
    priorities: [Priority; 4],
    categories: Vec<String>,
    organizations: Vec<(i64, String)>,
    people: Vec<(i64, String)>,
    /// This week's triager, shown on the triage queue.
    triager: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
}

impl ListPage {
    fn age(&self, row: &TicketRow) -> String {
        crate::domain::ticket::age((self.now - row.ticket.created_at).num_seconds())
    }
}

pub async fn list(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let query = query.into_inner();
    let page = query.page;
    let mut conn = state.pool.get().await?;
    let (rows, total) = tickets::list(
        &mut conn,
        viewer.ticket_scope(),
        viewer.user,
        &query.filter(),
        page.offset(PAGE_SIZE),
        PAGE_SIZE,
    )
    .await?;
    let staff = viewer.role.is_staff();
    let (categories, organizations, people) = if staff {
        (
            tickets::categories(&mut conn).await?,
            users::organizations(&mut conn)
                .await?
                .into_iter()
                .map(|(o, _)| (o.id, o.name))
                .collect(),
            tickets::staff(&mut conn).await?,
        )
    } else {
        Default::default()
    };
    let triager =
        crate::db::rota::current_triager(&mut conn, &viewer, chrono::Utc::now().date_naive())
            .await?;
    render(&ListPage {
        ctx,
        triager,
        now: chrono::Utc::now(),
        rows,
        total,
        page: page.number(),
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        keep: query.keep(),
        query,
        staff,
        statuses: Status::ALL,
        priorities: Priority::ALL,
        categories,
        organizations,
        people,
    })
}

#[derive(Template)]
#[template(path = "tickets/new.html")]
struct NewPage {
    ctx: Ctx,
    form: NewForm,
    error: Option<FieldError>,
    staff: bool,
    priorities: [Priority; 4],
    organizations: Vec<(i64, String)>,
}

#[derive(Deserialize, Default, Clone)]
pub struct NewForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub organization: String,
}

async fn new_page(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    form: NewForm,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let staff = viewer.role.is_staff();
    let organizations = if staff {
        users::organizations(&mut conn)
            .await?
            .into_iter()
            .map(|(o, _)| (o.id, o.name))
            .collect()
    } else {
        Vec::new()
    };
    render_status(
        &NewPage {
            ctx,
            form,
            error,
            staff,
            priorities: Priority::ALL,
            organizations,
        },
        status,
    )
}

pub async fn new(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let form = NewForm {
        priority: "3".to_owned(),
        ..Default::default()
    };
    new_page(&state, ctx, &viewer, form, None, StatusCode::OK).await
}

pub async fn create(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let form = form.into_inner();
    let organization = match form.organization.trim() {
        "" => None,
        id => match id.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let e = FieldError::new("organization", "choose an organization from the list");
                return new_page(
                    &state,
                    ctx,
                    &viewer,
                    form,
                    Some(e),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        },
    };
    let mut conn = state.pool.get().await?;
    let opened = service::open(
        &mut conn,
        &viewer,
        OpenTicket {
            title: &form.title,
            description: &form.description,
            priority: &form.priority,
            category: &form.category,
            organization,
        },
    )
    .await;
    match opened {
        Ok(ticket) => Ok(see_other(&format!("/tickets/{}", ticket.id))),
        Err(service::TicketError::Invalid(e)) => {
            new_page(
                &state,
                ctx,
                &viewer,
                form,
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// What the person had typed into the ticket page's forms, shown again
/// when an action is refused so nothing typed is lost (it travels in the
/// flash, as JSON).
#[derive(Default, Serialize, Deserialize)]
pub struct Draft {
    /// The composer's text.
    #[serde(default)]
    pub body: String,
    /// The correction form's fields, when that form was sent.
    #[serde(default)]
    pub edit: Option<actions::EditForm>,
    /// The upload form's note.
    #[serde(default)]
    pub note: String,
}

/// The fields of the ticket page's forms. A refusal names one; the page
/// shows the reason beside it (and the banner links to it).
pub const FIELDS: [&str; 21] = [
    "body",
    "files",
    "resolution",
    "status",
    "assignee",
    "model",
    "outcome",
    "missing",
    "to",
    "to_user",
    "to_team",
    "step_reached",
    "reason",
    "followed_model",
    "duplicate_of",
    "q",
    "title",
    "description",
    "priority",
    "category",
    "step",
];

/// The cookie that carries a refused form's flash token to the next view
/// of the ticket (only for that ticket's address, ten minutes at most).
pub const FLASH_COOKIE: &str = "casebook_flash";

pub fn flash_cookie(state: &AppState, id: TicketId, token: String) -> Cookie<'static> {
    Cookie::build(FLASH_COOKIE, token)
        .path(format!("/tickets/{id}"))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .max_age(CookieDuration::minutes(flashes::LIFETIME_MINUTES))
        .finish()
}

/// The refusal and the draft a flash carries; a field name the page does
/// not know (a form-wide refusal) is shown in the banner only.
fn unflash(flash: flashes::Flash) -> (FieldError, Draft) {
    let field = FIELDS
        .iter()
        .find(|f| **f == flash.field)
        .copied()
        .unwrap_or("form");
    let draft = serde_json::from_value(flash.draft).unwrap_or_default();
    (FieldError::new(field, flash.message), draft)
}

/// A model link as the ticket page lists it.
pub struct LinkedModel {
    pub key: Option<String>,
    pub title: Option<String>,
    pub revision: Option<i32>,
    pub outcome: &'static str,
    pub missing: String,
}

#[derive(Template)]
#[template(path = "tickets/show.html")]
pub struct ShowPage {
    ctx: Ctx,
    ticket: Ticket,
    status: Status,
    priority: Priority,
    organization: Option<String>,
    requester: String,
    assignee: Option<String>,
    description: SafeHtml,
    entries: Vec<EntryView>,
    staff: bool,
    next: &'static [Status],
    people: Vec<(i64, String)>,
    outcomes: [Outcome; 3],
    linked: Vec<LinkedModel>,
    duplicates: Vec<(i64, String)>,
    transitions: Vec<(Option<String>, String, String, Option<String>)>,
    error: Option<FieldError>,
    composer: String,
    /// The upload form's note, after a refused upload.
    upload_note: String,
    /// The largest file the upload form takes, for its hint.
    max_file: String,
    /// The correction form's values: the ticket's, or what was sent.
    edit: actions::EditForm,
    /// The managed category list, offered by the category fields.
    categories: Vec<String>,
    priorities: [Priority; 4],
    checklists: Vec<service::Checklist>,
    /// The escalation form's "followed up to step N", from the ticks.
    reached: Option<usize>,
    /// The newest entry shown, where the live stream takes over.
    last_entry: i64,
    /// Files the viewer may read (from mail, with entries they may see).
    attachments: Vec<crate::db::mail::AttachmentInfo>,
    /// The composer's script refuses a longer entry before sending it.
    max_body_bytes: usize,
    suggestions: Vec<crate::search::triage::Suggestion>,
    possible_duplicates: Vec<crate::search::triage::Duplicate>,
    searches: Vec<crate::db::triage::Search>,
    /// Staff only: the ticket's exclusion from metrics, shown instead of
    /// the form while it lasts.
    exclusion: Option<crate::db::reports::Exclusion>,
}

impl ShowPage {
    fn status_label(s: &str) -> &'static str {
        s.parse::<Status>().map(|s| s.label()).unwrap_or("")
    }

    fn move_label(&self, to: &Status) -> &'static str {
        self.status.action_label(*to)
    }

    /// Whether the status form needs the false alarm's reason field.
    fn false_alarm_possible(&self) -> bool {
        self.next.contains(&Status::Resolved) && self.status.needs_reason(Status::Resolved)
    }

    /// Whether the correction form's priority is `p` (templates pass a
    /// reference).
    fn edit_priority_is(&self, p: &Priority) -> bool {
        self.edit.priority.trim().trim_start_matches(['P', 'p']) == p.level().to_string()
    }

    /// Whether the error belongs to one of the named fields (it is then
    /// shown beside that field, and the banner only says where).
    fn error_in(&self, fields: &[&str]) -> bool {
        let fields = if fields.is_empty() {
            &FIELDS[..]
        } else {
            fields
        };
        self.error
            .as_ref()
            .is_some_and(|e| fields.contains(&e.field))
    }
}

/// Loads everything the ticket page shows, as the viewer may see it.
pub async fn show_page(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    id: TicketId,
    error: Option<FieldError>,
    draft: Draft,
) -> Result<ShowPage, AppError> {
    let mut conn = state.pool.get().await?;
    let ticket = tickets::find_visible(&mut conn, id, viewer.ticket_scope())
        .await?
        .ok_or(AppError::NotFound)?;
    let staff = viewer.role.is_staff();
    let entries: Vec<EntryView> = journal::list(&mut conn, id, viewer.entry_scope(), None)
        .await?
        .iter()
        .map(EntryView::of)
        .collect();
    let last_entry = entries.last().map(|e| e.id).unwrap_or(0);
    let organization = match ticket.organization_id {
        Some(org) => Some(tickets::organization_name(&mut conn, org).await?),
        None => None,
    };
    let requester = tickets::name_of(&mut conn, ticket.requester_id.0).await?;
    let exclusion = if staff {
        crate::db::reports::exclusion_of(&mut conn, id).await?
    } else {
        None
    };
    let assignee = match ticket.assignee_id {
        Some(a) => Some(tickets::name_of(&mut conn, a).await?),
        None => None,
    };
    let (people, linked, transitions) = if staff {
        let linked = tickets::linked_models(&mut conn, id)
            .await?
            .into_iter()
            .map(|(_, key, title, revision, outcome, missing)| LinkedModel {
                key,
                title,
                revision,
                outcome: view::outcome_label(&outcome),
                missing,
            })
            .collect();
        let transitions = tickets::transitions(&mut conn, id)
            .await?
            .into_iter()
            .map(|(from, to, at, by)| (from, to, at.format("%Y-%m-%d %H:%M").to_string(), by))
            .collect();
        (tickets::staff(&mut conn).await?, linked, transitions)
    } else {
        Default::default()
    };
    let duplicates = tickets::duplicates_of(&mut conn, id, viewer.ticket_scope()).await?;
    let (suggestions, possible_duplicates, searches) = if staff {
        let text = format!("{}\n{}", ticket.title, ticket.description);
        // Search trouble must not take the ticket page down with it.
        let suggestions = crate::search::triage::suggest_models(&state.search, &text, 5)
            .unwrap_or_else(|e| {
                tracing::error!("triage suggestions failed: {e}");
                Vec::new()
            });
        let possible =
            crate::search::triage::possible_duplicates(&state.search, ticket.id.0, &text, 5)
                .unwrap_or_else(|e| {
                    tracing::error!("duplicate search failed: {e}");
                    Vec::new()
                });
        (
            suggestions,
            possible,
            crate::db::triage::for_ticket(&mut conn, id).await?,
        )
    } else {
        Default::default()
    };
    let (checklists, categories) = if staff {
        (
            service::checklists(&mut conn, viewer, id).await?,
            service::categories(&mut conn).await?,
        )
    } else {
        Default::default()
    };
    // The model most recently ticked decides "followed up to step N".
    let reached = checklists
        .iter()
        .filter_map(service::Checklist::reached)
        .max();
    let edit = draft.edit.unwrap_or_else(|| actions::EditForm {
        title: ticket.title.clone(),
        description: ticket.description.clone(),
        priority: ticket.priority().level().to_string(),
        category: ticket.category.clone(),
    });
    let status = ticket.status();
    let attachments =
        crate::db::mail::attachments_of(&mut conn, ticket.id.0, viewer.entry_scope()).await?;
    Ok(ShowPage {
        attachments,
        ctx,
        status,
        priority: ticket.priority(),
        organization,
        requester,
        assignee,
        description: markdown::render(&ticket.description),
        entries,
        staff,
        next: if staff { status.next() } else { &[] },
        people,
        outcomes: Outcome::ALL,
        linked,
        duplicates,
        transitions,
        error,
        composer: draft.body,
        upload_note: draft.note,
        max_file: crate::domain::attachment::human_size(
            state.config.delivery.max_attachment_bytes as u64,
        ),
        edit,
        categories,
        priorities: Priority::ALL,
        checklists,
        reached,
        last_entry,
        max_body_bytes: service::MAX_BODY_BYTES,
        suggestions,
        possible_duplicates,
        searches,
        exclusion,
        ticket,
    })
}

pub async fn show(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    // After a refused form: its reason and what was typed, once.
    let flash = match req.cookie(FLASH_COOKIE) {
        Some(cookie) => {
            let mut conn = state.pool.get().await?;
            flashes::take(&mut conn, &hash_token(cookie.value()), viewer.user, id).await?
        }
        None => None,
    };
    let (error, draft) = match flash.map(unflash) {
        Some((error, draft)) => (Some(error), draft),
        None => (None, Draft::default()),
    };
    let page = show_page(&state, ctx, &viewer, id, error, draft).await?;
    let mut response = render(&page)?;
    if req.cookie(FLASH_COOKIE).is_some() {
        let mut gone = flash_cookie(&state, id, String::new());
        gone.make_removal();
        response
            .add_cookie(&gone)
            .map_err(|e| AppError::BadRequest(e.to_string()))?;
    }
    Ok(response)
}

/// One attachment, as a download, through the viewer's scope: the ticket
/// must be theirs to see and the entry it came with too.
pub async fn attachment(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (ticket, id) = path.into_inner();
    download(&state, &who, ticket, id).await
}

/// A file as a download (pages and the API): found through the viewer's
/// ticket and entry scopes, or not at all.
pub async fn download(
    state: &AppState,
    who: &SignedIn,
    ticket: i64,
    id: i64,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let mut conn = state.pool.get().await?;
    let (filename, _content_type, data) = crate::db::mail::attachment(
        &mut conn,
        ticket,
        id,
        viewer.ticket_scope(),
        viewer.entry_scope(),
    )
    .await?
    .ok_or(AppError::NotFound)?;
    // The name as typed, for browsers that read RFC 6266's `filename*`,
    // and a plain ASCII one for the rest.
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = crate::web::auth::urlencode(&filename).replace('/', "%2F");
    // Served as bytes to save, never rendered: an uploaded or mailed HTML
    // file must not run as this site's page.
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .body(data))
}
