//! Improvement items: the one backlog, each item's history, and the debt
//! computed from that history. Every change of an item is one transaction
//! that also adds an `improvement_events` row with the item's state after
//! it; the debt trend replays those rows (see `domain::improvement`).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Date, Nullable, SmallInt, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::db::models::{self, Model};
use crate::db::schema::{debt_weeks, improvement_events, improvements, incident_models, users};
use crate::db::tickets;
use crate::domain::FieldError;
use crate::domain::improvement::{
    self as rules, DebtState, Interval, ItemFields, ItemInput, ItemStatus, Kind,
};
use crate::domain::policy::Viewer;
use crate::domain::ticket::Priority;

/// Everyone on the team sees and files items; customers see none.
pub fn may_see(viewer: &Viewer) -> bool {
    viewer.role.is_staff()
}

#[derive(Debug, thiserror::Error)]
pub enum ImprovementError {
    #[error("not found")]
    NotFound,
    #[error("improvement items are for the team only")]
    Forbidden,
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = improvements)]
pub struct Item {
    pub id: i64,
    pub title: String,
    pub details: String,
    pub kind: String,
    pub model_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub due_on: Option<NaiveDate>,
    pub priority: i16,
    pub status: String,
    pub reason: String,
    pub review_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub resolved_revision: Option<i32>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Item {
    pub fn status(&self) -> ItemStatus {
        self.status.parse().unwrap_or(ItemStatus::Open)
    }

    pub fn kind(&self) -> Kind {
        self.kind.parse().unwrap_or(Kind::Process)
    }

    pub fn priority(&self) -> Priority {
        Priority::new(self.priority).unwrap_or(Priority::ALL[3])
    }

    pub fn is_open(&self) -> bool {
        self.status().is_open()
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        rules::is_overdue(self.due_on, self.is_open(), now)
    }

    /// Templates ask with the current time.
    pub fn overdue_now(&self) -> bool {
        self.is_overdue(Utc::now())
    }

    pub fn due_label(&self) -> String {
        self.due_on.map(|d| d.to_string()).unwrap_or_default()
    }
}

/// An item with the names a list shows.
#[derive(Debug, Clone, Queryable)]
pub struct ItemRow {
    #[diesel(embed)]
    pub item: Item,
    pub owner: Option<String>,
    pub model_key: Option<String>,
    pub model_title: Option<String>,
}

/// A line of an item's history.
#[derive(Debug, Clone, Queryable)]
pub struct EventRow {
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub detail: Value,
}

impl EventRow {
    /// "priority: P3 → P1; owner: … → …" from the recorded changes.
    pub fn describe(&self) -> String {
        let changes = self.detail["changes"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|c| {
                        format!(
                            "{}: {} → {}",
                            c["field"].as_str().unwrap_or(""),
                            c["from"].as_str().unwrap_or("—"),
                            c["to"].as_str().unwrap_or("—")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        match self.action.as_str() {
            "created" => "filed".to_owned(),
            "resolved_by_revision" => format!(
                "done: resolved by revision {} of {}",
                self.detail["revision"],
                self.detail["model"].as_str().unwrap_or("")
            ),
            _ => changes,
        }
    }
}

/// What to create.
pub struct NewItem<'a> {
    pub input: &'a ItemInput,
    pub model_key: &'a str,
    pub owner: Option<i64>,
    pub review: Option<i64>,
    pub ticket: Option<i64>,
}

async fn check_owner(
    conn: &mut AsyncPgConnection,
    owner: Option<i64>,
) -> Result<Option<String>, ImprovementError> {
    let Some(owner) = owner else {
        return Ok(None);
    };
    tickets::staff(conn)
        .await?
        .into_iter()
        .find(|(id, _)| *id == owner)
        .map(|(_, name)| Some(name))
        .ok_or_else(|| {
            FieldError::new(
                "owner",
                "the owner must be an active member of the team (not a customer, not disabled)",
            )
            .into()
        })
}

async fn check_model(
    conn: &mut AsyncPgConnection,
    kind: Kind,
    key: &str,
) -> Result<Option<Model>, ImprovementError> {
    let key = key.trim();
    if key.is_empty() {
        if kind.needs_model() {
            return Err(FieldError::new(
                "model",
                format!(
                    "name the model to {}",
                    kind.label().trim_end_matches(" a model")
                ),
            )
            .into());
        }
        return Ok(None);
    }
    if kind == Kind::NewModel {
        return Err(FieldError::new(
            "model",
            "a new model has no key yet: leave the model empty; the item is done when the model is created from it",
        )
        .into());
    }
    models::find_by_key(conn, key)
        .await?
        .map(Some)
        .ok_or_else(|| {
            FieldError::new("model", format!("no incident model has the key {key:?}")).into()
        })
}

async fn record(
    conn: &mut AsyncPgConnection,
    item: &Item,
    actor: Option<i64>,
    action: &str,
    detail: Value,
) -> QueryResult<()> {
    diesel::insert_into(improvement_events::table)
        .values((
            improvement_events::improvement_id.eq(item.id),
            improvement_events::actor_id.eq(actor),
            improvement_events::action.eq(action),
            improvement_events::detail.eq(detail),
            improvement_events::priority.eq(item.priority),
            improvement_events::status.eq(&item.status),
            improvement_events::due_on.eq(item.due_on),
        ))
        .execute(conn)
        .await?;
    crate::db::deliveries::team_event(
        conn,
        crate::domain::notice::Event::ImprovementChanged,
        item.ticket_id,
        &serde_json::json!({
            "improvement": {
                "id": item.id,
                "title": item.title,
                "kind": item.kind,
                "status": item.status,
                "priority": item.priority,
                "owner_id": item.owner_id,
                "ticket_id": item.ticket_id,
            },
            "action": action,
            "actor_id": actor,
        }),
    )
    .await
}

/// Creates an item inside the caller's transaction (a review's submit).
pub async fn create_in(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    new: NewItem<'_>,
) -> Result<Item, ImprovementError> {
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    let fields = ItemFields::check(new.input)?;
    let model = check_model(conn, fields.kind, new.model_key).await?;
    check_owner(conn, new.owner).await?;
    if let Some(review) = new.review {
        let exists: i64 = crate::db::schema::reviews::table
            .filter(crate::db::schema::reviews::id.eq(review))
            .count()
            .get_result(conn)
            .await?;
        if exists == 0 {
            return Err(FieldError::new("review", format!("there is no review #{review}")).into());
        }
    }
    if let Some(ticket) = new.ticket {
        tickets::find_visible(
            conn,
            crate::domain::ticket::TicketId(ticket),
            crate::domain::policy::TicketScope::All,
        )
        .await?
        .ok_or_else(|| FieldError::new("ticket", format!("there is no ticket #{ticket}")))?;
    }
    let item: Item = diesel::insert_into(improvements::table)
        .values((
            improvements::title.eq(&fields.title),
            improvements::details.eq(&fields.details),
            improvements::kind.eq(fields.kind.as_str()),
            improvements::model_id.eq(model.as_ref().map(|m| m.id)),
            improvements::owner_id.eq(new.owner),
            improvements::due_on.eq(fields.due_on),
            improvements::priority.eq(fields.priority.level()),
            improvements::review_id.eq(new.review),
            improvements::ticket_id.eq(new.ticket),
            improvements::created_by.eq(viewer.user.0),
        ))
        .returning(Item::as_returning())
        .get_result(conn)
        .await?;
    record(conn, &item, Some(viewer.user.0), "created", json!({})).await?;
    Ok(item)
}

/// Files an item directly (not from a review).
pub async fn create(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    new: NewItem<'_>,
) -> Result<Item, ImprovementError> {
    let viewer = *viewer;
    conn.transaction(async move |conn| create_in(conn, &viewer, new).await)
        .await
}

/// A whole edit of an item, as its page's form sends it.
pub struct Update<'a> {
    pub input: &'a ItemInput,
    pub model_key: &'a str,
    pub owner: Option<i64>,
    pub status: &'a str,
    pub reason: &'a str,
}

fn change(changes: &mut Vec<Value>, field: &str, from: String, to: String) {
    if from != to {
        changes.push(json!({ "field": field, "from": from, "to": to }));
    }
}

async fn find_for_update(conn: &mut AsyncPgConnection, id: i64) -> Result<Item, ImprovementError> {
    improvements::table
        .find(id)
        .select(Item::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ImprovementError::NotFound)
}

async fn owner_name(conn: &mut AsyncPgConnection, owner: Option<i64>) -> QueryResult<String> {
    match owner {
        Some(id) => tickets::name_of(conn, id).await,
        None => Ok("nobody".to_owned()),
    }
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: i64,
    update: Update<'_>,
) -> Result<Item, ImprovementError> {
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    let fields = ItemFields::check(update.input)?;
    let status: ItemStatus = update.status.parse()?;
    let reason = rules::check_status_change(status, update.reason)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let before = find_for_update(conn, id).await?;
        let model_id = if fields.kind == Kind::NewModel && before.model_id.is_some() {
            // Done by the model created from it: it keeps pointing there.
            before.model_id
        } else {
            check_model(conn, fields.kind, update.model_key)
                .await?
                .map(|m| m.id)
        };
        if update.owner != before.owner_id {
            check_owner(conn, update.owner).await?;
        }
        let mut changes = Vec::new();
        change(
            &mut changes,
            "title",
            before.title.clone(),
            fields.title.clone(),
        );
        change(
            &mut changes,
            "kind",
            before.kind().label().to_owned(),
            fields.kind.label().to_owned(),
        );
        change(
            &mut changes,
            "priority",
            before.priority().to_string(),
            fields.priority.to_string(),
        );
        change(
            &mut changes,
            "due",
            before.due_label(),
            fields.due_on.map(|d| d.to_string()).unwrap_or_default(),
        );
        change(
            &mut changes,
            "status",
            before.status().label().to_owned(),
            status.label().to_owned(),
        );
        change(
            &mut changes,
            "reason",
            before.reason.clone(),
            reason.clone(),
        );
        change(
            &mut changes,
            "owner",
            owner_name(conn, before.owner_id).await?,
            owner_name(conn, update.owner).await?,
        );
        if before.model_id != model_id {
            let key = |id: Option<i64>| id.map(|i| format!("model #{i}")).unwrap_or_default();
            change(
                &mut changes,
                "model",
                key(before.model_id),
                update.model_key.trim().to_owned(),
            );
        }
        if before.details != fields.details {
            changes.push(json!({ "field": "details", "from": "…", "to": "…" }));
        }
        if changes.is_empty() {
            return Ok(before);
        }
        let resolved_revision = if status == ItemStatus::Done {
            before.resolved_revision
        } else {
            None
        };
        let item: Item = diesel::update(improvements::table.find(id))
            .set((
                improvements::title.eq(&fields.title),
                improvements::details.eq(&fields.details),
                improvements::kind.eq(fields.kind.as_str()),
                improvements::model_id.eq(model_id),
                improvements::owner_id.eq(update.owner),
                improvements::due_on.eq(fields.due_on),
                improvements::priority.eq(fields.priority.level()),
                improvements::status.eq(status.as_str()),
                improvements::reason.eq(&reason),
                improvements::resolved_revision.eq(resolved_revision),
                improvements::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Item::as_returning())
            .get_result(conn)
            .await?;
        record(
            conn,
            &item,
            Some(viewer.user.0),
            "edited",
            json!({ "changes": changes }),
        )
        .await?;
        Ok(item)
    })
    .await
}

/// Sets the priority of several items at once (the backlog's bulk form).
/// Returns how many changed.
pub async fn reprioritise(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    ids: &[i64],
    priority: &str,
) -> Result<usize, ImprovementError> {
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    let priority: Priority = priority.parse()?;
    if ids.is_empty() {
        return Err(FieldError::new("items", "tick the items to re-prioritise").into());
    }
    let ids = ids.to_vec();
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let items: Vec<Item> = improvements::table
            .filter(improvements::id.eq_any(&ids))
            .select(Item::as_select())
            .order(improvements::id.asc())
            .for_update()
            .load(conn)
            .await?;
        if items.len() != ids.iter().collect::<std::collections::BTreeSet<_>>().len() {
            return Err(FieldError::new("items", "some of the ticked items do not exist").into());
        }
        let mut changed = 0;
        for before in items.iter().filter(|i| i.priority != priority.level()) {
            let item: Item = diesel::update(improvements::table.find(before.id))
                .set((
                    improvements::priority.eq(priority.level()),
                    improvements::updated_at.eq(diesel::dsl::now),
                ))
                .returning(Item::as_returning())
                .get_result(conn)
                .await?;
            let detail = json!({ "changes": [{ "field": "priority", "from": before.priority().to_string(), "to": priority.to_string() }] });
            record(conn, &item, Some(viewer.user.0), "priority", detail).await?;
            changed += 1;
        }
        Ok(changed)
    })
    .await
}

/// Marks items done by a model revision, inside the model save's
/// transaction. Every item must be open, of a kind a model save resolves,
/// and about this model (or, for revision 1, an item to write a new model).
pub async fn resolve_by_revision(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    model: &Model,
    revision: i32,
    ids: &[i64],
) -> Result<(), ImprovementError> {
    if ids.is_empty() {
        return Ok(());
    }
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    for &id in ids {
        let before = find_for_update(conn, id).await.map_err(|e| match e {
            ImprovementError::NotFound => {
                FieldError::new("resolves", format!("there is no improvement item #{id}")).into()
            }
            e => e,
        })?;
        if !before.is_open() {
            return Err(FieldError::new(
                "resolves",
                format!("item #{id} is already {}", before.status().label()),
            )
            .into());
        }
        if !before.kind().resolvable_by_model() {
            return Err(FieldError::new(
                "resolves",
                format!(
                    "item #{id} asks for {}, which a model save does not do",
                    before.kind().label()
                ),
            )
            .into());
        }
        let ours = match before.model_id {
            Some(m) => m == model.id,
            None => before.kind() == Kind::NewModel && revision == 1,
        };
        if !ours {
            return Err(FieldError::new(
                "resolves",
                format!(
                    "item #{id} is not an item of {}: a save resolves only its own model's items",
                    model.key
                ),
            )
            .into());
        }
        let item: Item = diesel::update(improvements::table.find(id))
            .set((
                improvements::status.eq(ItemStatus::Done.as_str()),
                improvements::model_id.eq(model.id),
                improvements::resolved_revision.eq(revision),
                improvements::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Item::as_returning())
            .get_result(conn)
            .await?;
        record(
            conn,
            &item,
            Some(viewer.user.0),
            "resolved_by_revision",
            json!({ "model": model.key, "revision": revision }),
        )
        .await?;
    }
    Ok(())
}

/// Which items a backlog shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<Kind>,
    pub owner: Option<i64>,
    pub model: Option<i64>,
    /// Items filed from this review.
    pub review: Option<i64>,
    /// `None`: open and in progress.
    pub status: Option<ItemStatus>,
    pub all_statuses: bool,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<ItemRow>, i64), ImprovementError> {
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    let build = || {
        let mut query = improvements::table
            .left_join(users::table.on(users::id.nullable().eq(improvements::owner_id)))
            .left_join(incident_models::table)
            .into_boxed();
        if let Some(kind) = filter.kind {
            query = query.filter(improvements::kind.eq(kind.as_str()));
        }
        if let Some(owner) = filter.owner {
            query = query.filter(improvements::owner_id.eq(owner));
        }
        if let Some(model) = filter.model {
            query = query.filter(improvements::model_id.eq(model));
        }
        if let Some(review) = filter.review {
            query = query.filter(improvements::review_id.eq(review));
        }
        query = match (filter.status, filter.all_statuses) {
            (Some(status), _) => query.filter(improvements::status.eq(status.as_str())),
            (None, true) => query,
            (None, false) => query.filter(improvements::status.eq_any(["open", "in_progress"])),
        };
        query
    };
    let total = build().count().get_result(conn).await?;
    let rows = build()
        .select((
            Item::as_select(),
            users::display_name.nullable(),
            incident_models::key.nullable(),
            incident_models::title.nullable(),
        ))
        .order((
            improvements::priority.asc(),
            improvements::due_on.asc().nulls_last(),
            improvements::id.asc(),
        ))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await?;
    Ok((rows, total))
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: i64,
) -> Result<ItemRow, ImprovementError> {
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    improvements::table
        .left_join(users::table.on(users::id.nullable().eq(improvements::owner_id)))
        .left_join(incident_models::table)
        .filter(improvements::id.eq(id))
        .select((
            Item::as_select(),
            users::display_name.nullable(),
            incident_models::key.nullable(),
            incident_models::title.nullable(),
        ))
        .first(conn)
        .await
        .optional()?
        .ok_or(ImprovementError::NotFound)
}

/// An item's history, oldest first.
pub async fn history(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: i64,
) -> Result<Vec<EventRow>, ImprovementError> {
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    Ok(improvement_events::table
        .left_join(users::table)
        .filter(improvement_events::improvement_id.eq(id))
        .select((
            improvement_events::at,
            users::display_name.nullable(),
            improvement_events::action,
            improvement_events::detail,
        ))
        .order((improvement_events::at.asc(), improvement_events::id.asc()))
        .load(conn)
        .await?)
}

/// A model's open items (for the model page and its editor). Empty for
/// those who may not see items.
pub async fn open_for_model(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    model_id: i64,
) -> QueryResult<Vec<Item>> {
    if !may_see(viewer) {
        return Ok(Vec::new());
    }
    improvements::table
        .filter(improvements::model_id.eq(model_id))
        .filter(improvements::status.eq_any(["open", "in_progress"]))
        .select(Item::as_select())
        .order((improvements::priority.asc(), improvements::id.asc()))
        .load(conn)
        .await
}

/// An open "write a new model" item, for the new-model page.
pub async fn find_new_model_item(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: i64,
) -> QueryResult<Option<Item>> {
    if !may_see(viewer) {
        return Ok(None);
    }
    improvements::table
        .filter(improvements::id.eq(id))
        .filter(improvements::kind.eq(Kind::NewModel.as_str()))
        .filter(improvements::model_id.is_null())
        .filter(improvements::status.eq_any(["open", "in_progress"]))
        .select(Item::as_select())
        .first(conn)
        .await
        .optional()
}

/// The debt now and its weekly trend.
#[derive(Debug, Clone)]
pub struct Debt {
    pub now: i64,
    pub points: Vec<(DateTime<Utc>, i64)>,
}

impl Debt {
    /// Change over the trend's span.
    pub fn change(&self) -> i64 {
        self.now
            - self
                .points
                .as_slice()
                .first()
                .map(|p| p.1)
                .unwrap_or(self.now)
    }

    /// `x,y` pairs for an SVG polyline in a 260 × 60 box.
    pub fn polyline(&self) -> String {
        let max = self.points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
        let n = self.points.len().max(2) - 1;
        self.points
            .iter()
            .enumerate()
            .map(|(i, (_, d))| {
                format!(
                    "{:.1},{:.1}",
                    i as f64 * 260.0 / n as f64,
                    58.0 - (*d as f64 / max) * 56.0
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One line per point, for the chart's text alternative.
    pub fn describe(&self) -> String {
        let first = self
            .points
            .as_slice()
            .first()
            .map(|p| p.1)
            .unwrap_or(self.now);
        format!(
            "Debt {} now, {} {} weeks ago",
            self.now,
            first,
            self.points.len().saturating_sub(1)
        )
    }
}

/// How many events added since a kept week was computed are looked at;
/// more (a large import) and every week is replayed.
const NEW_EVENTS_CHECKED: i64 = 10_000;

/// The debt rule in a sentence, for pages and the API.
pub const RULE: &str = "Debt is the sum of open and in-progress items weighted by priority (P1 = 8, P2 = 4, P3 = 2, P4 = 1), an overdue item counting twice.";

#[derive(QueryableByName)]
struct IntervalRow {
    #[diesel(sql_type = Timestamptz)]
    since: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    until: Option<DateTime<Utc>>,
    #[diesel(sql_type = SmallInt)]
    priority: i16,
    #[diesel(sql_type = Nullable<Date>)]
    due_on: Option<NaiveDate>,
}

/// The open stretches of every item's history that hold at some time in
/// `[from, to]`: each event row holds an item's state from its time until
/// the item's next event.
async fn open_stretches(
    conn: &mut AsyncPgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<Interval>> {
    let rows: Vec<IntervalRow> = diesel::sql_query(
        "SELECT since, until, priority, due_on FROM (
             SELECT at AS since,
                    lead(at) OVER (PARTITION BY improvement_id ORDER BY at, id) AS until,
                    priority, status, due_on
             FROM improvement_events
         ) stretch
         WHERE status IN ('open', 'in_progress')
           AND since <= $2 AND (until IS NULL OR until > $1)",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Interval {
            since: r.since,
            until: r.until,
            state: DebtState {
                priority: Priority::new(r.priority).unwrap_or(Priority::ALL[3]),
                open: true,
                due_on: r.due_on,
            },
        })
        .collect())
}

/// The debt at each of `points`, replayed from the whole history (no
/// cache): what [`debt`] must agree with.
pub async fn replay(
    conn: &mut AsyncPgConnection,
    points: &[DateTime<Utc>],
) -> QueryResult<Vec<i64>> {
    let (Some(first), Some(last)) = (points.iter().min(), points.iter().max()) else {
        return Ok(Vec::new());
    };
    let intervals = open_stretches(conn, *first, *last).await?;
    Ok(rules::trend(&intervals, points))
}

/// The debt now and at the start of each of the last weeks. Now: from the
/// items as they are. Past week starts: replayed from the history once and
/// kept in `debt_weeks` (a past week's debt cannot change while history is
/// only appended; a row goes stale, and is replayed again, when an event
/// older than its week was added after it was computed).
pub async fn debt(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> Result<Debt, ImprovementError> {
    if !may_see(viewer) {
        return Err(ImprovementError::Forbidden);
    }
    let points = rules::trend_points(now, rules::TREND_WEEKS);
    let past = &points[..points.len().saturating_sub(1)];
    let last_event: i64 = improvement_events::table
        .select(diesel::dsl::max(improvement_events::id))
        .first::<Option<i64>>(conn)
        .await?
        .unwrap_or(0);
    let weeks: Vec<NaiveDate> = past.iter().map(|p| p.date_naive()).collect();
    let cached: Vec<(NaiveDate, i64, i64)> = debt_weeks::table
        .filter(debt_weeks::week_start.eq_any(&weeks))
        .select((
            debt_weeks::week_start,
            debt_weeks::debt,
            debt_weeks::last_event,
        ))
        .load(conn)
        .await?;
    // The earliest time among events added since the oldest kept row. Read
    // by id order (what a generic plan of `id > $1` does well), and only
    // when there are new events at all.
    let oldest_known = cached.iter().map(|c| c.2).min().unwrap_or(last_event);
    let earliest_new: Option<DateTime<Utc>> = if oldest_known >= last_event {
        None
    } else {
        let new_times: Vec<DateTime<Utc>> = improvement_events::table
            .filter(improvement_events::id.gt(oldest_known))
            .order(improvement_events::id.asc())
            .select(improvement_events::at)
            .limit(NEW_EVENTS_CHECKED)
            .load(conn)
            .await?;
        if new_times.len() as i64 >= NEW_EVENTS_CHECKED {
            // Too many to look at: replay every week.
            Some(DateTime::<Utc>::MIN_UTC)
        } else {
            new_times.into_iter().min()
        }
    };
    let mut values: Vec<Option<i64>> = past
        .iter()
        .map(|p| {
            cached
                .iter()
                .find(|c| c.0 == p.date_naive())
                .filter(|c| c.2 == last_event || earliest_new.is_none_or(|e| e >= *p))
                .map(|c| c.1)
        })
        .collect();
    // Kept weeks still right after the new events are marked so, so the
    // next request need not look at those events again.
    let confirmed: Vec<NaiveDate> = cached
        .iter()
        .filter(|c| {
            c.2 != last_event
                && earliest_new.is_none_or(|e| e >= c.0.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map(|c| c.0)
        .collect();
    if !confirmed.is_empty() {
        diesel::update(debt_weeks::table.filter(debt_weeks::week_start.eq_any(&confirmed)))
            .set(debt_weeks::last_event.eq(last_event))
            .execute(conn)
            .await?;
    }
    let missing: Vec<DateTime<Utc>> = past
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(p, _)| *p)
        .collect();
    if !missing.is_empty() {
        let replayed = replay(conn, &missing).await?;
        for (point, debt) in missing.iter().zip(&replayed) {
            diesel::insert_into(debt_weeks::table)
                .values((
                    debt_weeks::week_start.eq(point.date_naive()),
                    debt_weeks::debt.eq(debt),
                    debt_weeks::last_event.eq(last_event),
                ))
                .on_conflict(debt_weeks::week_start)
                .do_update()
                .set((
                    debt_weeks::debt.eq(debt),
                    debt_weeks::last_event.eq(last_event),
                    debt_weeks::computed_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            if let Some(i) = past.iter().position(|p| p == point) {
                values[i] = Some(*debt);
            }
        }
    }
    let current = debt_of_current_items(conn, now).await?;
    let mut out: Vec<(DateTime<Utc>, i64)> = past
        .iter()
        .zip(values)
        .map(|(p, v)| (*p, v.unwrap_or(0)))
        .collect();
    out.push((now, current));
    Ok(Debt {
        now: current,
        points: out,
    })
}

/// The debt of the items as they are now: open items counted by priority
/// and due date, weighed by the one rule.
pub async fn debt_of_current_items(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    let groups: Vec<(i16, Option<NaiveDate>, i64)> = improvements::table
        .filter(improvements::status.eq_any(["open", "in_progress"]))
        .group_by((improvements::priority, improvements::due_on))
        .select((
            improvements::priority,
            improvements::due_on,
            diesel::dsl::count_star(),
        ))
        .load(conn)
        .await?;
    Ok(groups
        .into_iter()
        .map(|(priority, due_on, n)| {
            let state = DebtState {
                priority: Priority::new(priority).unwrap_or(Priority::ALL[3]),
                open: true,
                due_on,
            };
            rules::item_debt(&state, now) * n
        })
        .sum())
}

/// Active team members who can own an item: (id, name).
pub async fn possible_owners(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(i64, String)>> {
    tickets::staff(conn).await
}

/// Models for the model filter: (id, key), those that have items.
pub async fn models_with_items(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(i64, String)>> {
    incident_models::table
        .filter(diesel::dsl::exists(improvements::table.filter(
            improvements::model_id.eq(incident_models::id.nullable()),
        )))
        .select((incident_models::id, incident_models::key))
        .order(incident_models::key.asc())
        .load(conn)
        .await
}
