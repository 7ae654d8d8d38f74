//! Incident models, their revisions and their links.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::outbox::{self, Entity};
use crate::db::schema::{incident_models, model_links, model_revisions, users};
use crate::domain::account::UserId;
use crate::domain::model::{self as text, ModelText, Status};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = incident_models)]
pub struct Model {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub category: String,
    pub tags: Vec<Option<String>>,
    pub status: String,
    pub public: bool,
    pub revision: i32,
    pub owner_id: Option<i64>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Model {
    pub fn tag_list(&self) -> Vec<&str> {
        self.tags.iter().flatten().map(String::as_str).collect()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = model_revisions)]
pub struct Revision {
    pub id: i64,
    pub model_id: i64,
    pub number: i32,
    pub title: String,
    pub category: String,
    pub tags: Vec<Option<String>>,
    pub status: String,
    pub public: bool,
    pub statement: String,
    pub steps: Vec<Option<String>>,
    pub discussion: String,
    pub body: String,
    pub author_id: Option<i64>,
    pub summary: String,
    pub created_at: DateTime<Utc>,
}

impl Revision {
    pub fn step_list(&self) -> Vec<&str> {
        self.steps.iter().flatten().map(String::as_str).collect()
    }
}

/// A line of a model's history.
#[derive(Debug, Clone, Queryable)]
pub struct RevisionMeta {
    pub number: i32,
    pub summary: String,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("revision {expected} is no longer current: revision {current} was saved meanwhile")]
    Conflict { expected: i32, current: i32 },
    #[error("links to {}, which {} not exist", .0.iter().map(|k| format!("[[{k}]]")).collect::<Vec<_>>().join(", "), if .0.len() == 1 { "does" } else { "do" })]
    UnknownLinks(Vec<String>),
    #[error("a model with the key {0:?} already exists")]
    KeyExists(String),
    #[error("the key cannot change (it is how other models link here): keep `key: {0}`")]
    KeyChanged(String),
    /// An improvement item the save was to resolve cannot be.
    #[error("{}", .0.message)]
    Items(crate::domain::FieldError),
    #[error(transparent)]
    Database(#[from] DieselError),
}

/// Who saved, and why.
pub struct Save<'a> {
    pub author: Option<UserId>,
    pub summary: &'a str,
}

fn tags(model: &ModelText) -> Vec<Option<String>> {
    model.tags.iter().cloned().map(Some).collect()
}

fn alert_names(model: &ModelText) -> Vec<Option<String>> {
    model.alerts.iter().cloned().map(Some).collect()
}

pub async fn find_by_key(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<Option<Model>> {
    incident_models::table
        .filter(incident_models::key.eq(key))
        .select(Model::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn revision(
    conn: &mut AsyncPgConnection,
    model_id: i64,
    number: i32,
) -> QueryResult<Option<Revision>> {
    model_revisions::table
        .filter(model_revisions::model_id.eq(model_id))
        .filter(model_revisions::number.eq(number))
        .select(Revision::as_select())
        .first(conn)
        .await
        .optional()
}

/// A model's revisions, newest first; with `public_only`, only those that
/// were public and published (what customers may read).
pub async fn history(
    conn: &mut AsyncPgConnection,
    model_id: i64,
    public_only: bool,
) -> QueryResult<Vec<RevisionMeta>> {
    let mut query = model_revisions::table
        .left_join(users::table)
        .filter(model_revisions::model_id.eq(model_id))
        .into_boxed();
    if public_only {
        query = query
            .filter(model_revisions::public.eq(true))
            .filter(model_revisions::status.eq("published"));
    }
    query
        .select((
            model_revisions::number,
            model_revisions::summary,
            users::display_name.nullable(),
            model_revisions::created_at,
            model_revisions::status,
        ))
        .order(model_revisions::number.desc())
        .load(conn)
        .await
}

async fn insert_revision(
    conn: &mut AsyncPgConnection,
    model_id: i64,
    number: i32,
    model: &ModelText,
    save: &Save<'_>,
) -> QueryResult<()> {
    diesel::insert_into(model_revisions::table)
        .values((
            model_revisions::model_id.eq(model_id),
            model_revisions::number.eq(number),
            model_revisions::title.eq(&model.title),
            model_revisions::category.eq(&model.category),
            model_revisions::tags.eq(tags(model)),
            model_revisions::alerts.eq(alert_names(model)),
            model_revisions::status.eq(model.status.as_str()),
            model_revisions::public.eq(model.public),
            model_revisions::statement.eq(&model.statement),
            model_revisions::steps.eq(model.steps.iter().cloned().map(Some).collect::<Vec<_>>()),
            model_revisions::discussion.eq(&model.discussion),
            model_revisions::body.eq(text::render(model)),
            model_revisions::author_id.eq(save.author.map(|a| a.0)),
            model_revisions::summary.eq(save.summary),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates a model at revision 1. Links are not checked here: call
/// [`replace_links`] once every model of the batch exists.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    model: &ModelText,
    save: &Save<'_>,
) -> Result<Model, SaveError> {
    let created = diesel::insert_into(incident_models::table)
        .values((
            incident_models::key.eq(&model.key),
            incident_models::title.eq(&model.title),
            incident_models::category.eq(&model.category),
            incident_models::tags.eq(tags(model)),
            incident_models::alerts.eq(alert_names(model)),
            incident_models::status.eq(model.status.as_str()),
            incident_models::public.eq(model.public),
            incident_models::revision.eq(1),
            incident_models::owner_id.eq(save.author.map(|a| a.0)),
        ))
        .returning(Model::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                SaveError::KeyExists(model.key.clone())
            }
            e => e.into(),
        })?;
    insert_revision(conn, created.id, 1, model, save).await?;
    outbox::enqueue(conn, Entity::Model, created.id).await?;
    Ok(created)
}

/// Saves `model` as the next revision, if `expected` is still the current
/// one; otherwise nothing changes and the conflict names both.
pub async fn update(
    conn: &mut AsyncPgConnection,
    current: &Model,
    expected: i32,
    model: &ModelText,
    save: &Save<'_>,
) -> Result<Model, SaveError> {
    if model.key != current.key {
        return Err(SaveError::KeyChanged(current.key.clone()));
    }
    let next = expected + 1;
    let updated = diesel::update(
        incident_models::table
            .filter(incident_models::id.eq(current.id))
            .filter(incident_models::revision.eq(expected)),
    )
    .set((
        incident_models::title.eq(&model.title),
        incident_models::category.eq(&model.category),
        incident_models::tags.eq(tags(model)),
        incident_models::alerts.eq(alert_names(model)),
        incident_models::status.eq(model.status.as_str()),
        incident_models::public.eq(model.public),
        incident_models::revision.eq(next),
        incident_models::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Model::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    let Some(updated) = updated else {
        let now: i32 = incident_models::table
            .find(current.id)
            .select(incident_models::revision)
            .first(conn)
            .await?;
        return Err(SaveError::Conflict {
            expected,
            current: now,
        });
    };
    insert_revision(conn, updated.id, next, model, save).await?;
    outbox::enqueue(conn, Entity::Model, updated.id).await?;
    Ok(updated)
}

/// Replaces the stored links of `model_id` with `keys`; every key must name
/// an existing model. A link to itself is allowed and not stored.
pub async fn replace_links(
    conn: &mut AsyncPgConnection,
    model_id: i64,
    keys: &[String],
) -> Result<(), SaveError> {
    let found: Vec<(i64, String)> = incident_models::table
        .filter(incident_models::key.eq_any(keys))
        .select((incident_models::id, incident_models::key))
        .load(conn)
        .await?;
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| !found.iter().any(|(_, key)| key == *k))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(SaveError::UnknownLinks(missing));
    }
    diesel::delete(model_links::table.filter(model_links::from_model_id.eq(model_id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = found
        .iter()
        .filter(|(id, _)| *id != model_id)
        .map(|(id, _)| {
            (
                model_links::from_model_id.eq(model_id),
                model_links::to_model_id.eq(*id),
            )
        })
        .collect();
    diesel::insert_into(model_links::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether customers may read the model: public and published (a public
/// draft or retired model is the team's).
fn readable_by_customers()
-> diesel::dsl::And<incident_models::public, diesel::dsl::Eq<incident_models::status, &'static str>>
{
    incident_models::public.and(incident_models::status.eq("published"))
}

/// Models linking to `model_id` (key, title, readable by customers), by
/// title.
pub async fn backlinks(
    conn: &mut AsyncPgConnection,
    model_id: i64,
) -> QueryResult<Vec<(String, String, bool)>> {
    model_links::table
        .inner_join(incident_models::table.on(incident_models::id.eq(model_links::from_model_id)))
        .filter(model_links::to_model_id.eq(model_id))
        .select((
            incident_models::key,
            incident_models::title,
            readable_by_customers(),
        ))
        .order(incident_models::title.asc())
        .load(conn)
        .await
}

/// Titles (and whether customers may read them) of the given keys, for
/// rendering links.
pub async fn titles(
    conn: &mut AsyncPgConnection,
    keys: &[String],
) -> QueryResult<Vec<(String, String, bool)>> {
    incident_models::table
        .filter(incident_models::key.eq_any(keys))
        .select((
            incident_models::key,
            incident_models::title,
            readable_by_customers(),
        ))
        .load(conn)
        .await
}

pub async fn mark_verified(
    conn: &mut AsyncPgConnection,
    model_id: i64,
    by: UserId,
) -> QueryResult<()> {
    diesel::update(incident_models::table.find(model_id))
        .set((
            incident_models::verified_at.eq(diesel::dsl::now),
            incident_models::verified_by.eq(by.0),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn user_name(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<String> {
    users::table
        .find(id)
        .select(users::display_name)
        .first(conn)
        .await
}

/// How a list of models is narrowed and ordered.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub category: Option<String>,
    pub tag: Option<String>,
    pub status: Option<Status>,
    pub owner: Option<i64>,
    /// Customers see public models only.
    pub public_only: bool,
    pub sort: Sort,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Title,
    RecentlyUpdated,
    Key,
}

/// A page of models and the total that match.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<(Model, Option<String>)>, i64)> {
    let build = || {
        let mut query = incident_models::table
            .left_join(users::table.on(users::id.nullable().eq(incident_models::owner_id)))
            .into_boxed();
        if let Some(category) = &filter.category {
            query = query.filter(incident_models::category.eq(category.clone()));
        }
        if let Some(tag) = &filter.tag {
            query = query.filter(incident_models::tags.contains(vec![Some(tag.clone())]));
        }
        if let Some(status) = filter.status {
            query = query.filter(incident_models::status.eq(status.as_str()));
        }
        if let Some(owner) = filter.owner {
            query = query.filter(incident_models::owner_id.eq(owner));
        }
        if filter.public_only {
            query = query
                .filter(incident_models::public.eq(true))
                .filter(incident_models::status.eq(Status::Published.as_str()));
        }
        query
    };
    let total = build().count().get_result(conn).await?;
    let query = build().select((Model::as_select(), users::display_name.nullable()));
    let query = match filter.sort {
        Sort::Title => query.order((incident_models::title.asc(), incident_models::id.asc())),
        Sort::RecentlyUpdated => query.order((
            incident_models::updated_at.desc(),
            incident_models::id.desc(),
        )),
        Sort::Key => query.order(incident_models::key.asc()),
    };
    let rows = query.offset(offset).limit(limit).load(conn).await?;
    Ok((rows, total))
}

/// The categories and tags in use, for the list's filter menus.
pub async fn facets(
    conn: &mut AsyncPgConnection,
    public_only: bool,
) -> QueryResult<(Vec<String>, Vec<String>)> {
    let mut categories = incident_models::table
        .select(incident_models::category)
        .filter(incident_models::category.ne(""))
        .distinct()
        .order(incident_models::category.asc())
        .into_boxed();
    let mut all_tags = incident_models::table
        .select(incident_models::tags)
        .into_boxed();
    if public_only {
        categories = categories.filter(readable_by_customers());
        all_tags = all_tags.filter(readable_by_customers());
    }
    let categories = categories.load(conn).await?;
    let mut tags: Vec<String> = all_tags
        .load::<Vec<Option<String>>>(conn)
        .await?
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    tags.sort();
    tags.dedup();
    Ok((categories, tags))
}

/// People who own models, for the owner filter.
pub async fn owners(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(diesel::dsl::exists(
            incident_models::table.filter(incident_models::owner_id.eq(users::id.nullable())),
        ))
        .select((users::id, users::display_name))
        .order(users::display_name.asc())
        .load(conn)
        .await
}

/// Every model's current canonical text, by key (for export).
pub async fn current_texts(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, String)>> {
    incident_models::table
        .inner_join(
            model_revisions::table.on(model_revisions::model_id
                .eq(incident_models::id)
                .and(model_revisions::number.eq(incident_models::revision))),
        )
        .select((incident_models::key, model_revisions::body))
        .order(incident_models::key.asc())
        .load(conn)
        .await
}

/// Creates the model (`current` is `None`) or saves its next revision, then
/// stores its links. Run it inside a transaction: an unknown link undoes
/// the whole save.
pub async fn save(
    conn: &mut AsyncPgConnection,
    current: Option<&Model>,
    expected: i32,
    model: &ModelText,
    save: &Save<'_>,
) -> Result<Model, SaveError> {
    let saved = match current {
        None => insert(conn, model, save).await?,
        Some(current) => update(conn, current, expected, model, save).await?,
    };
    replace_links(conn, saved.id, &text::links(model)).await?;
    Ok(saved)
}

/// Models with their current revision, by id, for the search index: those
/// in `ids`, or a page of all of them after id `after`.
pub async fn with_current_revisions(
    conn: &mut AsyncPgConnection,
    ids: Option<&[i64]>,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(Model, Revision)>> {
    let mut query = incident_models::table
        .inner_join(
            model_revisions::table.on(model_revisions::model_id
                .eq(incident_models::id)
                .and(model_revisions::number.eq(incident_models::revision))),
        )
        .filter(incident_models::id.gt(after))
        .into_boxed();
    if let Some(ids) = ids {
        query = query.filter(incident_models::id.eq_any(ids.to_vec()));
    }
    query
        .select((Model::as_select(), Revision::as_select()))
        .order(incident_models::id.asc())
        .limit(limit)
        .load(conn)
        .await
}
