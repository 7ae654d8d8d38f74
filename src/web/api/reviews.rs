//! `/api/v1/reviews`: submitted reviews, a ticket's review with its facts,
//! and the same review actions as the pages (draft, submit, routine).

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::reviews::{self, Proposal, Review, ReviewError};
use crate::domain::improvement::ItemInput;
use crate::domain::review::ReviewInput;
use crate::domain::ticket::TicketId;
use crate::web::api::improvements::priority_text;
use crate::web::auth::SignedIn;
use crate::web::error::{ApiError, AppError};
use crate::web::reviews::{PAGE_SIZE, PageQuery, page_number};

/// A post-incident review (draft or submitted).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewJson {
    pub id: i64,
    pub ticket_id: i64,
    pub reviewer_id: i64,
    pub reviewer: String,
    /// draft or submitted.
    pub status: String,
    pub what_happened: String,
    pub model_linked: Option<String>,
    pub model_worked: Option<String>,
    pub step_detail: String,
    pub escalation: Option<String>,
    pub recommendations: String,
    pub created_at: String,
    pub updated_at: String,
    pub submitted_at: Option<String>,
}

impl ReviewJson {
    fn new(r: &Review, reviewer: &str) -> Self {
        Self {
            id: r.id,
            ticket_id: r.ticket_id,
            reviewer_id: r.reviewer_id,
            reviewer: reviewer.to_owned(),
            status: r.status.clone(),
            what_happened: r.what_happened.clone(),
            model_linked: r.model_linked.clone(),
            model_worked: r.model_worked.clone(),
            step_detail: r.step_detail.clone(),
            escalation: r.escalation.clone(),
            recommendations: r.recommendations.clone(),
            created_at: r.created_at.to_rfc3339(),
            updated_at: r.updated_at.to_rfc3339(),
            submitted_at: r.submitted_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A ticket waiting for its review.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedTicket {
    pub ticket_id: i64,
    pub title: String,
    pub status: String,
    pub created_at: String,
    /// Who has a draft of its review.
    pub draft_by: Option<String>,
}

/// Submitted reviews (a page) and the head of the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewList {
    pub reviews: Vec<ReviewJson>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub queue: Vec<QueuedTicket>,
    pub queue_total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkFactJson {
    pub model: Option<String>,
    pub revision: Option<i32>,
    pub outcome: String,
    pub missing: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationFactJson {
    pub from: String,
    pub to: String,
    pub followed_model: String,
    pub step_reached: Option<i32>,
    pub reason: String,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchFactJson {
    pub query: String,
    /// The result keys in rank order.
    pub results: Vec<String>,
    pub picked: Option<String>,
    pub by: String,
}

/// What was recorded on the ticket, for the reviewer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactsJson {
    pub links: Vec<LinkFactJson>,
    pub escalations: Vec<EscalationFactJson>,
    pub triage_searches: Vec<SearchFactJson>,
    pub minutes_to_triage: Option<i64>,
    pub minutes_to_first_public_reply: Option<i64>,
    pub minutes_to_resolve: Option<i64>,
}

/// A ticket's review (if any) and its facts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDetail {
    pub ticket_id: i64,
    pub review: Option<ReviewJson>,
    pub facts: FactsJson,
}

/// A saved review and the improvement items filed with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewSaved {
    #[serde(flatten)]
    pub review: ReviewJson,
    /// Ids of the improvement items filed.
    pub improvements: Vec<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/reviews",
    tag = "reviews",
    params(("page" = Option<i64>, Query, description = "from 1")),
    responses((status = 200, description = "Submitted reviews and the queue", body = ReviewList))
)]
pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<PageQuery>,
) -> Result<web::Json<ReviewList>, ApiError> {
    let viewer = who.0.user.viewer();
    let page = page_number(query.page);
    let mut conn = state.pool.get().await?;
    let (rows, total) =
        reviews::submitted(&mut conn, &viewer, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    let (queue, queue_total) = reviews::queue(&mut conn, &viewer, 0, PAGE_SIZE).await?;
    Ok(web::Json(ReviewList {
        reviews: rows
            .iter()
            .map(|r| ReviewJson::new(&r.review, &r.reviewer))
            .collect(),
        total,
        page,
        per_page: PAGE_SIZE,
        queue: queue
            .iter()
            .map(|q| QueuedTicket {
                ticket_id: q.id,
                title: q.title.clone(),
                status: q.status.clone(),
                created_at: q.created_at.to_rfc3339(),
                draft_by: q.draft_by.clone(),
            })
            .collect(),
        queue_total,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/reviews/{id}",
    tag = "reviews",
    params(("id" = i64, Path, description = "The ticket's number")),
    responses((status = 200, description = "The ticket's review and facts", body = ReviewDetail))
)]
pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<web::Json<ReviewDetail>, ApiError> {
    let viewer = who.0.user.viewer();
    let id = TicketId(path.into_inner());
    let mut conn = state.pool.get().await?;
    let facts = reviews::facts(&mut conn, &viewer, id).await?;
    let review = reviews::find(&mut conn, &viewer, id).await?;
    let minutes = |d: Option<chrono::Duration>| d.map(|d| d.num_minutes());
    Ok(web::Json(ReviewDetail {
        ticket_id: id.0,
        review: review
            .as_ref()
            .map(|r| ReviewJson::new(&r.review, &r.reviewer)),
        facts: FactsJson {
            links: facts
                .links
                .iter()
                .map(|l| LinkFactJson {
                    model: l.key.clone(),
                    revision: l.revision,
                    outcome: l.outcome.clone(),
                    missing: l.missing.clone(),
                })
                .collect(),
            escalations: facts
                .escalations
                .iter()
                .map(|e| EscalationFactJson {
                    from: e.from.clone(),
                    to: e.to().to_owned(),
                    followed_model: e.followed_model.clone(),
                    step_reached: e.step_reached,
                    reason: e.reason.clone(),
                    at: e.at.to_rfc3339(),
                })
                .collect(),
            triage_searches: facts
                .searches
                .iter()
                .map(|s| SearchFactJson {
                    query: s.query.clone(),
                    results: s.keys(),
                    picked: s.picked.clone(),
                    by: s.who.clone(),
                })
                .collect(),
            minutes_to_triage: minutes(facts.to_triage),
            minutes_to_first_public_reply: minutes(facts.to_first_reply),
            minutes_to_resolve: minutes(facts.to_resolve),
        },
    }))
}

/// An improvement item to file with a submitted review.
#[derive(Deserialize, Default, ToSchema)]
pub struct ItemJson {
    #[serde(default)]
    title: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    model: String,
    owner_id: Option<i64>,
    /// YYYY-MM-DD.
    #[serde(default)]
    due_on: String,
    /// 1–4, "1"–"4" or "P1"–"P4".
    #[schema(value_type = Option<String>)]
    priority: Option<Value>,
}

/// A review action: save a draft, submit, or mark routine.
#[derive(Deserialize, ToSchema)]
pub struct ReviewInputJson {
    /// "draft", "submit" or "routine".
    #[serde(default)]
    action: String,
    #[serde(default)]
    what_happened: String,
    #[serde(default)]
    model_linked: String,
    #[serde(default)]
    model_worked: String,
    #[serde(default)]
    step_detail: String,
    #[serde(default)]
    escalation: String,
    #[serde(default)]
    recommendations: String,
    /// Improvement items to file with the submitted review.
    #[serde(default)]
    items: Vec<ItemJson>,
}

#[utoipa::path(
    post,
    path = "/api/v1/reviews/{id}",
    tag = "reviews",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body = ReviewInputJson,
    responses(
        (status = 200, description = "Saved", body = ReviewSaved),
        (status = 409, description = "Someone submitted a review of this ticket first", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    body: web::Json<ReviewInputJson>,
) -> Result<web::Json<ReviewSaved>, ApiError> {
    let viewer = who.0.user.viewer();
    let id = TicketId(path.into_inner());
    let body = body.into_inner();
    let input = ReviewInput {
        what_happened: body.what_happened,
        model_linked: body.model_linked,
        model_worked: body.model_worked,
        step_detail: body.step_detail,
        escalation: body.escalation,
        recommendations: body.recommendations,
    };
    let proposals: Vec<Proposal> = body
        .items
        .into_iter()
        .map(|i| Proposal {
            item: ItemInput {
                title: i.title,
                details: i.details,
                kind: i.kind,
                priority: priority_text(i.priority.as_ref()),
                due_on: i.due_on,
            },
            model_key: i.model,
            owner: i.owner_id,
        })
        .collect();
    let mut conn = state.pool.get().await?;
    let result = match body.action.as_str() {
        "draft" => reviews::save_draft(&mut conn, &viewer, id, &input)
            .await
            .map(|r| (r, Vec::new())),
        "submit" => reviews::submit(&mut conn, &viewer, id, &input, &proposals)
            .await
            .map(|s| (s.review, s.items)),
        "routine" => reviews::submit_routine(&mut conn, &viewer, id)
            .await
            .map(|s| (s.review, s.items)),
        _ => Err(ReviewError::Invalid(crate::domain::FieldError::new(
            "action",
            "say \"draft\", \"submit\" or \"routine\"",
        ))),
    };
    match result {
        Ok((review, items)) => {
            let name = reviews::user_name(&mut conn, viewer.user).await?;
            Ok(web::Json(ReviewSaved {
                review: ReviewJson::new(&review, &name),
                improvements: items,
            }))
        }
        Err(e @ ReviewError::AlreadySubmitted { .. }) => Err(AppError::Conflict {
            title: "Already submitted",
            detail: e.to_string(),
            field: "review",
            current_revision: None,
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}
