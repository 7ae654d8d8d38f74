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

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    let (listen, secure_cookies, triage_sample, metrics_token, metrics_listen) = match &cli.command
    {
        Command::Serve {
            listen,
            secure_cookies,
            triage_sample,
            metrics_token,
            metrics_listen,
        } => (
            *listen,
            *secure_cookies,
            *triage_sample,
            // An empty token means "not set", never "any request".
            metrics_token.clone().filter(|t| !t.trim().is_empty()),
            *metrics_listen,
        ),
        _ => (
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            false,
            casebook::domain::rota::DEFAULT_SAMPLE,
            None,
            None,
        ),
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

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("casebook: error: {e}");
    ExitCode::FAILURE
}
