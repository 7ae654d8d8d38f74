//! The ticket's event stream (server-sent events). Each committed journal
//! entry the viewer may see is sent once, as rendered HTML for pages or as
//! JSON for the API; a reconnecting client sends `Last-Event-ID` and gets
//! what it missed. A customer's stream is filtered by the same query scope
//! as the page, so it never carries an internal entry.
//!
//! A stream lives as long as its viewer's access: it ends when their
//! session ends or token is revoked, or they are disabled or given another
//! role or organization (told by the hub as such changes commit, and
//! checked again at every keep-alive in case a notice was missed). After
//! the LISTEN connection was down, or a fetch failed, it catches up from
//! the database instead of skipping entries.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::db::journal::{self, EntryRow};
use crate::db::{DbPool, tickets};
use crate::domain::policy::{EntryScope, Viewer};
use crate::domain::ticket::TicketId;
use crate::live::Event;
use crate::web::auth::{Identity, SignedIn};
use crate::web::error::AppError;
use crate::web::tickets::view::EntryView;

const KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
    /// Rendered HTML in a JSON envelope naming the ticket, for the stream
    /// one browser shares across its ticket pages (`GET /events`).
    Tagged,
}

struct Stream {
    events: tokio::sync::broadcast::Receiver<Event>,
    access: tokio::sync::broadcast::Receiver<i64>,
    resyncs: tokio::sync::watch::Receiver<u64>,
    /// Entries may have been missed (a fetch failed): catch up from the
    /// database before anything else.
    behind: bool,
    pool: DbPool,
    hub: crate::live::Hub,
    identity: Identity,
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
        Format::Json => serde_json::to_string(&crate::web::api::tickets::EntryJson::from(row))
            .unwrap_or_default(),
        Format::Tagged => serde_json::json!({
            "ticket": row.entry.ticket_id,
            "id": row.entry.id,
            "html": EntryView::of(row).render().unwrap_or_default(),
        })
        .to_string(),
    };
    // The shared stream has no single position: its client keeps one per
    // ticket and names them when it reconnects.
    let mut out = match format {
        Format::Tagged => "event: entry\n".to_owned(),
        _ => format!("id: {}\nevent: entry\n", row.entry.id),
    };
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// What woke a waiting stream.
enum Wake {
    Entry(Result<Event, RecvError>),
    Access(Result<i64, RecvError>),
    Resync,
    Tick,
}

impl Stream {
    /// Entries after the newest one sent, that were not sent yet. Leaves
    /// `behind` set when the database could not be read.
    async fn catch_up(&mut self) {
        let rows = match self.pool.get().await {
            Ok(mut conn) => journal::list(
                &mut conn,
                self.ticket,
                self.viewer.entry_scope(),
                Some(self.newest),
            )
            .await
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match rows {
            Ok(rows) => {
                self.behind = false;
                self.pending.extend(
                    rows.into_iter()
                        .filter(|r| !self.seen.contains(&r.entry.id)),
                );
            }
            Err(e) => {
                self.behind = true;
                tracing::warn!(ticket = %self.ticket, "an event stream cannot catch up yet: {e}");
            }
        }
    }

    /// Whether the viewer still has the access the stream was opened
    /// with. A database failure is not a "no": the stream carries on and
    /// asks again at the next keep-alive.
    async fn still_allowed(&self) -> bool {
        let Ok(mut conn) = self.pool.get().await else {
            return true;
        };
        match self.identity.current_user(&mut conn).await {
            Ok(Some(user)) => user.viewer() == self.viewer,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The frame of one new entry, fetched and rendered once per process
    /// for each audience (staff or customer) and format. `Err` when it
    /// could not be fetched (the stream then catches up later).
    async fn fetch(&mut self, id: i64) -> Result<Option<Bytes>, String> {
        let scope = self.viewer.entry_scope();
        let format_code = match self.format {
            Format::Html => 0,
            Format::Json => 1,
            Format::Tagged => 2,
        };
        let audience = u8::from(scope == EntryScope::All) + 2 * format_code;
        let cell = self.hub.frame_cell(id, audience);
        let (pool, ticket, format) = (self.pool.clone(), self.ticket, self.format);
        cell.get_or_try_init(|| async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let row = journal::find(&mut conn, ticket, id, scope)
                .await
                .map_err(|e| e.to_string())?;
            Ok(row.map(|row| frame(&row, format)))
        })
        .await
        .cloned()
    }

    async fn next_frame(&mut self) -> Option<Bytes> {
        if !self.started {
            self.started = true;
            return Some(Bytes::from_static(b"retry: 2000\n: connected\n\n"));
        }
        self.next_entry_or_keepalive().await
    }

    async fn next_entry_or_keepalive(&mut self) -> Option<Bytes> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                if self.seen.insert(row.entry.id) {
                    self.newest = self.newest.max(row.entry.id);
                    return Some(frame(&row, self.format));
                }
                continue;
            }
            if self.behind {
                self.catch_up().await;
                if !self.pending.is_empty() {
                    continue;
                }
            }
            // In this order: an access change commits (and is announced on
            // the one LISTEN connection) before any entry written after it,
            // so it is seen first and no entry slips out after it.
            let wake = tokio::select! {
                biased;
                _ = self.closing.wait_for(|closing| *closing) => return None,
                changed = self.access.recv() => Wake::Access(changed),
                _ = self.resyncs.changed() => Wake::Resync,
                event = self.events.recv() => Wake::Entry(event),
                _ = self.keepalive.tick() => Wake::Tick,
            };
            let event = match wake {
                Wake::Entry(event) => event,
                Wake::Access(changed) => {
                    let recheck = match changed {
                        Ok(user) => user == self.viewer.user.0,
                        Err(RecvError::Lagged(_)) => true,
                        Err(RecvError::Closed) => return None,
                    };
                    if recheck && !self.still_allowed().await {
                        return None;
                    }
                    continue;
                }
                Wake::Resync => {
                    // Nothing committed while the LISTEN connection was
                    // down was announced: look, and look at access too.
                    if !self.still_allowed().await {
                        return None;
                    }
                    self.catch_up().await;
                    continue;
                }
                Wake::Tick => {
                    if !self.still_allowed().await {
                        return None;
                    }
                    return Some(Bytes::from_static(b": keepalive\n\n"));
                }
            };
            match event {
                Ok((ticket, entry)) if ticket == self.ticket.0 && !self.seen.contains(&entry) => {
                    if self.behind {
                        // The catch-up at the top of the loop reads it.
                        continue;
                    }
                    match self.fetch(entry).await {
                        Ok(Some(bytes)) => {
                            self.seen.insert(entry);
                            self.newest = self.newest.max(entry);
                            return Some(bytes);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(ticket = %self.ticket, entry, "an event stream could not fetch an entry (will catch up): {e}");
                            self.behind = true;
                        }
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
    identity: Identity,
    ticket: TicketId,
    format: Format,
) -> Result<HttpResponse, AppError> {
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
    let stream = prepare(state, identity, ticket, last_seen, format)
        .await?
        .ok_or(AppError::NotFound)?;
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        s.next_frame()
            .await
            .map(|bytes| (Ok::<_, actix_web::Error>(bytes), s))
    });
    Ok(event_stream(body))
}

fn event_stream<S>(body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache, no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// A ticket's stream after `last_seen` (or from now), or `None` when the
/// viewer may not see the ticket.
async fn prepare(
    state: &AppState,
    identity: Identity,
    ticket: TicketId,
    last_seen: Option<i64>,
    format: Format,
) -> Result<Option<Stream>, AppError> {
    let viewer = identity.user.viewer();
    let mut conn = state.pool.get().await?;
    if tickets::find_visible(&mut conn, ticket, viewer.ticket_scope())
        .await?
        .is_none()
    {
        return Ok(None);
    }
    // Subscribe before reading the backlog, so nothing falls in between.
    let events = state.hub.subscribe();
    let access = state.hub.access_changes();
    let mut resyncs = state.hub.resyncs();
    resyncs.mark_unchanged();
    let mut stream = Stream {
        events,
        access,
        resyncs,
        behind: false,
        pool: state.pool.clone(),
        hub: state.hub.clone(),
        identity,
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
    Ok(Some(stream))
}

/// Tickets one shared stream may carry.
pub const MAX_SHARED_TICKETS: usize = 50;

#[derive(Deserialize)]
pub struct SharedQuery {
    /// `ticket:after` pairs, comma-separated (`12:340,15:0`).
    #[serde(default)]
    tickets: String,
}

/// One stream for all the ticket pages of a browser (`GET /events`): the
/// pages elect one of them to hold it (see `static/js/live.js`) and pass
/// the entries on, so ten open tickets use one of HTTP/1.1's six
/// connections, not ten. Each named ticket is streamed as by
/// `/tickets/{id}/events`, from its own position and through the viewer's
/// scope; tickets the viewer may not see are left out without a word, so
/// the stream tells nothing about them.
pub async fn shared_events(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<SharedQuery>,
) -> Result<HttpResponse, AppError> {
    let mut wanted: Vec<(TicketId, i64)> = Vec::new();
    for pair in query.tickets.split(',').filter(|p| !p.trim().is_empty()) {
        let (ticket, after) = pair.split_once(':').unwrap_or((pair, "0"));
        let (Ok(ticket), Ok(after)) = (ticket.trim().parse::<i64>(), after.trim().parse::<i64>())
        else {
            return Err(AppError::BadRequest(format!(
                "tickets: {pair:?} is not ticket:after (two numbers)"
            )));
        };
        if !wanted.iter().any(|(t, _)| t.0 == ticket) {
            wanted.push((TicketId(ticket), after.max(0)));
        }
    }
    if wanted.is_empty() || wanted.len() > MAX_SHARED_TICKETS {
        return Err(AppError::BadRequest(format!(
            "tickets: name between 1 and {MAX_SHARED_TICKETS} tickets as ticket:after"
        )));
    }
    let mut streams = Vec::with_capacity(wanted.len());
    for (ticket, after) in wanted {
        if let Some(stream) =
            prepare(&state, who.0.clone(), ticket, Some(after), Format::Tagged).await?
        {
            streams.push(Box::pin(futures_util::stream::unfold(
                stream,
                |mut s| async move {
                    s.next_entry_or_keepalive()
                        .await
                        .map(|bytes| (Ok::<_, actix_web::Error>(bytes), s))
                },
            )));
        }
    }
    if streams.is_empty() {
        return Err(AppError::NotFound);
    }
    let start = futures_util::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 2000\n: connected\n\n"))
    });
    Ok(event_stream(
        start.chain(futures_util::stream::select_all(streams)),
    ))
}

pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, AppError> {
    open(&req, &state, who.0, path.into_inner(), Format::Html).await
}

/// How often a ticket list is told at most: a burst of changes (an import,
/// a flood of alerts) becomes one reload.
const LIST_QUIET: Duration = Duration::from_millis(500);

/// The ticket lists' event stream: an `changed` event whenever tickets may
/// have changed, nothing else. It carries no ticket data: the page reloads
/// its rows through the list query, which applies the viewer's scope. The
/// stream ends when the viewer's access changes or the server shuts down.
pub async fn list_events(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    struct ListStream {
        changes: tokio::sync::watch::Receiver<u64>,
        access: tokio::sync::broadcast::Receiver<i64>,
        closing: tokio::sync::watch::Receiver<bool>,
        keepalive: tokio::time::Interval,
        user: i64,
        quiet_until: tokio::time::Instant,
    }
    let mut changes = state.hub.ticket_changes();
    changes.mark_unchanged();
    let stream = ListStream {
        changes,
        access: state.hub.access_changes(),
        closing: state.hub.closing(),
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE),
        user: who.0.user.id,
        quiet_until: tokio::time::Instant::now(),
    };
    enum ListWake {
        End,
        Changed,
        Tick,
        Other,
    }
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        loop {
            let wake = tokio::select! {
                biased;
                _ = s.closing.wait_for(|closing| *closing) => ListWake::End,
                changed = s.access.recv() => match changed {
                    Ok(user) if user == s.user => ListWake::End,
                    Ok(_) | Err(RecvError::Lagged(_)) => ListWake::Other,
                    Err(RecvError::Closed) => ListWake::End,
                },
                changed = s.changes.changed() => match changed {
                    Ok(()) => ListWake::Changed,
                    Err(_) => ListWake::End,
                },
                _ = s.keepalive.tick() => ListWake::Tick,
            };
            let frame: &'static [u8] = match wake {
                ListWake::End => return None,
                ListWake::Other => continue,
                ListWake::Tick => b": keepalive\n\n",
                ListWake::Changed => {
                    tokio::time::sleep_until(s.quiet_until).await;
                    s.changes.mark_unchanged();
                    s.quiet_until = tokio::time::Instant::now() + LIST_QUIET;
                    b"event: changed\ndata: \n\n"
                }
            };
            return Some((Ok::<_, actix_web::Error>(Bytes::from_static(frame)), s));
        }
    });
    Ok(event_stream(body))
}
