//! The ticket's event stream (server-sent events). Each committed journal
//! entry the viewer may see is sent once, as rendered HTML for pages or as
//! JSON for the API; a reconnecting client sends `Last-Event-ID` and gets
//! what it missed. A customer's stream is filtered by the same query scope
//! as the page, so it never carries an internal entry.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::db::journal::{self, EntryRow};
use crate::db::{DbPool, tickets};
use crate::domain::account::OrgId;
use crate::domain::policy::{EntryScope, Viewer};
use crate::domain::ticket::TicketId;
use crate::error::AppError;
use crate::live::Event;
use crate::web::auth::SignedIn;
use crate::web::tickets::view::EntryView;

const KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

struct Stream {
    events: tokio::sync::broadcast::Receiver<Event>,
    pool: DbPool,
    hub: crate::live::Hub,
    viewer: Viewer,
    ticket: TicketId,
    format: Format,
    pending: VecDeque<EntryRow>,
    seen: HashSet<i64>,
    newest: i64,
    keepalive: tokio::time::Interval,
    closing: tokio::sync::watch::Receiver<bool>,
    started: bool,
}

fn frame(row: &EntryRow, format: Format) -> Bytes {
    let data = match format {
        Format::Html => EntryView::of(row).render().unwrap_or_default(),
        Format::Json => EntryView::json(row).to_string(),
    };
    let mut out = format!("id: {}\nevent: entry\n", row.entry.id);
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

impl Stream {
    /// Entries after the newest one sent, that were not sent yet.
    async fn catch_up(&mut self) {
        let Ok(mut conn) = self.pool.get().await else {
            return;
        };
        if let Ok(rows) = journal::list(
            &mut conn,
            self.ticket,
            self.viewer.entry_scope(),
            Some(self.newest),
        )
        .await
        {
            self.pending.extend(
                rows.into_iter()
                    .filter(|r| !self.seen.contains(&r.entry.id)),
            );
        }
    }

    /// The frame of one new entry, fetched and rendered once per process
    /// for each audience (staff or customer) and format.
    async fn fetch(&mut self, id: i64) -> Option<Bytes> {
        let scope = self.viewer.entry_scope();
        let audience =
            u8::from(scope == EntryScope::All) + 2 * u8::from(self.format == Format::Json);
        let cell = self.hub.frame_cell(id, audience);
        let (pool, ticket, format) = (self.pool.clone(), self.ticket, self.format);
        cell.get_or_init(|| async move {
            let mut conn = pool.get().await.ok()?;
            let row = journal::find(&mut conn, ticket, id, scope).await.ok()??;
            Some(frame(&row, format))
        })
        .await
        .clone()
    }

    async fn next_frame(&mut self) -> Option<Bytes> {
        if !self.started {
            self.started = true;
            return Some(Bytes::from_static(b"retry: 2000\n: connected\n\n"));
        }
        loop {
            if let Some(row) = self.pending.pop_front() {
                if self.seen.insert(row.entry.id) {
                    self.newest = self.newest.max(row.entry.id);
                    return Some(frame(&row, self.format));
                }
                continue;
            }
            let event = tokio::select! {
                event = self.events.recv() => event,
                _ = self.keepalive.tick() => return Some(Bytes::from_static(b": keepalive\n\n")),
                _ = self.closing.wait_for(|closing| *closing) => return None,
            };
            match event {
                Ok((ticket, entry)) if ticket == self.ticket.0 && !self.seen.contains(&entry) => {
                    if let Some(bytes) = self.fetch(entry).await {
                        self.seen.insert(entry);
                        self.newest = self.newest.max(entry);
                        return Some(bytes);
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => self.catch_up().await,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Opens the stream for a ticket the viewer may see.
pub async fn open(
    req: &HttpRequest,
    state: &AppState,
    viewer: Viewer,
    ticket: TicketId,
    format: Format,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let found = tickets::find(&mut conn, ticket)
        .await?
        .ok_or(AppError::NotFound)?;
    if !viewer.may_view_ticket(found.organization_id.map(OrgId)) {
        return Err(AppError::NotFound);
    }
    // Subscribe before reading the backlog, so nothing falls in between.
    let events = state.hub.subscribe();
    let last_seen = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or_else(|| {
            req.query_string()
                .split('&')
                .find_map(|p| p.strip_prefix("after="))
                .and_then(|v| v.parse().ok())
        });
    let mut stream = Stream {
        events,
        pool: state.pool.clone(),
        hub: state.hub.clone(),
        viewer,
        ticket,
        format,
        pending: VecDeque::new(),
        seen: HashSet::new(),
        newest: last_seen.unwrap_or(i64::MAX),
        closing: state.hub.closing(),
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE),
        started: false,
    };
    if let Some(after) = last_seen {
        stream.newest = after;
        stream.catch_up().await;
    } else {
        // Without a position, the page already shows everything up to now.
        stream.newest = journal::newest_id(&mut conn, ticket).await?;
    }
    drop(conn);
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        s.next_frame()
            .await
            .map(|bytes| (Ok::<_, actix_web::Error>(bytes), s))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    open(
        &req,
        &state,
        who.0.user.viewer(),
        TicketId(path.into_inner()),
        Format::Html,
    )
    .await
}
