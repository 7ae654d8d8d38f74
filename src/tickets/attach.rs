//! Files attached on the ticket page or through the API: one journal entry
//! (a reply or an internal note, with the same rules as [`super::write`])
//! that lists the files, and the files, in one transaction. The entry's
//! visibility decides who may list and download them (`db::mail`'s
//! queries go through it), so a file on an internal note never reaches a
//! customer by any channel that shows entries.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::db::journal::Entry;
use crate::db::mail::{self as store, NewAttachment};
use crate::domain::FieldError;
use crate::domain::attachment::{self as files, MAX_FILES};
use crate::domain::policy::{Viewer, Visibility};
use crate::domain::ticket::TicketId;

use super::{MAX_BODY_BYTES, TicketError, add_entry, no_nul};

/// One file as it was sent: its name and declared type as the client said
/// (both made safe here), and its bytes.
pub struct Upload {
    pub filename: String,
    pub declared_type: Option<String>,
    pub data: Vec<u8>,
}

/// Attaches `uploads` to the ticket with an entry carrying `note` (or, when
/// nothing was written, a line naming the files). `limit` is the largest
/// file kept (the same as for mail); the web layer refuses larger ones while
/// they stream, this is the rule itself.
pub async fn attach(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    note: &str,
    visibility: Visibility,
    uploads: Vec<Upload>,
    limit: usize,
) -> Result<Entry, TicketError> {
    if uploads.is_empty() {
        return Err(FieldError::new("files", "choose a file to attach").into());
    }
    if uploads.len() > MAX_FILES {
        return Err(
            FieldError::new("files", format!("attach at most {MAX_FILES} files at once")).into(),
        );
    }
    if let Some(big) = uploads.iter().find(|u| u.data.len() > limit) {
        return Err(FieldError::new(
            "files",
            format!(
                "{} is larger than {} (the most a file may have), so nothing was attached",
                files::safe_filename(&big.filename, "a file"),
                files::human_size(limit as u64)
            ),
        )
        .into());
    }
    no_nul("body", note)?;
    let note = note.trim();
    if note.len() > MAX_BODY_BYTES {
        return Err(
            FieldError::new("body", format!("must be at most {MAX_BODY_BYTES} bytes")).into(),
        );
    }
    let kept: Vec<(String, String, Vec<u8>)> = uploads
        .into_iter()
        .enumerate()
        .map(|(n, u)| {
            let name = files::safe_filename(&u.filename, &format!("file-{}", n + 1));
            let ctype = files::content_type(u.declared_type.as_deref(), &u.data);
            (name, ctype, u.data)
        })
        .collect();
    let body = if note.is_empty() {
        let names: Vec<String> = kept
            .iter()
            .map(|(name, _, data)| {
                format!(
                    "`{}` ({})",
                    name.replace('`', "'"),
                    files::human_size(data.len() as u64)
                )
            })
            .collect();
        format!("Attached {}.", names.join(", "))
    } else {
        note.to_owned()
    };
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let ids = store::reserve_attachment_ids(conn, kept.len()).await?;
        let listed: Vec<serde_json::Value> = ids
            .iter()
            .zip(&kept)
            .map(|(id, (name, ctype, data))| {
                json!({ "id": id, "filename": name, "content_type": ctype, "size": data.len() })
            })
            .collect();
        let entry = add_entry(
            conn,
            &viewer,
            id,
            &body,
            visibility,
            json!({ "attachments": listed }),
        )
        .await?;
        for (attachment, (filename, content_type, data)) in ids.iter().zip(&kept) {
            store::add_attachment(
                conn,
                NewAttachment {
                    id: Some(*attachment),
                    ticket: id.0,
                    entry: Some(entry.id),
                    filename,
                    content_type,
                    data,
                    by: viewer.user.0,
                },
            )
            .await?;
        }
        Ok(entry)
    })
    .await
}
