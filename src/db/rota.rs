//! The triage rota: assignments, swaps (recorded with who agreed), the
//! per-person calendar feed, and sampled triage reviews with each week's
//! triage-quality score. One transaction per action.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

use crate::db::audit::{self, Event};
use crate::db::schema::{
    calendar_feeds, rota_swaps, rota_weeks, ticket_transitions, tickets, triage_reviews, users,
};
use crate::domain::FieldError;
use crate::domain::account::Role;
use crate::domain::policy::Viewer;
use crate::domain::rota as rules;

#[derive(Debug, thiserror::Error)]
pub enum RotaError {
    #[error("the rota is for the team only")]
    Forbidden,
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

pub fn may_see(viewer: &Viewer) -> bool {
    viewer.role.is_staff()
}

/// Managers and admins plan the rota.
pub fn may_assign(viewer: &Viewer) -> bool {
    matches!(viewer.role, Role::Manager | Role::Admin)
}

/// A week of the rota page.
#[derive(Debug, Clone)]
pub struct WeekRow {
    pub week: NaiveDate,
    pub triager: Option<(i64, String)>,
    pub score: Option<i16>,
    pub reviewed: usize,
}

impl WeekRow {
    pub fn has(&self, person: &i64) -> bool {
        self.triager.as_ref().is_some_and(|(id, _)| id == person)
    }

    pub fn triager_name(&self) -> &str {
        self.triager.as_ref().map_or("", |(_, n)| n.as_str())
    }
}

fn guard(viewer: &Viewer) -> Result<(), RotaError> {
    if may_see(viewer) {
        Ok(())
    } else {
        Err(RotaError::Forbidden)
    }
}

/// The weeks from `first` on, with their triager and score.
pub async fn weeks(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    first: NaiveDate,
    count: usize,
) -> Result<Vec<WeekRow>, RotaError> {
    guard(viewer)?;
    let weeks = rules::weeks_from(first, count);
    let (start, end) = (weeks[0], weeks[weeks.len() - 1]);
    let assigned: Vec<(NaiveDate, i64, String)> = rota_weeks::table
        .inner_join(users::table.on(users::id.eq(rota_weeks::triager_id)))
        .filter(rota_weeks::week_start.between(start, end))
        .select((rota_weeks::week_start, users::id, users::display_name))
        .load(conn)
        .await?;
    let scores: Vec<(NaiveDate, Option<i16>)> = triage_reviews::table
        .filter(triage_reviews::week_start.between(start, end))
        .select((triage_reviews::week_start, triage_reviews::score))
        .load(conn)
        .await?;
    Ok(weeks
        .into_iter()
        .map(|week| {
            let of_week: Vec<i16> = scores
                .iter()
                .filter(|(w, _)| *w == week)
                .filter_map(|(_, s)| *s)
                .collect();
            WeekRow {
                week,
                triager: assigned
                    .iter()
                    .find(|(w, _, _)| *w == week)
                    .map(|(_, id, name)| (*id, name.clone())),
                score: rules::week_score(&of_week),
                reviewed: scores.iter().filter(|(w, _)| *w == week).count(),
            }
        })
        .collect())
}

/// Who triages the week of `today`; `None` for customers and unplanned weeks.
pub async fn current_triager(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    today: NaiveDate,
) -> QueryResult<Option<String>> {
    if !may_see(viewer) {
        return Ok(None);
    }
    rota_weeks::table
        .inner_join(users::table.on(users::id.eq(rota_weeks::triager_id)))
        .filter(rota_weeks::week_start.eq(rules::week_of(today)))
        .select(users::display_name)
        .first(conn)
        .await
        .optional()
}

async fn active_staff_name(conn: &mut AsyncPgConnection, user: i64) -> Result<String, RotaError> {
    crate::db::tickets::staff(conn)
        .await?
        .into_iter()
        .find(|(id, _)| *id == user)
        .map(|(_, name)| name)
        .ok_or_else(|| FieldError::new("triager", "choose an active member of the team").into())
}

/// Makes `triager` the triager of `week` (any day of it).
pub async fn assign(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    week: &str,
    triager: Option<i64>,
    today: NaiveDate,
) -> Result<NaiveDate, RotaError> {
    if !may_assign(viewer) {
        return Err(RotaError::Forbidden);
    }
    let week = rules::parse_week("week", week)?;
    rules::check_not_past("week", week, today)?;
    let triager =
        triager.ok_or_else(|| FieldError::new("triager", "choose who triages that week"))?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let name = active_staff_name(conn, triager).await?;
        diesel::insert_into(rota_weeks::table)
            .values((
                rota_weeks::week_start.eq(week),
                rota_weeks::triager_id.eq(triager),
                rota_weeks::assigned_by.eq(viewer.user.0),
            ))
            .on_conflict(rota_weeks::week_start)
            .do_update()
            .set((
                rota_weeks::triager_id.eq(triager),
                rota_weeks::assigned_by.eq(viewer.user.0),
                rota_weeks::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        audit::record(
            conn,
            Event {
                actor: Some(viewer.user),
                action: "rota.assigned",
                subject: format!("week:{week}"),
                client_addr: None,
                detail: json!({ "triager": triager, "name": name }),
            },
        )
        .await?;
        Ok(week)
    })
    .await
}

/// Swaps the triagers of two weeks. One of the two triagers asks (the other
/// must have agreed, and is recorded as agreeing), or a manager decides.
pub async fn swap(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    week_a: &str,
    week_b: &str,
    agreed: bool,
    today: NaiveDate,
) -> Result<(), RotaError> {
    guard(viewer)?;
    let a = rules::parse_week("week_a", week_a)?;
    let b = rules::parse_week("week_b", week_b)?;
    if a == b {
        return Err(FieldError::new("week_b", "choose two different weeks").into());
    }
    rules::check_not_past("week_a", a, today)?;
    rules::check_not_past("week_b", b, today)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let rows: Vec<(NaiveDate, i64)> = rota_weeks::table
            .filter(rota_weeks::week_start.eq_any([a, b]))
            .select((rota_weeks::week_start, rota_weeks::triager_id))
            .order(rota_weeks::week_start.asc())
            .for_update()
            .load(conn)
            .await?;
        let who = |w: NaiveDate| rows.iter().find(|(x, _)| *x == w).map(|(_, u)| *u);
        let user_a =
            who(a).ok_or_else(|| FieldError::new("week_a", "nobody triages that week yet"))?;
        let user_b =
            who(b).ok_or_else(|| FieldError::new("week_b", "nobody triages that week yet"))?;
        if user_a == user_b {
            return Err(FieldError::new("week_b", "the same person triages both weeks").into());
        }
        let agreed_by = if viewer.user.0 == user_a || viewer.user.0 == user_b {
            if !agreed {
                return Err(FieldError::new(
                    "agreed",
                    "a swap needs the other person's agreement: tick that they agreed",
                )
                .into());
            }
            if viewer.user.0 == user_a {
                user_b
            } else {
                user_a
            }
        } else if may_assign(&viewer) {
            viewer.user.0
        } else {
            return Err(FieldError::new("week_a", "you can swap only your own weeks").into());
        };
        for (week, to) in [(a, user_b), (b, user_a)] {
            diesel::update(rota_weeks::table.find(week))
                .set((
                    rota_weeks::triager_id.eq(to),
                    rota_weeks::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
        }
        diesel::insert_into(rota_swaps::table)
            .values((
                rota_swaps::week_a.eq(a),
                rota_swaps::week_b.eq(b),
                rota_swaps::user_a.eq(user_a),
                rota_swaps::user_b.eq(user_b),
                rota_swaps::agreed_by.eq(agreed_by),
                rota_swaps::recorded_by.eq(viewer.user.0),
            ))
            .execute(conn)
            .await?;
        audit::record(
            conn,
            Event {
                actor: Some(viewer.user),
                action: "rota.swapped",
                subject: format!("weeks:{a},{b}"),
                client_addr: None,
                detail: json!({ "user_a": user_a, "user_b": user_b, "agreed_by": agreed_by }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// A recorded swap: (week a, week b, who had a, who had b, who agreed, when).
pub type SwapRow = (NaiveDate, NaiveDate, String, String, String, DateTime<Utc>);

pub async fn swaps(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    limit: i64,
) -> Result<Vec<SwapRow>, RotaError> {
    guard(viewer)?;
    let (ua, ub, ag) = diesel::alias!(users as ua, users as ub, users as ag);
    Ok(rota_swaps::table
        .inner_join(ua.on(ua.field(users::id).eq(rota_swaps::user_a)))
        .inner_join(ub.on(ub.field(users::id).eq(rota_swaps::user_b)))
        .inner_join(ag.on(ag.field(users::id).eq(rota_swaps::agreed_by)))
        .select((
            rota_swaps::week_a,
            rota_swaps::week_b,
            ua.field(users::display_name),
            ub.field(users::display_name),
            ag.field(users::display_name),
            rota_swaps::at,
        ))
        .order(rota_swaps::id.desc())
        .limit(limit)
        .load(conn)
        .await?)
}

/// Stores the hash of a new calendar secret for the viewer, replacing any
/// earlier one (whose URL stops working).
pub async fn set_calendar_feed(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    token_hash: &str,
) -> Result<(), RotaError> {
    guard(viewer)?;
    diesel::insert_into(calendar_feeds::table)
        .values((
            calendar_feeds::user_id.eq(viewer.user.0),
            calendar_feeds::token_hash.eq(token_hash),
        ))
        .on_conflict(calendar_feeds::user_id)
        .do_update()
        .set((
            calendar_feeds::token_hash.eq(token_hash),
            calendar_feeds::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The person a calendar secret belongs to (still active staff), and their
/// weeks from `from` on.
pub async fn calendar(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
    from: NaiveDate,
) -> QueryResult<Option<(String, Vec<NaiveDate>)>> {
    let owner: Option<(i64, String)> = calendar_feeds::table
        .inner_join(users::table)
        .filter(calendar_feeds::token_hash.eq(token_hash))
        .filter(users::disabled.eq(false))
        .filter(users::role.ne("customer"))
        .select((users::id, users::display_name))
        .first(conn)
        .await
        .optional()?;
    let Some((id, name)) = owner else {
        return Ok(None);
    };
    let weeks = rota_weeks::table
        .filter(rota_weeks::triager_id.eq(id))
        .filter(rota_weeks::week_start.ge(from))
        .select(rota_weeks::week_start)
        .order(rota_weeks::week_start.asc())
        .load(conn)
        .await?;
    Ok(Some((name, weeks)))
}

/// A sampled ticket of a week and its triage review, if done.
#[derive(Debug, Clone)]
pub struct SampleRow {
    pub ticket: i64,
    pub title: String,
    pub reviewed_score: Option<Option<i16>>,
}

impl SampleRow {
    pub fn is_reviewed(&self) -> bool {
        self.reviewed_score.is_some()
    }
}

fn week_bounds(week: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = week.and_time(NaiveTime::MIN).and_utc();
    (start, start + Duration::weeks(1))
}

/// The week's triager and the stable sample of the tickets they triaged
/// that week.
pub async fn sample(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    week: NaiveDate,
    size: usize,
) -> Result<(Option<(i64, String)>, Vec<SampleRow>), RotaError> {
    guard(viewer)?;
    let week = rules::week_of(week);
    let triager: Option<(i64, String)> = rota_weeks::table
        .inner_join(users::table.on(users::id.eq(rota_weeks::triager_id)))
        .filter(rota_weeks::week_start.eq(week))
        .select((users::id, users::display_name))
        .first(conn)
        .await
        .optional()?;
    let Some((triager_id, _)) = triager else {
        return Ok((None, Vec::new()));
    };
    let (start, end) = week_bounds(week);
    let candidates: Vec<i64> = ticket_transitions::table
        .filter(ticket_transitions::to_status.eq("triaged"))
        .filter(ticket_transitions::by_id.eq(triager_id))
        .filter(ticket_transitions::at.ge(start))
        .filter(ticket_transitions::at.lt(end))
        .select(ticket_transitions::ticket_id)
        .distinct()
        .load(conn)
        .await?;
    let chosen = rules::sample(&candidates, week, size);
    let titles: Vec<(i64, String)> = tickets::table
        .filter(tickets::id.eq_any(&chosen))
        .select((tickets::id, tickets::title))
        .load(conn)
        .await?;
    let done: Vec<(i64, Option<i16>)> = triage_reviews::table
        .filter(triage_reviews::ticket_id.eq_any(&chosen))
        .select((triage_reviews::ticket_id, triage_reviews::score))
        .load(conn)
        .await?;
    let rows = chosen
        .iter()
        .map(|id| SampleRow {
            ticket: *id,
            title: titles
                .iter()
                .find(|(t, _)| t == id)
                .map(|(_, s)| s.clone())
                .unwrap_or_default(),
            reviewed_score: done.iter().find(|(t, _)| t == id).map(|(_, s)| *s),
        })
        .collect();
    Ok((triager, rows))
}

/// Grades the triage of one sampled ticket.
pub async fn review_triage(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    week: &str,
    ticket: i64,
    answers: [&str; 5],
    comment: &str,
    sample_size: usize,
) -> Result<Option<i16>, RotaError> {
    guard(viewer)?;
    let week = rules::parse_week("week", week)?;
    let grades = rules::grades(answers)?;
    let comment = comment.trim().to_owned();
    if comment.chars().count() > 2000 {
        return Err(FieldError::new("comment", "must be at most 2000 characters").into());
    }
    let score = rules::score(&grades);
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let (triager, rows) = sample(conn, &viewer, week, sample_size).await?;
        let Some((triager_id, _)) = triager else {
            return Err(FieldError::new("week", "nobody was on the rota that week").into());
        };
        let row = rows.iter().find(|r| r.ticket == ticket).ok_or_else(|| {
            FieldError::new(
                "ticket",
                format!("ticket #{ticket} is not in that week's sample"),
            )
        })?;
        if row.is_reviewed() {
            return Err(FieldError::new(
                "ticket",
                format!("the triage of ticket #{ticket} is already reviewed"),
            )
            .into());
        }
        let g = |i: usize| grades[i].as_str();
        diesel::insert_into(triage_reviews::table)
            .values((
                triage_reviews::ticket_id.eq(ticket),
                triage_reviews::week_start.eq(week),
                triage_reviews::triager_id.eq(triager_id),
                triage_reviews::reviewer_id.eq(viewer.user.0),
                triage_reviews::right_model.eq(g(0)),
                triage_reviews::duplicates_checked.eq(g(1)),
                triage_reviews::searches_good.eq(g(2)),
                triage_reviews::reply_fast.eq(g(3)),
                triage_reviews::escalated_right.eq(g(4)),
                triage_reviews::comment.eq(&comment),
                triage_reviews::score.eq(score),
            ))
            .on_conflict(triage_reviews::ticket_id)
            .do_nothing()
            .execute(conn)
            .await
            .and_then(|n| {
                if n == 1 {
                    Ok(())
                } else {
                    Err(diesel::result::Error::RollbackTransaction)
                }
            })
            .map_err(|e| match e {
                diesel::result::Error::RollbackTransaction => RotaError::Invalid(FieldError::new(
                    "ticket",
                    "someone reviewed this triage a moment ago",
                )),
                e => e.into(),
            })?;
        audit::record(
            conn,
            Event {
                actor: Some(viewer.user),
                action: "rota.triage_reviewed",
                subject: format!("ticket:{ticket}"),
                client_addr: None,
                detail: json!({ "week": week, "triager": triager_id, "score": score }),
            },
        )
        .await?;
        Ok(score)
    })
    .await
}
