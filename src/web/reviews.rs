//! The review queue and the review page: the ticket's gathered facts, the
//! standard form (draft, submit), the one-action routine review, and the
//! items proposed from it. The actions are in `db::reviews`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::db::improvements::{self, ImprovementError, ItemRow};
use crate::db::reviews::{self, Facts, Proposal, QueueRow, ReviewError, ReviewRow};
use crate::domain::FieldError;
use crate::domain::improvement::{ItemInput, Kind};
use crate::domain::policy::Viewer;
use crate::domain::review::{
    EscalationVerdict, ModelLinked, ModelWorked, ReviewInput, describe_duration,
};
use crate::domain::ticket::{Priority, TicketId};
use crate::web::auth::SignedIn;
use crate::web::error::{AppError, NotAppError};
use crate::web::page::Ctx;
use crate::web::{render, render_status, see_other};

pub const PAGE_SIZE: i64 = 50;
/// Items a review form can propose at once.
pub const PROPOSALS: usize = 3;

impl From<ReviewError> for AppError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::NotFound => AppError::NotFound,
            ReviewError::Forbidden => AppError::Forbidden,
            ReviewError::Invalid(f) => AppError::Invalid(f),
            ReviewError::NotReviewable(_) => {
                AppError::Invalid(FieldError::new("ticket", e.to_string()))
            }
            ReviewError::AlreadySubmitted { .. } => {
                AppError::Invalid(FieldError::new("review", e.to_string()))
            }
            ReviewError::Item(i) => i.into(),
            ReviewError::Database(d) => AppError::Database(d),
        }
    }
}

impl From<ImprovementError> for AppError {
    fn from(e: ImprovementError) -> Self {
        match e {
            ImprovementError::NotFound => AppError::NotFound,
            ImprovementError::Forbidden => AppError::Forbidden,
            ImprovementError::Invalid(f) => AppError::Invalid(f),
            ImprovementError::Database(d) => AppError::Database(d),
        }
    }
}

impl NotAppError for ReviewError {}
impl NotAppError for ImprovementError {}

/// A `page` query value made safe to multiply.
pub fn page_number(page: Option<i64>) -> i64 {
    page.unwrap_or(1).clamp(1, 100_000)
}

#[derive(Deserialize)]
pub struct PageQuery {
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "reviews/list.html")]
struct QueuePage {
    ctx: Ctx,
    rows: Vec<QueueRow>,
    total: i64,
    page: i64,
    pages: i64,
}

impl QueuePage {
    fn priority(level: &i16) -> String {
        Priority::new(*level)
            .map(|p| p.to_string())
            .unwrap_or_default()
    }
}

pub async fn list(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let page = page_number(query.page);
    let mut conn = state.pool.get().await?;
    let (rows, total) =
        reviews::queue(&mut conn, &viewer, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    render(&QueuePage {
        ctx,
        rows,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

/// A proposed item row of the review form.
#[derive(Debug, Clone, Default)]
pub struct ProposalRow {
    pub n: usize,
    pub file: bool,
    pub title: String,
    pub details: String,
    pub kind: String,
    pub model: String,
    pub priority: String,
    pub owner: String,
    pub due_on: String,
}

impl ProposalRow {
    fn is_blank(&self) -> bool {
        self.title.trim().is_empty()
    }

    fn proposal(&self) -> Result<Proposal, FieldError> {
        let owner = match self.owner.trim() {
            "" => None,
            id => Some(
                id.parse::<i64>()
                    .map_err(|_| FieldError::new("owner", "choose the owner from the list"))?,
            ),
        };
        Ok(Proposal {
            item: ItemInput {
                title: self.title.clone(),
                details: self.details.clone(),
                kind: self.kind.clone(),
                priority: self.priority.clone(),
                due_on: self.due_on.clone(),
            },
            model_key: self.model.clone(),
            owner,
        })
    }
}

/// The review form as posted: the answers, the proposed items, the button.
#[derive(Debug, Clone, Default)]
pub struct ReviewForm {
    pub input: ReviewInput,
    pub proposals: Vec<ProposalRow>,
    pub action: String,
}

impl ReviewForm {
    pub fn read(pairs: Vec<(String, String)>) -> Self {
        let mut form = ReviewForm {
            proposals: (0..PROPOSALS)
                .map(|n| ProposalRow {
                    n,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        for (name, value) in pairs {
            let i = &mut form.input;
            match name.as_str() {
                "what_happened" => i.what_happened = value,
                "model_linked" => i.model_linked = value,
                "model_worked" => i.model_worked = value,
                "step_detail" => i.step_detail = value,
                "escalation" => i.escalation = value,
                "recommendations" => i.recommendations = value,
                "action" => form.action = value,
                other => {
                    let Some((n, field)) = other
                        .strip_prefix('p')
                        .and_then(|rest| rest.split_once('_'))
                        .and_then(|(n, f)| Some((n.parse::<usize>().ok()?, f)))
                    else {
                        continue;
                    };
                    let Some(row) = form.proposals.get_mut(n) else {
                        continue;
                    };
                    match field {
                        "file" => row.file = value == "on" || value == "1",
                        "title" => row.title = value,
                        "details" => row.details = value,
                        "kind" => row.kind = value,
                        "model" => row.model = value,
                        "priority" => row.priority = value,
                        "owner" => row.owner = value,
                        "due" => row.due_on = value,
                        _ => {}
                    }
                }
            }
        }
        form
    }

    /// The ticked, non-blank proposals.
    fn chosen(&self) -> Result<Vec<Proposal>, FieldError> {
        self.proposals
            .iter()
            .filter(|p| p.file && !p.is_blank())
            .map(ProposalRow::proposal)
            .collect()
    }
}

/// What the form starts with: the saved draft, or proposals from "no model
/// fits" links.
fn initial_form(facts: &Facts, review: Option<&ReviewRow>) -> ReviewForm {
    let mut proposals: Vec<ProposalRow> = facts
        .missing_models()
        .into_iter()
        .take(PROPOSALS)
        .map(|missing| {
            let first_line = missing.lines().next().unwrap_or_default();
            let title: String = format!("Write a model: {first_line}")
                .chars()
                .take(200)
                .collect();
            ProposalRow {
                file: true,
                title,
                details: missing.to_owned(),
                kind: Kind::NewModel.as_str().to_owned(),
                priority: "3".to_owned(),
                ..Default::default()
            }
        })
        .collect();
    while proposals.len() < PROPOSALS {
        proposals.push(ProposalRow {
            priority: "3".to_owned(),
            ..Default::default()
        });
    }
    for (n, p) in proposals.iter_mut().enumerate() {
        p.n = n;
    }
    ReviewForm {
        input: review.map(|r| r.review.input()).unwrap_or_default(),
        proposals,
        action: String::new(),
    }
}

pub struct Timing {
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "reviews/show.html")]
struct ShowPage {
    ctx: Ctx,
    facts: Facts,
    timings: Vec<Timing>,
    review: Option<ReviewRow>,
    filed: Vec<ItemRow>,
    form: ReviewForm,
    error: Option<FieldError>,
    /// The review someone else submitted while this person was writing.
    conflict: Option<String>,
    owners: Vec<(i64, String)>,
    kinds: &'static [Kind],
    linked_choices: &'static [ModelLinked],
    worked_choices: &'static [ModelWorked],
    escalation_choices: &'static [EscalationVerdict],
    priorities: [Priority; 4],
}

impl ShowPage {
    fn outcome_label(outcome: &str) -> &'static str {
        crate::web::tickets::view::outcome_label(outcome)
    }

    fn submitted(review: &Option<ReviewRow>) -> bool {
        review.as_ref().is_some_and(|r| r.review.is_submitted())
    }
}

async fn show_page(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    id: TicketId,
    form: Option<ReviewForm>,
    error: Option<FieldError>,
    conflict: Option<String>,
) -> Result<ShowPage, AppError> {
    let mut conn = state.pool.get().await?;
    let facts = reviews::facts(&mut conn, viewer, id).await?;
    let review = reviews::find(&mut conn, viewer, id).await?;
    let filed = match &review {
        Some(r) => {
            let filter = improvements::Filter {
                review: Some(r.review.id),
                all_statuses: true,
                ..Default::default()
            };
            improvements::list(&mut conn, viewer, &filter, 0, 100)
                .await?
                .0
        }
        None => Vec::new(),
    };
    let timing = |label, d: Option<chrono::Duration>| Timing {
        label,
        value: d.map(describe_duration).unwrap_or_else(|| "—".to_owned()),
    };
    let timings = vec![
        timing("to triage", facts.to_triage),
        timing("to the first public reply", facts.to_first_reply),
        timing("to resolve", facts.to_resolve),
    ];
    let form = form.unwrap_or_else(|| initial_form(&facts, review.as_ref()));
    Ok(ShowPage {
        ctx,
        timings,
        filed,
        form,
        error,
        conflict,
        owners: improvements::possible_owners(&mut conn).await?,
        kinds: Kind::ALL,
        linked_choices: ModelLinked::ALL,
        worked_choices: ModelWorked::ALL,
        escalation_choices: EscalationVerdict::ALL,
        priorities: Priority::ALL,
        facts,
        review,
    })
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let page = show_page(
        &state,
        ctx,
        &viewer,
        TicketId(path.into_inner()),
        None,
        None,
        None,
    )
    .await?;
    render(&page)
}

/// Saves the draft or submits, as the button says.
pub async fn save(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let id = TicketId(path.into_inner());
    let form = ReviewForm::read(form.into_inner());
    let mut conn = state.pool.get().await?;
    let result = if form.action == "submit" {
        match form.chosen() {
            Ok(proposals) => reviews::submit(&mut conn, &viewer, id, &form.input, &proposals)
                .await
                .map(|s| ("review-submitted", s.review.ticket_id)),
            Err(e) => Err(ReviewError::Invalid(e)),
        }
    } else {
        reviews::save_draft(&mut conn, &viewer, id, &form.input)
            .await
            .map(|r| ("review-draft-saved", r.ticket_id))
    };
    drop(conn);
    finish(result, &state, ctx, &viewer, id, Some(form)).await
}

async fn finish(
    result: Result<(&'static str, i64), ReviewError>,
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    id: TicketId,
    form: Option<ReviewForm>,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok((notice, ticket)) => Ok(see_other(&format!("/reviews/{ticket}?notice={notice}"))),
        Err(e @ ReviewError::AlreadySubmitted { .. }) => {
            let page = show_page(state, ctx, viewer, id, form, None, Some(e.to_string())).await?;
            render_status(&page, StatusCode::CONFLICT)
        }
        Err(ReviewError::Invalid(e)) => {
            let page = show_page(state, ctx, viewer, id, form, Some(e), None).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e @ ReviewError::NotReviewable(_)) => {
            let error = FieldError::new("review", e.to_string());
            let page = show_page(state, ctx, viewer, id, form, Some(error), None).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

/// "Model worked, nothing to add."
pub async fn routine(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let id = TicketId(path.into_inner());
    let mut conn = state.pool.get().await?;
    let result = reviews::submit_routine(&mut conn, &viewer, id)
        .await
        .map(|s| ("review-submitted", s.review.ticket_id));
    drop(conn);
    finish(result, &state, ctx, &viewer, id, None).await
}
