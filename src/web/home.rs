//! The home page, one per role: what that person does first.
//!
//! - everyone on the team: this week's rota and the triage queue (first,
//!   and in full, for this week's triager), their tickets and the recent
//!   escalations to them by name;
//! - reviewers, managers, admins: the review queue count and the debt;
//! - managers and admins: the headline numbers;
//! - admins of a fresh installation: the next steps;
//! - customers: their organization's open tickets and a "new ticket" button.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use crate::app::AppState;
use crate::db::home::{self, EscalationToMe, Headline, Setup};
use crate::db::improvements::{self, Debt};
use crate::db::rota::WeekRow;
use crate::db::tickets::{self, Filter, Queue, TicketRow};
use crate::domain::account::Role;
use crate::domain::policy::Viewer;
use crate::web::auth::MaybeSignedIn;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::render;

/// Rows each list on the home page shows (the full list is one click away).
const ROWS: i64 = 8;
/// How far back "recent escalations to me" goes.
const ESCALATION_DAYS: i64 = 14;

/// A short list of tickets and how many there are in all.
#[derive(Default)]
pub struct Short {
    pub rows: Vec<TicketRow>,
    pub total: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    version: &'static str,
    staff: bool,
    customer: bool,
    /// The improvement debt, for reviewers, managers and admins.
    debt: Option<Debt>,
    rule: &'static str,
    /// This week and the next three (team only).
    rota: Vec<WeekRow>,
    /// The viewer triages this week: the queue comes first.
    triaging: bool,
    triage: Short,
    mine: Short,
    escalations: Vec<EscalationToMe>,
    review_queue: Option<i64>,
    headline: Option<Headline>,
    /// A customer's open tickets.
    open: Short,
    /// An admin's installation, while something is missing.
    setup: Option<Setup>,
    now: DateTime<Utc>,
}

impl HomePage {
    fn age(&self, row: &TicketRow) -> String {
        crate::domain::ticket::age((self.now - row.ticket.created_at).num_seconds())
    }

    fn this_week(&self) -> Option<&WeekRow> {
        self.rota.first()
    }
}

async fn short(
    conn: &mut diesel_async::AsyncPgConnection,
    viewer: &Viewer,
    queue: Queue,
) -> Result<Short, AppError> {
    let filter = Filter {
        queue,
        ..Filter::default()
    };
    let (rows, total) =
        tickets::list(conn, viewer.ticket_scope(), viewer.user, &filter, 0, ROWS).await?;
    Ok(Short { rows, total })
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let now = Utc::now();
    let mut page = HomePage {
        ctx,
        version: env!("CARGO_PKG_VERSION"),
        staff: false,
        customer: false,
        debt: None,
        rule: improvements::RULE,
        rota: Vec::new(),
        triaging: false,
        triage: Short::default(),
        mine: Short::default(),
        escalations: Vec::new(),
        review_queue: None,
        headline: None,
        open: Short::default(),
        setup: None,
        now,
    };
    let Some(viewer) = who.0.map(|i| i.user.viewer()) else {
        return render(&page);
    };
    page.staff = viewer.role.is_staff();
    page.customer = !page.staff;
    let mut conn = state.pool.get().await?;
    if viewer.role.is_staff() {
        let week = crate::domain::rota::week_of(now.date_naive());
        page.rota = crate::db::rota::weeks(&mut conn, &viewer, week, 4).await?;
        page.triaging = page.rota.first().is_some_and(|w| w.has(&viewer.user.0));
        page.triage = short(&mut conn, &viewer, Queue::Triage).await?;
        page.mine = short(&mut conn, &viewer, Queue::Mine).await?;
        page.escalations =
            home::escalations_to(&mut conn, &viewer, now, ESCALATION_DAYS, ROWS).await?;
    } else {
        page.open = short(&mut conn, &viewer, Queue::Open).await?;
    }
    if matches!(viewer.role, Role::Reviewer | Role::Manager | Role::Admin) {
        page.debt = Some(improvements::debt(&mut conn, &viewer, now).await?);
        page.review_queue = Some(crate::db::reviews::queue_count(&mut conn).await?);
    }
    if matches!(viewer.role, Role::Manager | Role::Admin) {
        page.headline = home::headline(&mut conn, &viewer, now).await?;
    }
    if viewer.role == Role::Admin {
        page.setup = Some(home::setup(&mut conn).await?).filter(Setup::is_fresh);
    }
    render(&page)
}
