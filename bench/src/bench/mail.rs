//! `casebook-bench bench-mail`: mail intake through the real `casebook
//! mailgate` binary (messages/s, one at a time and several at once, as an
//! MTA's parallel deliveries would), and notification latency from the
//! commit of a public reply to its arrival at a real SMTP server
//! (mailin-embedded, in this process) through the real delivery worker.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::HttpServer;
use mailin_embedded::{Handler, Response, Server, response};
use serde::Serialize;

use super::scratch::{Scratch, with_database};
use super::{Latency, command_error};
use casebook::app::{self, AppState};
use casebook::config::{Config, Delivery, Smtp, SmtpTls};
use casebook::db;
use casebook::domain::account::{OrgId, Role, UserId};
use casebook::domain::policy::Visibility;
use casebook::search::SearchIndex;
use casebook::secrets::{dummy_password_hash, hash_token, new_token};
use casebook::server::StartupError;

#[derive(Debug, Clone)]
pub struct MailOptions {
    pub messages: usize,
    pub parallel: usize,
    pub notifications: usize,
    pub mailgate: Option<PathBuf>,
    pub database: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MailReport {
    pub messages: usize,
    pub sequential_per_second: f64,
    pub parallel: usize,
    pub parallel_per_second: f64,
    pub notification_latency: Latency,
}

impl MailReport {
    pub fn summary(&self) -> String {
        format!(
            "mail intake through casebook mailgate, one at a time   {:8.1} messages/s  (n={})\n\
             mail intake through casebook mailgate, {} at once       {:8.1} messages/s  (n={})\n\
             notification latency, commit to test SMTP server    p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms   (n={})",
            self.sequential_per_second,
            self.messages,
            self.parallel,
            self.parallel_per_second,
            self.messages,
            self.notification_latency.p50_ms,
            self.notification_latency.p99_ms,
            self.notification_latency.max_ms,
            self.notification_latency.n
        )
    }
}

/// When each message reached the SMTP server, with its text.
type Arrivals = Arc<Mutex<Vec<(Instant, String)>>>;

#[derive(Clone)]
struct Relay {
    arrivals: Arrivals,
    data: Vec<u8>,
}

impl Handler for Relay {
    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> Response {
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Ok(mut arrivals) = self.arrivals.lock() {
            arrivals.push((
                Instant::now(),
                String::from_utf8_lossy(&self.data).into_owned(),
            ));
        }
        response::OK
    }
}

fn relay() -> Result<(SocketAddr, Arrivals), StartupError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(command_error)?;
    let addr = listener.local_addr().map_err(command_error)?;
    let arrivals: Arrivals = Arc::default();
    let mut server = Server::new(Relay {
        arrivals: arrivals.clone(),
        data: Vec::new(),
    });
    server.with_name("bench.relay").with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    Ok((addr, arrivals))
}

pub async fn bench_mail(config: &Config, opts: &MailOptions) -> Result<MailReport, StartupError> {
    let mailgate = match &opts.mailgate {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(command_error)?
            .with_file_name("casebook"),
    };
    if !mailgate.is_file() {
        return Err(command_error(format!(
            "{} not found: build it first (cargo build --release) or pass --mailgate",
            mailgate.display()
        )));
    }
    let scratch = Scratch {
        name: &opts.database,
        fresh: true,
        keep: false,
    };
    with_database(config, scratch, async |url| {
        run(config, opts, url, &mailgate).await
    })
    .await
}

async fn run(
    config: &Config,
    opts: &MailOptions,
    url: &str,
    mailgate: &std::path::Path,
) -> Result<MailReport, StartupError> {
    db::migrate(url, db::MIGRATIONS).await?;
    let mut conn = db::connect(url).await?;
    let org = casebook::db::users::create_organization(&mut conn, "Bench Mail").await?;
    let new_user = async |conn: &mut diesel_async::AsyncPgConnection, email: &str, role: Role| {
        casebook::db::users::create(
            conn,
            casebook::db::users::NewUser {
                email,
                display_name: email,
                role,
                organization: (role == Role::Customer).then_some(OrgId(org.id)),
                password_hash: dummy_password_hash(),
            },
        )
        .await
    };
    let customer = new_user(&mut conn, "customer@bench.example", Role::Customer).await?;
    let engineer = new_user(&mut conn, "engineer@bench.example", Role::Engineer).await?;
    let token = new_token("cb_").map_err(command_error)?;
    casebook::db::api_tokens::create_mailgate(
        &mut conn,
        UserId(engineer.id),
        "bench",
        &hash_token(&token),
        &token.chars().take(10).collect::<String>(),
    )
    .await?;

    let (relay_addr, arrivals) = relay()?;
    let delivery = Delivery {
        smtp: Some(Smtp {
            host: relay_addr.ip().to_string(),
            port: relay_addr.port(),
            tls: SmtpTls::None,
            user: None,
            password: None,
        }),
        from: "Bench <desk@bench.example>".to_owned(),
        ..Delivery::default()
    };
    let mut app_config = config.clone();
    app_config.delivery = delivery.clone();
    let pool = db::pool(url, 16).map_err(StartupError::Pool)?;
    let state = AppState::new(
        pool,
        app_config,
        SearchIndex::in_memory().map_err(command_error)?,
    );
    let listener = casebook::live::spawn_listener(url.to_owned(), state.hub.clone());
    let worker = casebook::notify::worker::spawn(
        db::pool(url, 5).map_err(StartupError::Pool)?,
        delivery,
        state.hub.deliveries.clone(),
    );
    let http = TcpListener::bind("127.0.0.1:0").map_err(command_error)?;
    let base = format!("http://{}", http.local_addr().map_err(command_error)?);
    let server_state = state.clone();
    let server = HttpServer::new(move || app::build(server_state.clone()))
        .workers(2)
        .listen(http)
        .map_err(command_error)?
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    // The LISTEN connection must be up before latency is measured.
    let ready = Instant::now();
    while !state.hub.is_listening() && ready.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let gate = |n: usize| {
        let raw = format!(
            "From: customer@bench.example\r\nTo: support@bench.example\r\n\
             Subject: Bench message {n}\r\nMessage-ID: <bench-{n}@bench.example>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nMessage number {n}: the VPN is down again.\r\n"
        );
        let mut child = std::process::Command::new(mailgate)
            .args(["mailgate", "--url", &base, "--token", &token])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(command_error)?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(raw.as_bytes()).map_err(command_error)?;
        }
        let out = child.wait_with_output().map_err(command_error)?;
        if !out.status.success() {
            return Err(command_error(format!(
                "mailgate failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    };
    let started = Instant::now();
    let mailgate_seq = {
        let gate = &gate;
        tokio::task::block_in_place(|| (0..opts.messages).try_for_each(gate))
    };
    mailgate_seq?;
    let sequential = started.elapsed();
    let started = Instant::now();
    let parallel: Result<(), StartupError> = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..opts.parallel.max(1))
                .map(|w| {
                    let gate = &gate;
                    scope.spawn(move || {
                        (0..opts.messages)
                            .filter(|n| n % opts.parallel.max(1) == w)
                            .try_for_each(|n| gate(opts.messages + n))
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().map_err(|_| command_error("a worker panicked"))?)
        })
    });
    parallel?;
    let in_parallel = started.elapsed();

    // Notification latency: a reply, its commit time, its arrival.
    let ticket = casebook::tickets::open(
        &mut conn,
        &customer.viewer(),
        casebook::tickets::OpenTicket {
            title: "Latency",
            description: "",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .map_err(command_error)?
    .id;
    let mut latencies = Vec::with_capacity(opts.notifications);
    for n in 0..opts.notifications {
        let marker = format!("latency-marker-{n}-end");
        casebook::tickets::write(
            &mut conn,
            &engineer.viewer(),
            ticket,
            &marker,
            Visibility::Public,
        )
        .await
        .map_err(command_error)?;
        let committed = Instant::now();
        let deadline = committed + Duration::from_secs(30);
        loop {
            let arrived = arrivals.lock().ok().and_then(|a| {
                a.iter()
                    .find(|(_, text)| text.contains(&marker))
                    .map(|(at, _)| *at)
            });
            if let Some(at) = arrived {
                latencies.push(at.saturating_duration_since(committed));
                break;
            }
            if Instant::now() > deadline {
                return Err(command_error(format!(
                    "notification {n} did not arrive in 30 s"
                )));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    handle.stop(false).await;
    listener.abort();
    worker.abort();
    Ok(MailReport {
        messages: opts.messages,
        sequential_per_second: opts.messages as f64 / sequential.as_secs_f64(),
        parallel: opts.parallel,
        parallel_per_second: opts.messages as f64 / in_parallel.as_secs_f64(),
        notification_latency: Latency::of(&latencies),
    })
}
