//! A real SMTP server for the mail tests (mailin-embedded: blocking IO on
//! threads of its own), and the delivery machinery of `serve` started
//! beside an in-process test app.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{Handler, Response, Server, response};

use casebook::config::Delivery;

use super::TestApp;

/// One message as the server took it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// A header's value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn body(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        decode_body(&self.data, body)
    }
}

/// Bodies lettre sends as quoted-printable or base64 are decoded, so tests
/// can look for the words.
fn decode_body(message: &str, body: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("content-transfer-encoding: base64") {
        let parsed = mail_parser::MessageParser::default().parse(message.as_bytes());
        return parsed
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .unwrap_or_default();
    }
    if lower.contains("content-transfer-encoding: quoted-printable") {
        let parsed = mail_parser::MessageParser::default().parse(message.as_bytes());
        return parsed
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .unwrap_or_default();
    }
    body.to_owned()
}

#[derive(Clone)]
struct Collector {
    inbox: Arc<Mutex<Vec<Received>>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.lock().unwrap().push(Received {
            from: self.from.clone(),
            to: self.to.clone(),
            data: String::from_utf8_lossy(&self.data).into_owned(),
        });
        response::OK
    }
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    /// A server on a free port.
    pub fn start() -> Self {
        Self::start_on(super::process::free_port())
    }

    /// A server on `addr` (a port reserved earlier, for "the relay comes
    /// back" tests).
    pub fn start_on(addr: SocketAddr) -> Self {
        let inbox: Arc<Mutex<Vec<Received>>> = Arc::default();
        let listener = TcpListener::bind(addr).unwrap();
        let mut server = Server::new(Collector {
            inbox: inbox.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        });
        server.with_name("relay.test").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { addr, inbox }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived; panics with what did.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages within {limit:?}, got {}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Delivery settings for tests: the relay at `smtp` (plain SMTP), short
/// retries, and loopback allowed for webhooks.
pub fn settings(smtp: Option<SocketAddr>) -> Delivery {
    Delivery {
        smtp: smtp.map(|addr| casebook::config::Smtp {
            host: addr.ip().to_string(),
            port: addr.port(),
            tls: casebook::config::SmtpTls::None,
            user: None,
            password: None,
        }),
        from: "Casebook Desk <desk@casebook.test>".to_owned(),
        public_url: "http://casebook.test".to_owned(),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_millis(400),
        max_attempts: 50,
        timeout: Duration::from_secs(5),
        webhook_allow: vec!["127.0.0.1/32".parse().unwrap()],
        ..Delivery::default()
    }
}

/// What `serve` runs beside the app: the LISTEN connection (to wake the
/// worker) and the delivery worker, on their own pool.
pub struct Delivering {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Delivering {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Uses `settings` for the app too (the mail route's limits and domain).
pub fn start_delivering(app: &mut TestApp, settings: Delivery) -> Delivering {
    let mut config = (*app.state.config).clone();
    config.delivery = settings.clone();
    app.state.config = Arc::new(config);
    let listener = casebook::live::spawn_listener(app.db.url.clone(), app.state.hub.clone());
    let pool = casebook::db::pool(&app.db.url, 5).unwrap();
    let worker = casebook::notify::worker::spawn(pool, settings, app.state.hub.deliveries.clone());
    Delivering {
        tasks: vec![listener, worker],
    }
}

/// A mail gateway token, as the admin page makes one.
pub async fn mailgate_token(
    conn: &mut diesel_async::AsyncPgConnection,
    owner: &casebook::db::users::User,
) -> String {
    let token = casebook::secrets::new_token("cb_").unwrap();
    let prefix: String = token.chars().take(10).collect();
    casebook::db::api_tokens::create_mailgate(
        conn,
        casebook::domain::account::UserId(owner.id),
        "mx",
        &casebook::secrets::hash_token(&token),
        &prefix,
    )
    .await
    .unwrap();
    token
}

/// A plain-text message.
pub fn message(from: &str, subject: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = format!(
        "From: {from}\r\nTo: support@casebook.test\r\nSubject: {subject}\r\n\
         Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n"
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(&body.replace('\n', "\r\n"));
    text.into_bytes()
}

/// Counts of deliveries by status.
pub async fn delivery_counts(conn: &mut diesel_async::AsyncPgConnection) -> Vec<(String, i64)> {
    let mut counts = casebook::db::deliveries::counts(conn).await.unwrap();
    counts.sort();
    counts
}
