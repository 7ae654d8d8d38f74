//! Reviews: the queue of resolved tickets still to review, the facts a
//! review page shows, and the review actions (save a draft, submit, the
//! one-action routine review). Each action is one transaction that takes
//! the ticket's row lock first, so two reviewers submitting at once are
//! serialised: one wins, the other gets [`ReviewError::AlreadySubmitted`]
//! with the winner's name, and their own text comes back to them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::db::audit::{self, Event};
use crate::db::improvements::{self, ImprovementError, NewItem};
use crate::db::journal::{self, NewEntry};
use crate::db::schema::{
    escalations, journal_entries, reviews, ticket_transitions, tickets, users,
};
use crate::db::tickets::{self as ticket_db, Ticket};
use crate::db::triage;
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::policy::{Viewer, Visibility};
use crate::domain::review::{
    EscalationVerdict, ModelLinked, ModelWorked, ReviewAnswers, ReviewInput, ReviewStatus,
};
use crate::domain::ticket::{EntryKind, Status, TicketId};

/// Everyone on the team reviews; customers never see a review.
pub fn may_review(viewer: &Viewer) -> bool {
    viewer.role.is_staff()
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("not found")]
    NotFound,
    #[error("reviews are for the team only")]
    Forbidden,
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error(
        "this ticket is {0}; only resolved tickets and closed ones that are not duplicates are reviewed"
    )]
    NotReviewable(&'static str),
    #[error(
        "{by} submitted the review of this ticket at {at} UTC; it is shown below, and your text is kept in the form"
    )]
    AlreadySubmitted { by: String, at: String },
    #[error("{0}")]
    Item(ImprovementError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

impl From<ImprovementError> for ReviewError {
    fn from(e: ImprovementError) -> Self {
        match e {
            ImprovementError::Database(d) => ReviewError::Database(d),
            ImprovementError::Invalid(f) => ReviewError::Invalid(f),
            other => ReviewError::Item(other),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reviews)]
pub struct Review {
    pub id: i64,
    pub ticket_id: i64,
    pub reviewer_id: i64,
    pub status: String,
    pub what_happened: String,
    pub model_linked: Option<String>,
    pub model_worked: Option<String>,
    pub step_detail: String,
    pub escalation: Option<String>,
    pub recommendations: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
}

impl Review {
    pub fn is_submitted(&self) -> bool {
        self.status == ReviewStatus::Submitted.as_str()
    }

    pub fn input(&self) -> ReviewInput {
        ReviewInput {
            what_happened: self.what_happened.clone(),
            model_linked: self.model_linked.clone().unwrap_or_default(),
            model_worked: self.model_worked.clone().unwrap_or_default(),
            step_detail: self.step_detail.clone(),
            escalation: self.escalation.clone().unwrap_or_default(),
            recommendations: self.recommendations.clone(),
        }
    }

    pub fn model_linked_label(&self) -> &'static str {
        label::<ModelLinked>(&self.model_linked, ModelLinked::label)
    }

    pub fn model_worked_label(&self) -> &'static str {
        label::<ModelWorked>(&self.model_worked, ModelWorked::label)
    }

    pub fn escalation_label(&self) -> &'static str {
        label::<EscalationVerdict>(&self.escalation, EscalationVerdict::label)
    }
}

fn label<T: std::str::FromStr>(value: &Option<String>, f: fn(T) -> &'static str) -> &'static str {
    value
        .as_deref()
        .and_then(|v| v.parse::<T>().ok())
        .map(f)
        .unwrap_or("—")
}

/// A review with its reviewer's name.
#[derive(Debug, Clone, Queryable)]
pub struct ReviewRow {
    #[diesel(embed)]
    pub review: Review,
    pub reviewer: String,
}

/// A line of the review queue.
#[derive(Debug, Clone, Queryable)]
pub struct QueueRow {
    pub id: i64,
    pub title: String,
    pub priority: i16,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Who has a draft of its review, if anyone.
    pub draft_by: Option<String>,
}

/// Whether a ticket in this state belongs in the review queue.
pub fn reviewable(ticket: &Ticket) -> Result<(), ReviewError> {
    match ticket.status() {
        Status::Resolved => Ok(()),
        Status::Closed if ticket.duplicate_of.is_none() => Ok(()),
        Status::Closed => Err(ReviewError::NotReviewable("closed as a duplicate")),
        other => Err(ReviewError::NotReviewable(match other {
            Status::New => "new",
            Status::Triaged => "triaged",
            Status::InProgress => "in progress",
            _ => "waiting on the customer",
        })),
    }
}

/// The review queue's condition, written once for the count and the page.
macro_rules! waiting_for_review {
    () => {
        tickets::status
            .eq_any(["resolved", "closed"])
            .and(tickets::duplicate_of.is_null())
            .and(tickets::reviewed_at.is_null())
    };
}

/// How many tickets wait for a review.
pub async fn queue_count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    tickets::table
        .filter(waiting_for_review!())
        .count()
        .get_result(conn)
        .await
}

/// Tickets waiting for a review, oldest first.
pub async fn queue(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    offset: i64,
    limit: i64,
) -> Result<(Vec<QueueRow>, i64), ReviewError> {
    if !may_review(viewer) {
        return Err(ReviewError::Forbidden);
    }
    let total = queue_count(conn).await?;
    let draft = diesel::alias!(reviews as draft);
    let rows = tickets::table
        .left_join(draft.on(draft.field(reviews::ticket_id).eq(tickets::id)))
        .left_join(
            users::table.on(users::id
                .nullable()
                .eq(draft.field(reviews::reviewer_id).nullable())),
        )
        .filter(waiting_for_review!())
        .select((
            tickets::id,
            tickets::title,
            tickets::priority,
            tickets::status,
            tickets::created_at,
            users::display_name.nullable(),
        ))
        .order((tickets::created_at.asc(), tickets::id.asc()))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Submitted reviews, newest first (for the API).
pub async fn submitted(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    offset: i64,
    limit: i64,
) -> Result<(Vec<ReviewRow>, i64), ReviewError> {
    if !may_review(viewer) {
        return Err(ReviewError::Forbidden);
    }
    let total = reviews::table
        .filter(reviews::status.eq("submitted"))
        .count()
        .get_result(conn)
        .await?;
    let rows = reviews::table
        .inner_join(users::table)
        .filter(reviews::status.eq("submitted"))
        .select((Review::as_select(), users::display_name))
        .order((reviews::submitted_at.desc(), reviews::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// The review of a ticket, draft or submitted, if there is one.
pub async fn find(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    ticket: TicketId,
) -> Result<Option<ReviewRow>, ReviewError> {
    if !may_review(viewer) {
        return Err(ReviewError::Forbidden);
    }
    Ok(reviews::table
        .inner_join(users::table)
        .filter(reviews::ticket_id.eq(ticket.0))
        .select((Review::as_select(), users::display_name))
        .first(conn)
        .await
        .optional()?)
}

/// A model link as the review page shows it.
#[derive(Debug, Clone)]
pub struct LinkFact {
    pub key: Option<String>,
    pub title: Option<String>,
    pub revision: Option<i32>,
    pub outcome: String,
    pub missing: String,
}

#[derive(Debug, Clone, Queryable)]
pub struct EscalationFact {
    pub from: String,
    pub to_user: Option<String>,
    pub to_team: String,
    pub followed_model: String,
    pub step_reached: Option<i32>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl EscalationFact {
    pub fn to(&self) -> &str {
        self.to_user.as_deref().unwrap_or(&self.to_team)
    }

    pub fn followed_label(&self) -> String {
        match (self.followed_model.as_str(), self.step_reached) {
            ("yes", Some(step)) => format!("followed the model to step {step}"),
            ("yes", None) => "followed the model".to_owned(),
            ("no", _) => format!("did not follow the model: {}", self.reason),
            _ => "there was no model".to_owned(),
        }
    }
}

/// What the review page shows before anyone types: the facts gathered
/// while the ticket was worked.
#[derive(Debug, Clone)]
pub struct Facts {
    pub ticket: Ticket,
    pub links: Vec<LinkFact>,
    pub escalations: Vec<EscalationFact>,
    pub searches: Vec<triage::Search>,
    pub to_triage: Option<chrono::Duration>,
    pub to_first_reply: Option<chrono::Duration>,
    pub to_resolve: Option<chrono::Duration>,
}

impl Facts {
    /// A linked model resolved the ticket.
    pub fn resolved_by_model(&self) -> bool {
        self.links.iter().any(|l| l.outcome == "resolved")
    }

    /// "No model fits" links: each proposes a "write a new model" item.
    pub fn missing_models(&self) -> Vec<&str> {
        self.links
            .iter()
            .filter(|l| l.outcome == "no_fit")
            .map(|l| l.missing.as_str())
            .collect()
    }
}

async fn first_transition_to(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    to: Status,
) -> QueryResult<Option<DateTime<Utc>>> {
    ticket_transitions::table
        .filter(ticket_transitions::ticket_id.eq(ticket.0))
        .filter(ticket_transitions::to_status.eq(to.as_str()))
        .select(diesel::dsl::min(ticket_transitions::at))
        .first(conn)
        .await
}

pub async fn facts(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<Facts, ReviewError> {
    if !may_review(viewer) {
        return Err(ReviewError::Forbidden);
    }
    let ticket = ticket_db::find_visible(conn, id, viewer.ticket_scope())
        .await?
        .ok_or(ReviewError::NotFound)?;
    let links = ticket_db::linked_models(conn, id)
        .await?
        .into_iter()
        .map(|(_, key, title, revision, outcome, missing)| LinkFact {
            key,
            title,
            revision,
            outcome,
            missing,
        })
        .collect();
    let (from_user, to_user) = diesel::alias!(users as from_user, users as to_user);
    let escalations = escalations::table
        .inner_join(from_user.on(from_user.field(users::id).eq(escalations::from_id)))
        .left_join(
            to_user.on(to_user
                .field(users::id)
                .nullable()
                .eq(escalations::to_user_id)),
        )
        .filter(escalations::ticket_id.eq(id.0))
        .select((
            from_user.field(users::display_name),
            to_user.field(users::display_name).nullable(),
            escalations::to_team,
            escalations::followed_model,
            escalations::step_reached,
            escalations::reason,
            escalations::created_at,
        ))
        .order(escalations::id.asc())
        .load(conn)
        .await?;
    let searches = triage::for_ticket(conn, id).await?;
    let triaged = first_transition_to(conn, id, Status::Triaged).await?;
    let resolved = first_transition_to(conn, id, Status::Resolved).await?;
    // The first public reply written by the team.
    let first_reply: Option<DateTime<Utc>> = journal_entries::table
        .inner_join(users::table)
        .filter(journal_entries::ticket_id.eq(id.0))
        .filter(journal_entries::kind.eq(EntryKind::Reply.as_str()))
        .filter(journal_entries::visibility.eq("public"))
        .filter(users::role.ne("customer"))
        .select(diesel::dsl::min(journal_entries::created_at))
        .first(conn)
        .await?;
    let since = |t: Option<DateTime<Utc>>| t.map(|t| t - ticket.created_at);
    Ok(Facts {
        to_triage: since(triaged),
        to_first_reply: since(first_reply),
        to_resolve: since(resolved),
        links,
        escalations,
        searches,
        ticket,
    })
}

/// An item proposed in the review form and filed when it is submitted.
#[derive(Debug, Clone, Default)]
pub struct Proposal {
    pub item: crate::domain::improvement::ItemInput,
    pub model_key: String,
    pub owner: Option<i64>,
}

/// What a submitted review did.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub review: Review,
    pub items: Vec<i64>,
}

async fn locked_reviewable(
    conn: &mut AsyncPgConnection,
    id: TicketId,
) -> Result<Ticket, ReviewError> {
    let ticket = ticket_db::find_for_update(conn, id)
        .await?
        .ok_or(ReviewError::NotFound)?;
    reviewable(&ticket)?;
    Ok(ticket)
}

/// The existing review, refusing when it is already submitted.
async fn open_review(
    conn: &mut AsyncPgConnection,
    id: TicketId,
) -> Result<Option<Review>, ReviewError> {
    let existing = reviews::table
        .inner_join(users::table)
        .filter(reviews::ticket_id.eq(id.0))
        .select((Review::as_select(), users::display_name))
        .first::<(Review, String)>(conn)
        .await
        .optional()?;
    match existing {
        Some((review, by)) if review.is_submitted() => Err(ReviewError::AlreadySubmitted {
            by,
            at: review
                .submitted_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
        }),
        Some((review, _)) => Ok(Some(review)),
        None => Ok(None),
    }
}

async fn write(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    answers: &ReviewAnswers,
    status: ReviewStatus,
) -> Result<Review, ReviewError> {
    let existing = open_review(conn, id).await?;
    let submitted_at = (status == ReviewStatus::Submitted).then(Utc::now);
    let values = (
        reviews::reviewer_id.eq(viewer.user.0),
        reviews::status.eq(status.as_str()),
        reviews::what_happened.eq(&answers.what_happened),
        reviews::model_linked.eq(answers.model_linked.map(ModelLinked::as_str)),
        reviews::model_worked.eq(answers.model_worked.map(ModelWorked::as_str)),
        reviews::step_detail.eq(&answers.step_detail),
        reviews::escalation.eq(answers.escalation.map(EscalationVerdict::as_str)),
        reviews::recommendations.eq(&answers.recommendations),
        reviews::submitted_at.eq(submitted_at),
    );
    let review = match existing {
        Some(draft) => {
            diesel::update(reviews::table.find(draft.id))
                .set((values, reviews::updated_at.eq(diesel::dsl::now)))
                .returning(Review::as_returning())
                .get_result(conn)
                .await?
        }
        None => {
            diesel::insert_into(reviews::table)
                .values((reviews::ticket_id.eq(id.0), values))
                .returning(Review::as_returning())
                .get_result(conn)
                .await?
        }
    };
    Ok(review)
}

/// Saves the review as a draft (anyone on the team may carry on with it).
pub async fn save_draft(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    input: &ReviewInput,
) -> Result<Review, ReviewError> {
    if !may_review(viewer) {
        return Err(ReviewError::Forbidden);
    }
    let answers = ReviewAnswers::check(input, ReviewStatus::Draft)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        locked_reviewable(conn, id).await?;
        write(conn, &viewer, id, &answers, ReviewStatus::Draft).await
    })
    .await
}

async fn finish_submit(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    answers: &ReviewAnswers,
    proposals: &[Proposal],
) -> Result<Submitted, ReviewError> {
    let review = write(conn, viewer, id, answers, ReviewStatus::Submitted).await?;
    // Out of the review queue (see the partial index on tickets).
    diesel::update(tickets::table.find(id.0))
        .set(tickets::reviewed_at.eq(review.submitted_at))
        .execute(conn)
        .await?;
    let mut items = Vec::new();
    for proposal in proposals {
        let item = improvements::create_in(
            conn,
            viewer,
            NewItem {
                input: &proposal.item,
                model_key: &proposal.model_key,
                owner: proposal.owner,
                review: Some(review.id),
                ticket: Some(id.0),
            },
        )
        .await?;
        items.push(item.id);
    }
    journal::add(
        conn,
        NewEntry {
            ticket: id,
            author: Some(viewer.user),
            kind: EntryKind::Note,
            visibility: Visibility::Internal,
            body: &answers.summary(),
            data: json!({ "review": review.id, "improvements": items }),
        },
    )
    .await?;
    crate::db::deliveries::team_event(
        conn,
        crate::domain::notice::Event::ReviewSubmitted,
        Some(id.0),
        &json!({
            "ticket": { "id": id.0 },
            "review": { "id": review.id, "reviewer_id": viewer.user.0, "recommendations": review.recommendations },
            "improvements": items,
        }),
    )
    .await?;
    audit::record(
        conn,
        Event {
            actor: Some(viewer.user),
            action: "review.submitted",
            subject: format!("ticket:{id}"),
            client_addr: None,
            detail: json!({ "review": review.id, "improvements": items }),
        },
    )
    .await?;
    Ok(Submitted { review, items })
}

/// Submits the review, files the proposed items and writes an internal
/// journal entry on the ticket, all in one transaction.
pub async fn submit(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    input: &ReviewInput,
    proposals: &[Proposal],
) -> Result<Submitted, ReviewError> {
    if !may_review(viewer) {
        return Err(ReviewError::Forbidden);
    }
    let answers = ReviewAnswers::check(input, ReviewStatus::Submitted)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        locked_reviewable(conn, id).await?;
        finish_submit(conn, &viewer, id, &answers, proposals).await
    })
    .await
}

/// "Model worked, nothing to add."
pub async fn submit_routine(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<Submitted, ReviewError> {
    if !may_review(viewer) {
        return Err(ReviewError::Forbidden);
    }
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        locked_reviewable(conn, id).await?;
        let resolved_by_model = ticket_db::linked_models(conn, id)
            .await?
            .iter()
            .any(|l| l.4 == "resolved");
        let escalated = escalations::table
            .filter(escalations::ticket_id.eq(id.0))
            .count()
            .get_result::<i64>(conn)
            .await?
            > 0;
        // A submitted review is reported before the routine rule.
        open_review(conn, id).await?;
        let answers = ReviewAnswers::routine(resolved_by_model, escalated)?;
        finish_submit(conn, &viewer, id, &answers, &[]).await
    })
    .await
}

/// The reviewer's name for a user id (for pages).
pub async fn user_name(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<String> {
    ticket_db::name_of(conn, user.0).await
}
