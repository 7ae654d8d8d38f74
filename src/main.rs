//! The `casebook` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use casebook::config::Config;
use casebook::{logging, server};

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
    },
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        Command::Migrate => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let config = Config {
        data_dir: cli.global.data_dir,
        listen,
        // An empty DATABASE_URL means "not set".
        database_url: cli.global.database_url.filter(|url| !url.trim().is_empty()),
        pg_bin_dir: cli.global.pg_bin_dir,
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

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("casebook: error: {e}");
    ExitCode::FAILURE
}
