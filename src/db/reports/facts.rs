//! The raw facts the measures read, as stored: what the plain-Rust
//! reference (`domain::report::reference`) computes from in the tests.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::result::QueryResult;
use diesel::sql_types::{Int2, Int8, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::report::reference::{
    EscalationFact, Facts, LinkFact, ModelFact, SearchFact, TicketFact, TransitionFact,
};

#[derive(QueryableByName)]
struct TicketSql {
    #[diesel(sql_type = Int8)]
    id: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    category: String,
    #[diesel(sql_type = Int2)]
    priority: i16,
    #[diesel(sql_type = Nullable<Int8>)]
    organization_id: Option<i64>,
    #[diesel(sql_type = Nullable<Int8>)]
    assignee_id: Option<i64>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Int8>)]
    duplicate_of: Option<i64>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct TransitionSql {
    #[diesel(sql_type = Int8)]
    id: i64,
    #[diesel(sql_type = Int8)]
    ticket_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    from_status: Option<String>,
    #[diesel(sql_type = Text)]
    to_status: String,
    #[diesel(sql_type = Nullable<Int8>)]
    by_id: Option<i64>,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct LinkFactSql {
    #[diesel(sql_type = Int8)]
    ticket_id: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    model_id: Option<i64>,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct EscalationSql {
    #[diesel(sql_type = Int8)]
    ticket_id: i64,
    #[diesel(sql_type = Text)]
    followed_model: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct ReplySql {
    #[diesel(sql_type = Int8)]
    ticket_id: i64,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct SearchFactSql {
    #[diesel(sql_type = Int8)]
    ticket_id: i64,
    #[diesel(sql_type = Text)]
    query: String,
    #[diesel(sql_type = Jsonb)]
    results: serde_json::Value,
    #[diesel(sql_type = Nullable<Text>)]
    picked: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct ModelFactSql {
    #[diesel(sql_type = Int8)]
    id: i64,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    category: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    owner: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    verified_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct IdSql {
    #[diesel(sql_type = Int8)]
    id: i64,
}

#[derive(QueryableByName)]
struct RotaSql {
    #[diesel(sql_type = diesel::sql_types::Date)]
    week_start: chrono::NaiveDate,
    #[diesel(sql_type = Int8)]
    triager_id: i64,
}

#[derive(QueryableByName)]
struct TriageReviewSql {
    #[diesel(sql_type = Int8)]
    ticket_id: i64,
    #[diesel(sql_type = diesel::sql_types::Date)]
    week_start: chrono::NaiveDate,
    #[diesel(sql_type = Int8)]
    triager_id: i64,
    #[diesel(sql_type = Nullable<Int2>)]
    score: Option<i16>,
}

#[derive(QueryableByName)]
struct ImprovementSql {
    #[diesel(sql_type = Nullable<Int8>)]
    model_id: Option<i64>,
    #[diesel(sql_type = Text)]
    status: String,
}

#[derive(QueryableByName)]
struct UserSql {
    #[diesel(sql_type = Int8)]
    id: i64,
    #[diesel(sql_type = Text)]
    display_name: String,
}

/// Every raw fact the measures read, as stored (whole tables: for tests
/// and checks on small data, never for a page).
pub async fn facts(conn: &mut AsyncPgConnection) -> QueryResult<Facts> {
    let tickets: Vec<TicketSql> = diesel::sql_query(
        "SELECT id, title, category, priority, organization_id, assignee_id, status, duplicate_of, created_at FROM tickets",
    )
    .load(conn)
    .await?;
    let excluded: Vec<IdSql> = diesel::sql_query("SELECT ticket_id AS id FROM metric_exclusions")
        .load(conn)
        .await?;
    let transitions: Vec<TransitionSql> = diesel::sql_query(
        "SELECT id, ticket_id, from_status, to_status, by_id, at FROM ticket_transitions",
    )
    .load(conn)
    .await?;
    let links: Vec<LinkFactSql> =
        diesel::sql_query("SELECT ticket_id, model_id, outcome, created_at FROM ticket_models")
            .load(conn)
            .await?;
    let escalations: Vec<EscalationSql> =
        diesel::sql_query("SELECT ticket_id, followed_model, created_at FROM escalations")
            .load(conn)
            .await?;
    let replies: Vec<ReplySql> = diesel::sql_query(
        "SELECT j.ticket_id, j.created_at FROM journal_entries j JOIN users u ON u.id = j.author_id
         WHERE j.kind = 'reply' AND j.visibility = 'public' AND u.role <> 'customer'",
    )
    .load(conn)
    .await?;
    let searches: Vec<SearchFactSql> = diesel::sql_query(
        "SELECT ticket_id, query, results, picked, created_at FROM triage_searches",
    )
    .load(conn)
    .await?;
    let models: Vec<ModelFactSql> = diesel::sql_query(
        "SELECT m.id, m.key, m.title, m.category, m.status, u.display_name AS owner, m.verified_at, m.created_at
         FROM incident_models m LEFT JOIN users u ON u.id = m.owner_id",
    )
    .load(conn)
    .await?;
    let users: Vec<UserSql> = diesel::sql_query("SELECT id, display_name FROM users")
        .load(conn)
        .await?;
    let rota: Vec<RotaSql> = diesel::sql_query("SELECT week_start, triager_id FROM rota_weeks")
        .load(conn)
        .await?;
    let reviews: Vec<TriageReviewSql> =
        diesel::sql_query("SELECT ticket_id, week_start, triager_id, score FROM triage_reviews")
            .load(conn)
            .await?;
    let improvements: Vec<ImprovementSql> =
        diesel::sql_query("SELECT model_id, status FROM improvements")
            .load(conn)
            .await?;
    Ok(Facts {
        tickets: tickets
            .into_iter()
            .map(|t| TicketFact {
                id: t.id,
                title: t.title,
                category: t.category,
                priority: t.priority,
                organization: t.organization_id,
                assignee: t.assignee_id,
                status: t.status,
                duplicate_of: t.duplicate_of,
                created_at: t.created_at,
            })
            .collect(),
        excluded: excluded.into_iter().map(|e| e.id).collect(),
        transitions: transitions
            .into_iter()
            .map(|t| TransitionFact {
                id: t.id,
                ticket: t.ticket_id,
                from: t.from_status,
                to: t.to_status,
                by: t.by_id,
                at: t.at,
            })
            .collect(),
        links: links
            .into_iter()
            .map(|l| LinkFact {
                ticket: l.ticket_id,
                model: l.model_id,
                outcome: l.outcome,
                at: l.created_at,
            })
            .collect(),
        escalations: escalations
            .into_iter()
            .map(|e| EscalationFact {
                ticket: e.ticket_id,
                followed: e.followed_model,
                at: e.created_at,
            })
            .collect(),
        staff_replies: replies
            .into_iter()
            .map(|r| (r.ticket_id, r.created_at))
            .collect(),
        searches: searches
            .into_iter()
            .map(|s| SearchFact {
                ticket: s.ticket_id,
                query: s.query,
                results: s
                    .results
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|r| r["key"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                picked: s.picked,
                at: s.created_at,
            })
            .collect(),
        models: models
            .into_iter()
            .map(|m| ModelFact {
                id: m.id,
                key: m.key,
                title: m.title,
                category: m.category,
                status: m.status,
                owner: m.owner,
                verified_at: m.verified_at,
                created_at: m.created_at,
            })
            .collect(),
        users: users.into_iter().map(|u| (u.id, u.display_name)).collect(),
        improvements: improvements
            .into_iter()
            .map(|i| (i.model_id, i.status))
            .collect(),
        rota: rota
            .into_iter()
            .map(|r| (r.week_start, r.triager_id))
            .collect(),
        triage_reviews: reviews
            .into_iter()
            .map(|r| (r.ticket_id, r.week_start, r.triager_id, r.score))
            .collect(),
    })
}
