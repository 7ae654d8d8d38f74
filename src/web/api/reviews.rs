//! `/api/v1/reviews`: submitted reviews, a ticket's review with its facts,
//! and the same review actions as the pages (draft, submit, routine).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::db::reviews::{self, Proposal, ReviewError};
use crate::domain::improvement::ItemInput;
use crate::domain::review::ReviewInput;
use crate::domain::ticket::TicketId;
use crate::web::api::improvements::priority_text;
use crate::web::auth::{SignedIn, problem};
use crate::web::error::ApiError;
use crate::web::reviews::{PAGE_SIZE, PageQuery, page_number};

pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let page = page_number(query.page);
    let mut conn = state.pool.get().await?;
    let (rows, total) =
        reviews::submitted(&mut conn, &viewer, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    let (queue, queue_total) = reviews::queue(&mut conn, &viewer, 0, PAGE_SIZE).await?;
    Ok(HttpResponse::Ok().json(json!({
        "reviews": rows.iter().map(|r| r.review.json(&r.reviewer)).collect::<Vec<_>>(),
        "total": total,
        "page": page,
        "per_page": PAGE_SIZE,
        "queue": queue.iter().map(|q| json!({
            "ticket_id": q.id,
            "title": q.title,
            "status": q.status,
            "created_at": q.created_at.to_rfc3339(),
            "draft_by": q.draft_by,
        })).collect::<Vec<_>>(),
        "queue_total": queue_total,
    })))
}

pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let id = TicketId(path.into_inner());
    let mut conn = state.pool.get().await?;
    let facts = reviews::facts(&mut conn, &viewer, id).await?;
    let review = reviews::find(&mut conn, &viewer, id).await?;
    let minutes = |d: Option<chrono::Duration>| d.map(|d| d.num_minutes());
    Ok(HttpResponse::Ok().json(json!({
        "ticket_id": id.0,
        "review": review.as_ref().map(|r| r.review.json(&r.reviewer)),
        "facts": {
            "links": facts.links.iter().map(|l| json!({
                "model": l.key, "revision": l.revision, "outcome": l.outcome, "missing": l.missing,
            })).collect::<Vec<_>>(),
            "escalations": facts.escalations.iter().map(|e| json!({
                "from": e.from, "to": e.to(), "followed_model": e.followed_model,
                "step_reached": e.step_reached, "reason": e.reason, "at": e.at.to_rfc3339(),
            })).collect::<Vec<_>>(),
            "triage_searches": facts.searches.iter().map(|s| json!({
                "query": s.query, "results": s.keys(), "picked": s.picked, "by": s.who,
            })).collect::<Vec<_>>(),
            "minutes_to_triage": minutes(facts.to_triage),
            "minutes_to_first_public_reply": minutes(facts.to_first_reply),
            "minutes_to_resolve": minutes(facts.to_resolve),
        },
    })))
}

#[derive(Deserialize, Default)]
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
    #[serde(default)]
    due_on: String,
    priority: Option<Value>,
}

#[derive(Deserialize)]
pub struct ReviewJson {
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

pub async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    body: web::Json<ReviewJson>,
) -> Result<HttpResponse, ApiError> {
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
            let mut out = review.json(&name);
            out["improvements"] = json!(items);
            Ok(HttpResponse::Ok().json(out))
        }
        Err(e @ ReviewError::AlreadySubmitted { .. }) => Ok(problem(
            StatusCode::CONFLICT,
            "Already submitted",
            &e.to_string(),
            Some("review"),
        )),
        Err(e) => Err(e.into()),
    }
}
