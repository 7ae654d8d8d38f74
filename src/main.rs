//! The `casebook` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use casebook::config::Config;
use casebook::server::StartupError;
use casebook::{commands, logging, server};

#[derive(Parser)]
#[command(
    name = "casebook",
    version,
    about = "Incident run-books and triage ticketing for operations and SRE teams",
    long_about = "Incident run-books and triage ticketing for operations and SRE teams.\n\n\
        Without DATABASE_URL, Casebook runs a private PostgreSQL cluster in its data \
        directory (the embedded default); with it, Casebook uses that server."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Casebook's own directory (the embedded database lives here).
    #[arg(
        long,
        env = "CASEBOOK_DATA_DIR",
        default_value = "./casebook-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Use this PostgreSQL server instead of the embedded one,
    /// e.g. postgres://user:password@host:5432/casebook
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
    /// Directory holding the PostgreSQL server binaries (initdb, postgres)
    /// for the embedded database; by default PATH, then /usr/lib/postgresql/*/bin.
    #[arg(long, env = "CASEBOOK_PG_BIN_DIR", global = true)]
    pg_bin_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the web UI and API until stopped.
    Serve {
        /// Address and port to listen on.
        #[arg(long, env = "CASEBOOK_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Mark cookies Secure: set this when users reach Casebook over HTTPS
        /// (directly or through a proxy).
        #[arg(long, env = "CASEBOOK_SECURE_COOKIES")]
        secure_cookies: bool,
        /// How many of each week's triaged tickets are offered for triage review.
        #[arg(long, env = "CASEBOOK_TRIAGE_SAMPLE", default_value_t = casebook::domain::rota::DEFAULT_SAMPLE)]
        triage_sample: usize,
        /// Serve /metrics (Prometheus) on the main listener to requests with
        /// `Authorization: Bearer <this token>`.
        #[arg(long, env = "CASEBOOK_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// Serve /metrics, without a token, on this second address (one only
        /// the monitoring network reaches).
        #[arg(long, env = "CASEBOOK_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// The time zone (an IANA name, like Europe/Berlin) for people who
        /// have not chosen their own on their account page.
        #[arg(long, env = "CASEBOOK_TIME_ZONE", default_value = "UTC", value_parser = time_zone)]
        time_zone: chrono_tz::Tz,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Hand one RFC 5322 message on standard input to a running Casebook
    /// (for an MTA's pipe transport, like RT's rt-mailgate). Exit status:
    /// 0 delivered (or deliberately dropped), 75 temporary failure (the MTA
    /// retries), 65 the message was refused as malformed or too large,
    /// 77 the sender may not do this.
    Mailgate {
        /// Casebook's address, e.g. https://casebook.example.com
        #[arg(long, env = "CASEBOOK_URL")]
        url: String,
        /// A mail gateway token (Administration → Mail).
        #[arg(long, env = "CASEBOOK_MAILGATE_TOKEN", hide_env_values = true)]
        token: String,
        /// `correspond` (public replies, new tickets) or `comment` (internal
        /// notes, team only): route the comment address to the latter.
        #[arg(long, default_value = "correspond")]
        action: String,
        /// Give up after this many seconds (then exit 75).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Import incident models from the *.md files in DIR (one model per
    /// file, all or nothing; a revision only where the text changed).
    Import { dir: PathBuf },
    /// Export every incident model as DIR/<key>.md in the canonical format.
    Export { dir: PathBuf },
    /// Load the demo incident models (about 20 common operations incidents)
    /// and a few weeks of past work: people of each role, tickets, reviews,
    /// improvement items, a rota.
    Demo {
        /// Load the models only.
        #[arg(long)]
        no_history: bool,
    },
    /// Rebuild this data directory's search index from PostgreSQL.
    Reindex,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (only its hash is kept:
    /// this is the one time it is shown).
    Create {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// A name for the token, shown on the user's account page.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// Mail out, webhooks and mail in (see README, "Mail and webhooks").
#[derive(Args, Clone)]
struct MailArgs {
    /// SMTP relay host; without it notifications are queued, not sent.
    #[arg(long, env = "CASEBOOK_SMTP_HOST")]
    smtp_host: Option<String>,
    /// SMTP relay port (25 plain, 587 STARTTLS, 465 TLS).
    #[arg(long, env = "CASEBOOK_SMTP_PORT", default_value_t = 25)]
    smtp_port: u16,
    /// none, starttls or tls.
    #[arg(long, env = "CASEBOOK_SMTP_TLS", default_value = "none")]
    smtp_tls: casebook::config::SmtpTls,
    #[arg(long, env = "CASEBOOK_SMTP_USER")]
    smtp_user: Option<String>,
    #[arg(long, env = "CASEBOOK_SMTP_PASSWORD", hide_env_values = true)]
    smtp_password: Option<String>,
    /// From address of notifications; its domain names our Message-IDs.
    #[arg(
        long,
        env = "CASEBOOK_MAIL_FROM",
        default_value = "Casebook <casebook@localhost>"
    )]
    mail_from: String,
    /// Where people reach Casebook, for links in mail.
    #[arg(long, env = "CASEBOOK_PUBLIC_URL")]
    public_url: Option<String>,
    /// Milliseconds before the first retry of a failed delivery (doubling).
    #[arg(long, env = "CASEBOOK_RETRY_BASE_MS", default_value_t = 30_000)]
    retry_base_ms: u64,
    /// Tries before a delivery is marked failed.
    #[arg(long, env = "CASEBOOK_DELIVERY_ATTEMPTS", default_value_t = 12)]
    delivery_attempts: i32,
    /// Seconds one SMTP conversation or webhook call may take.
    #[arg(long, env = "CASEBOOK_DELIVERY_TIMEOUT", default_value_t = 30)]
    delivery_timeout: u64,
    /// Comma-separated non-public ranges webhooks may reach anyway
    /// (e.g. 10.1.2.0/24); loopback, private and link-local are refused
    /// otherwise.
    #[arg(long, env = "CASEBOOK_WEBHOOK_ALLOW", value_delimiter = ',')]
    webhook_allow: Vec<casebook::config::Cidr>,
}

impl MailArgs {
    fn delivery(&self, listen: SocketAddr) -> casebook::config::Delivery {
        use casebook::config::{Delivery, Smtp};
        Delivery {
            smtp: self.smtp_host.as_ref().map(|host| Smtp {
                host: host.clone(),
                port: self.smtp_port,
                tls: self.smtp_tls,
                user: self.smtp_user.clone(),
                password: self.smtp_password.clone(),
            }),
            from: self.mail_from.clone(),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{listen}"))
                .trim_end_matches('/')
                .to_owned(),
            retry_base: std::time::Duration::from_millis(self.retry_base_ms.max(1)),
            max_attempts: self.delivery_attempts.max(1),
            timeout: std::time::Duration::from_secs(self.delivery_timeout.max(1)),
            webhook_allow: self.webhook_allow.clone(),
            ..Delivery::default()
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is asked for on the terminal, or read as
    /// one line from standard input when that is not a terminal.
    Add {
        /// Email address (unique, case-insensitive); also the sign-in name.
        #[arg(long)]
        email: String,
        /// customer, engineer, reviewer, manager or admin.
        #[arg(long)]
        role: String,
        /// Organization (required for customers); created if it does not exist.
        #[arg(long)]
        org: Option<String>,
        /// Display name; defaults to the part of the email before the @.
        #[arg(long)]
        name: Option<String>,
    },
}

/// `--time-zone`: a zone name, with the same message as the account page.
fn time_zone(input: &str) -> Result<chrono_tz::Tz, String> {
    casebook::domain::zone::parse("time_zone", input).map_err(|e| e.message)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    if let Command::Mailgate {
        url,
        token,
        action,
        timeout,
    } = &cli.command
    {
        return mailgate(url, token, action, *timeout);
    }
    let (listen, secure_cookies, triage_sample, metrics_token, metrics_listen, delivery) =
        match &cli.command {
            Command::Serve {
                listen,
                secure_cookies,
                triage_sample,
                metrics_token,
                metrics_listen,
                mail,
                ..
            } => (
                *listen,
                *secure_cookies,
                *triage_sample,
                // An empty token means "not set", never "any request".
                metrics_token.clone().filter(|t| !t.trim().is_empty()),
                *metrics_listen,
                mail.delivery(*listen),
            ),
            _ => (
                SocketAddr::from(([127, 0, 0, 1], 8080)),
                false,
                casebook::domain::rota::DEFAULT_SAMPLE,
                None,
                None,
                casebook::config::Delivery::default(),
            ),
        };
    let time_zone = match &cli.command {
        Command::Serve { time_zone, .. } => *time_zone,
        _ => chrono_tz::Tz::UTC,
    };
    let config = Config {
        data_dir: cli.global.data_dir,
        listen,
        // An empty DATABASE_URL means "not set".
        database_url: cli.global.database_url.filter(|url| !url.trim().is_empty()),
        pg_bin_dir: cli.global.pg_bin_dir,
        secure_cookies,
        triage_sample,
        metrics_token,
        metrics_listen,
        delivery,
        time_zone,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    // block_on keeps the main future on this thread, which the embedded
    // database's parent-death signal relies on.
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => server::serve(config).await,
            Command::User(UserCommand::Add {
                email,
                role,
                org,
                name,
            }) => {
                let password = read_password()?;
                let added = commands::add_user(
                    &config,
                    commands::NewAccount {
                        email,
                        role,
                        organization: org,
                        display_name: name,
                        password,
                    },
                )
                .await?;
                if let Some(org) = &added.created_organization {
                    println!("casebook: created organization {org}");
                }
                println!(
                    "casebook: added {} {} (id {})",
                    added.role, added.email, added.user_id
                );
                Ok(())
            }
            Command::Import { dir } => {
                let started = std::time::Instant::now();
                let report = commands::with_database(&config, async move |conn| {
                    Ok(commands::import_dir(conn, &dir).await?)
                })
                .await?;
                println!(
                    "casebook: imported: {report} ({:.1}s)",
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Command::Export { dir } => {
                let written = commands::with_database(&config, async move |conn| {
                    Ok(commands::export(conn, &dir).await?)
                })
                .await?;
                println!("casebook: exported {written} model(s)");
                Ok(())
            }
            Command::Demo { no_history } => {
                let (report, history) = commands::with_database(&config, async move |conn| {
                    let report = commands::demo(conn).await?;
                    let history = if no_history {
                        None
                    } else {
                        Some(
                            commands::history::demo_history(conn, chrono::Utc::now())
                                .await
                                .map_err(|e| StartupError::Command(e.to_string()))?,
                        )
                    };
                    Ok((report, history))
                })
                .await?;
                println!("casebook: demo models: {report}");
                if let Some(history) = history {
                    println!("casebook: demo history: {history}");
                }
                Ok(())
            }
            Command::Token(TokenCommand::Create { email, name }) => {
                let token = commands::create_token(&config, &email, &name).await?;
                println!("{token}");
                Ok(())
            }
            Command::Reindex => {
                let (models, tickets) = commands::search::reindex(&config).await?;
                println!("casebook: reindexed {models} model(s) and {tickets} ticket(s)");
                Ok(())
            }
            Command::Mailgate { .. } => Ok(()),
            Command::Migrate => server::migrate(&config).await.map(|applied| {
                if applied.is_empty() {
                    println!("casebook: the database is up to date");
                } else {
                    println!(
                        "casebook: applied {} migration(s): {}",
                        applied.len(),
                        applied.join(", ")
                    );
                }
            }),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// From the terminal without echo (asked twice), or one line of stdin.
fn read_password() -> Result<String, StartupError> {
    use std::io::{BufRead, IsTerminal};
    let failed =
        |e: std::io::Error| StartupError::Command(format!("could not read the password: {e}"));
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(failed)?;
        let second = rpassword::prompt_password("Password again: ").map_err(failed)?;
        if first != second {
            return Err(StartupError::Command(
                "the passwords do not match".to_owned(),
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(failed)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// `casebook mailgate`: one message from stdin to `POST /api/v1/mail`.
fn mailgate(url: &str, token: &str, action: &str, timeout: u64) -> ExitCode {
    use std::io::Read;
    let mut message = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut message) {
        eprintln!("casebook mailgate: could not read the message: {e}");
        return ExitCode::from(casebook::mail::gate::EX_TEMPFAIL);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("casebook mailgate: {e}");
            return ExitCode::from(casebook::mail::gate::EX_TEMPFAIL);
        }
    };
    let outcome = runtime.block_on(casebook::mail::gate::post(
        url,
        token,
        action,
        message,
        std::time::Duration::from_secs(timeout.max(1)),
    ));
    match &outcome {
        Ok(said) => println!("casebook mailgate: {said}"),
        Err(e) => eprintln!("casebook mailgate: {e}"),
    }
    ExitCode::from(casebook::mail::gate::exit_code(&outcome))
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("casebook: error: {e}");
    ExitCode::FAILURE
}
