//! Live journal: one LISTEN connection per process turns PostgreSQL
//! notifications (sent by `db::journal::add` inside the writing
//! transaction) into an in-process broadcast that the server-sent-event
//! streams of open ticket pages subscribe to. Two instances on one database
//! each hear every commit. The same connection hears access changes (a
//! session ended, a token revoked, a user disabled or given another role),
//! sent by triggers, so open streams end when their viewer's access does.
//! Notifications sent while the connection is down are lost: after every
//! reconnect the hub says so (`resyncs`), and streams catch up from the
//! database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::db::journal::CHANNEL;

/// A committed journal entry: (ticket id, entry id).
pub type Event = (i64, i64);

/// The channel access-change triggers notify (see the migrations); the
/// payload is the user id.
pub const ACCESS_CHANNEL: &str = "casebook_access";

/// One rendered frame per (entry, audience), shared by every stream of this
/// process: a thousand open pages cost one query and one render, not a
/// thousand. `None` is an entry that audience may not see; a failed fetch
/// is not kept, so the next stream to ask tries again.
type FrameCell = Arc<tokio::sync::OnceCell<Option<actix_web::web::Bytes>>>;

/// The cells by (entry, audience), and their order for eviction.
type FrameCache = (
    std::collections::HashMap<(i64, u8), FrameCell>,
    std::collections::VecDeque<(i64, u8)>,
);

#[derive(Clone)]
pub struct Hub {
    frames: Arc<std::sync::Mutex<FrameCache>>,
    sender: broadcast::Sender<Event>,
    /// Users whose access changed.
    access: broadcast::Sender<i64>,
    /// Bumped every time the LISTEN connection is (re)established.
    resync: Arc<tokio::sync::watch::Sender<u64>>,
    listening: Arc<AtomicBool>,
    /// Woken when a search outbox row commits, on any instance.
    pub outbox: Arc<tokio::sync::Notify>,
    /// Woken when a delivery (mail, webhook) is queued, on any instance.
    pub deliveries: Arc<tokio::sync::Notify>,
    /// Woken when a ticket is queued for triage on arrival, on any instance.
    pub arrivals: Arc<tokio::sync::Notify>,
    /// Woken when this process accepts an alert delivery into the inbox
    /// (no NOTIFY: see `db::alert_inbox::insert`), and when the LISTEN
    /// connection comes back.
    pub inbox: Arc<tokio::sync::Notify>,
    /// Bumped whenever tickets may have changed (an outbox row or a journal
    /// entry committed, or the LISTEN connection came back): open ticket
    /// lists reload their rows.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Set when the server shuts down: open event streams end at once
    /// instead of holding the shutdown up.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        // Streams that fall this far behind catch up from the database.
        let (sender, _) = broadcast::channel(1024);
        let (access, _) = broadcast::channel(256);
        Self {
            sender,
            access,
            resync: Arc::new(tokio::sync::watch::Sender::new(0)),
            listening: Arc::new(AtomicBool::new(false)),
            frames: Arc::default(),
            outbox: Arc::new(tokio::sync::Notify::new()),
            deliveries: Arc::new(tokio::sync::Notify::new()),
            arrivals: Arc::new(tokio::sync::Notify::new()),
            inbox: Arc::new(tokio::sync::Notify::new()),
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
            closing: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Ids of users whose access changed, as the changes commit.
    pub fn access_changes(&self) -> broadcast::Receiver<i64> {
        self.access.subscribe()
    }

    /// Changes whenever tickets may have changed (see `changes`).
    pub fn ticket_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Changes each time the LISTEN connection comes back: what was
    /// committed meanwhile was never announced.
    pub fn resyncs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.resync.subscribe()
    }

    /// The shared cell for one entry's frame for one audience; the first
    /// stream to ask fills it, the others wait for it.
    pub fn frame_cell(&self, entry: i64, audience: u8) -> FrameCell {
        const KEEP: usize = 512;
        let Ok(mut guard) = self.frames.lock() else {
            return Arc::default();
        };
        let (cells, order) = &mut *guard;
        if let Some(cell) = cells.get(&(entry, audience)) {
            return cell.clone();
        }
        let cell: FrameCell = Arc::default();
        cells.insert((entry, audience), cell.clone());
        order.push_back((entry, audience));
        while order.len() > KEEP {
            if let Some(old) = order.pop_front() {
                cells.remove(&old);
            }
        }
        cell
    }

    /// Ends every open event stream (server shutdown).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when the server starts shutting down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Whether the LISTEN connection is up.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    pub fn viewers(&self) -> usize {
        self.sender.receiver_count()
    }

    fn dispatch(&self, n: &tokio_postgres::Notification) {
        if n.channel() == crate::db::outbox::CHANNEL {
            self.outbox.notify_one();
            self.changes.send_modify(|n| *n += 1);
        } else if n.channel() == crate::db::deliveries::CHANNEL {
            self.deliveries.notify_one();
        } else if n.channel() == crate::db::arrival_triage::CHANNEL {
            self.arrivals.notify_one();
        } else if n.channel() == ACCESS_CHANNEL {
            if let Ok(user) = n.payload().parse() {
                let _ = self.access.send(user);
            }
        } else {
            self.publish(n.payload());
            self.changes.send_modify(|n| *n += 1);
        }
    }

    /// The LISTEN connection is up again: streams and the indexer look in
    /// the database for what they were not told.
    fn resynced(&self) {
        self.listening.store(true, Ordering::Release);
        self.resync.send_modify(|n| *n += 1);
        self.outbox.notify_one();
        self.deliveries.notify_one();
        self.arrivals.notify_one();
        self.inbox.notify_one();
        self.changes.send_modify(|n| *n += 1);
    }

    fn publish(&self, payload: &str) {
        let parsed = payload
            .split_once(':')
            .and_then(|(t, e)| Some((t.parse().ok()?, e.parse().ok()?)));
        if let Some(event) = parsed {
            // No receivers is fine: nobody has the ticket open.
            let _ = self.sender.send(event);
        }
    }
}

/// Keeps a LISTEN connection open for as long as the process runs,
/// reconnecting after failures. Pages that missed events meanwhile catch up
/// through `Last-Event-ID` when their stream reconnects.
pub fn spawn_listener(url: String, hub: Hub) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        const FIRST: Duration = Duration::from_millis(200);
        let mut delay = FIRST;
        loop {
            let result = listen_once(&url, &hub).await;
            // A connection that was up starts the back-off afresh: only
            // failures in a row make it grow.
            if hub.listening.swap(false, Ordering::AcqRel) {
                delay = FIRST;
            }
            match result {
                Ok(()) => tracing::warn!("the LISTEN connection closed; reconnecting"),
                Err(e) => tracing::warn!("the LISTEN connection failed: {e}; reconnecting"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    })
}

async fn listen_once(url: &str, hub: &Hub) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!(
        "LISTEN {CHANNEL}; LISTEN {}; LISTEN {ACCESS_CHANNEL}; LISTEN {}; LISTEN {}",
        crate::db::outbox::CHANNEL,
        crate::db::deliveries::CHANNEL,
        crate::db::arrival_triage::CHANNEL
    );
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    // The connection must be driven while LISTEN runs.
    loop {
        tokio::select! {
            done = &mut listen => { done?; break; }
            message = messages.next() => match message {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => hub.dispatch(&n),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
        }
    }
    hub.resynced();
    tracing::info!("listening for journal entries");
    // `client` stays alive while the notifications flow.
    while let Some(message) = messages.next().await {
        match message {
            Ok(tokio_postgres::AsyncMessage::Notification(n)) => hub.dispatch(&n),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
