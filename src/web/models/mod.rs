//! Incident model pages: the list, the model page, editing as one plain-text
//! document (with preview and conflict handling), history and diffs.

pub mod edit;
pub mod history;
pub mod pages;

use diesel_async::AsyncPgConnection;

use crate::db::models::{self, Model, Revision};
use crate::domain::policy::Viewer;
use crate::web::error::AppError;

/// The model with this key and its current revision, if the viewer may see
/// it. A model the viewer may not see is "not found", so its existence is
/// not revealed.
pub async fn load_visible(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    key: &str,
) -> Result<(Model, Revision), AppError> {
    let model = models::find_by_key(conn, key)
        .await?
        .ok_or(AppError::NotFound)?;
    if !may_view(viewer, &model) {
        return Err(AppError::NotFound);
    }
    let revision = models::revision(conn, model.id, model.revision)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((model, revision))
}

/// Revision `number` of a model the viewer may see, if the viewer may read
/// that revision too: a model public now may have been an internal draft
/// before, and those revisions stay the team's.
pub async fn load_revision(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    model: &Model,
    number: i32,
) -> Result<Revision, AppError> {
    models::revision(conn, model.id, number)
        .await?
        .filter(|r| viewer.may_view_model(r.public && r.status == "published"))
        .ok_or(AppError::NotFound)
}

/// Customers read published public models only; the team reads all.
pub fn may_view(viewer: &Viewer, model: &Model) -> bool {
    viewer.may_view_model(model.public && model.status == "published")
}
