//! `casebook-bench`: Casebook's benchmarks and its triage evaluation, kept
//! out of the product binary. Each command works on a scratch database (or
//! an in-memory index) of the PostgreSQL server named by DATABASE_URL and
//! prints a report; see README.md, "Benchmarks".

mod bench;
mod eval;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use casebook::config::Config;
use casebook::logging;
use casebook::server::StartupError;

#[derive(Parser)]
#[command(
    name = "casebook-bench",
    version,
    about = "Casebook's benchmarks and triage evaluation"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Where scratch indexes go.
    #[arg(
        long,
        env = "CASEBOOK_DATA_DIR",
        default_value = "./casebook-data",
        global = true
    )]
    data_dir: PathBuf,
    /// The PostgreSQL server to measure on (scratch databases are created
    /// there), e.g. postgres://postgres@127.0.0.1/postgres
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Measure triage matching on dev sets, next to baselines on the same data.
    ///
    /// Each set is a directory with models.jsonl (and distractors.jsonl,
    /// loaded with them when present), queries.jsonl (variant "full") and
    /// queries_hard.jsonl (variant "hard"); see ../shared/data/triage-dev.
    /// For every set and variant it prints Casebook's triage (with the
    /// share of queries whose gold model is among the first-stage
    /// candidates), plain BM25 over the whole model text (Casebook's
    /// analyzer, no field weights), and PostgreSQL full-text search ranked
    /// by ts_rank_cd and by ts_rank.
    EvalTriage {
        /// A dev set as NAME=DIR (or DIR); repeatable.
        #[arg(long = "set", required = true)]
        sets: Vec<eval::EvalSet>,
        /// Leave the sets' distractors.jsonl out.
        #[arg(long)]
        no_distractors: bool,
        /// Replace every model title by its words (CephOSDDown → Ceph OSD
        /// Down), as teams that title models in words would have them.
        #[arg(long)]
        worded_titles: bool,
        /// Change a query-time knob of the matcher (NAME=VALUE, e.g.
        /// title=1); for comparing variants, repeatable.
        #[arg(long, hide = true)]
        tune: Vec<String>,
        /// Print every query whose gold model is not first (to stderr).
        #[arg(long)]
        show_misses: bool,
        /// Also measure learning from links, leave-one-out: each query's
        /// siblings (same gold) are indexed as tickets linked to its model,
        /// the query itself never (line `casebook+links`).
        #[arg(long)]
        links: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure triage speed on generated models and tickets (a benchmark).
    ///
    /// Generates models and tickets into a scratch database, indexes them
    /// with the real indexer, and times the same alert-like queries through
    /// the search module, HTTP (--http) and PostgreSQL full-text search. The
    /// scratch database and index are dropped at the end unless --keep.
    /// See README.md, "Benchmarks".
    BenchSearch {
        /// Incident models to generate.
        #[arg(long, default_value_t = 100_000)]
        models: usize,
        /// Tickets to generate (each with 0 to 3 journal entries).
        #[arg(long, default_value_t = 1_000_000)]
        tickets: usize,
        /// Tickets linked to the model each was written from (the first
        /// ones): their public text fills the models' "seen as" field.
        #[arg(long, default_value_t = 200_000)]
        linked: usize,
        /// Triage queries to time on each path.
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
        /// How many of those queries (the first ones) also go to PostgreSQL
        /// full-text search, which takes seconds per query at full size
        /// (0: none, and no FTS table is built).
        #[arg(long, default_value_t = 50)]
        pg_queries: usize,
        /// Seed of the generated data and queries.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also time the queries through HTTP (the real app, in-process).
        #[arg(long)]
        http: bool,
        /// Reuse the database an earlier run kept (--keep) instead of loading.
        #[arg(long)]
        skip_load: bool,
        /// With --skip-load: reuse the kept index too instead of re-indexing
        /// (only while the analyzer and schema are unchanged).
        #[arg(long, requires = "skip_load")]
        skip_index: bool,
        /// Also time each stage of the search module's triage, and its CPU
        /// time per query.
        #[arg(long)]
        stages: bool,
        /// Leave out the warm-up the server runs at start and after every
        /// commit of the index (`triage::warm`): each query's first run then
        /// finds what it needs itself, as before a warm-up.
        #[arg(long)]
        no_warm: bool,
        /// Pause this many microseconds before each timed query's first run
        /// through the search module, as a server idles between requests
        /// (an idle CPU, on a VM especially, is slow to wake).
        #[arg(long, default_value_t = 0, value_name = "MICROSECONDS")]
        idle_before: u64,
        /// Keep the scratch database and index for a later --skip-load.
        #[arg(long)]
        keep: bool,
        /// The scratch database on the server (dropped and created).
        #[arg(long, default_value = "casebook_bench")]
        db_name: String,
        /// Print the report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Time the review queue, the improvement backlog and the rota page on
    /// generated data in a scratch database (see README, Benchmarks).
    BenchLoop {
        /// Tickets to generate (most resolved, most of those reviewed).
        #[arg(long, default_value_t = 100_000)]
        tickets: usize,
        /// Improvement items to generate, each with its history.
        #[arg(long, default_value_t = 20_000)]
        items: usize,
        /// Requests timed per page (after 20 to warm up).
        #[arg(long, default_value_t = 300)]
        requests: usize,
        /// Seed of the generated data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Keep the scratch database.
        #[arg(long)]
        keep: bool,
        /// The scratch database on the server (dropped and created).
        #[arg(long, default_value = "casebook_bench_loop")]
        db_name: String,
        /// Print the report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Measure mail intake through `casebook mailgate` (messages/s) and
    /// notification latency from commit to a real SMTP server (p50/p99).
    ///
    /// Needs the `casebook` binary beside this one (cargo build --release)
    /// or --mailgate PATH. Works on a scratch database, dropped at the end.
    BenchMail {
        /// Messages posted through mailgate in each of the two runs.
        #[arg(long, default_value_t = 200)]
        messages: usize,
        /// mailgate processes at once in the second run.
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        /// Public replies whose mail is timed, one after another.
        #[arg(long, default_value_t = 200)]
        notifications: usize,
        /// The casebook binary to run as mailgate.
        #[arg(long)]
        mailgate: Option<PathBuf>,
        #[arg(long, default_value = "casebook_bench_mail")]
        db_name: String,
        /// Print the report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// A burst of Alertmanager webhook deliveries through the alert intake
    /// (see README, Benchmarks): the receiver's p50/p99 (of its 202s),
    /// alerts/s accepted and end to end (until the inbox is drained), and a
    /// check that no ticket is lost or duplicated.
    BenchIntake {
        /// Alerts to send in all.
        #[arg(long, default_value_t = 10_000)]
        alerts: usize,
        /// Distinct fingerprints the alerts are drawn from (the rest repeat).
        #[arg(long, default_value_t = 1_500)]
        fingerprints: usize,
        /// Concurrent senders.
        #[arg(long, default_value_t = 16)]
        senders: usize,
        /// Alerts in a payload: 1 to this many.
        #[arg(long, default_value_t = 100)]
        max_batch: usize,
        /// Seed of the generated alerts.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Keep the scratch database.
        #[arg(long)]
        keep: bool,
        /// The scratch database on the server (dropped and created).
        #[arg(long, default_value = "casebook_bench_intake")]
        db_name: String,
        /// Print the report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Time the ticket page with a long journal over many models (see
    /// README, Benchmarks).
    BenchTicketPage {
        /// Incident models to generate (the triage suggestions search them).
        #[arg(long, default_value_t = 100_000)]
        models: usize,
        /// Other tickets to generate (possible duplicates search them).
        #[arg(long, default_value_t = 10_000)]
        tickets: usize,
        /// Journal entries on the measured ticket.
        #[arg(long, default_value_t = 500)]
        entries: usize,
        /// Requests timed (after 20 to warm up).
        #[arg(long, default_value_t = 300)]
        requests: usize,
        /// Seed of the generated data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Keep the scratch database and index.
        #[arg(long)]
        keep: bool,
        /// The scratch database on the server (dropped and created).
        #[arg(long, default_value = "casebook_bench_ticket_page")]
        db_name: String,
        /// Print the report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Time every reports page and export over HTTP against `casebook serve`.
    ///
    /// Generates a year of tickets with their transitions, links,
    /// escalations, replies and searches in SQL into a scratch database,
    /// starts the release `casebook` binary beside this one on it, and times
    /// each page per variant (periods, zones, each filter), then each
    /// table's JSON and CSV. Build both first: `cargo build --release`.
    BenchReports {
        /// Tickets to generate.
        #[arg(long, default_value_t = 1_000_000)]
        tickets: usize,
        /// Requests timed per page and variant (after 5 to warm up).
        #[arg(long, default_value_t = 100)]
        requests: usize,
        /// Requests timed per JSON or CSV table.
        #[arg(long, default_value_t = 20)]
        export_requests: usize,
        /// Seed of the generated data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Keep the scratch database for a later --skip-load.
        #[arg(long)]
        keep: bool,
        /// Reuse the database an earlier run kept instead of generating.
        #[arg(long)]
        skip_load: bool,
        /// The casebook binary to serve with (default: beside this one).
        #[arg(long)]
        casebook: Option<PathBuf>,
        /// The scratch database on the server (dropped and created).
        #[arg(long, default_value = "casebook_bench_reports")]
        db_name: String,
        /// Time only the pages and exports whose label contains this text
        /// (repeatable; e.g. `--only /reports/models`).
        #[arg(long)]
        only: Vec<String>,
        /// Print the report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Write COUNT generated model files into DIR, for import benchmarks.
    GenerateModels {
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Prints a benchmark's report: pretty JSON with `--json`, else its summary.
fn print_report(
    report: &impl serde::Serialize,
    json: bool,
    summary: impl FnOnce() -> String,
) -> Result<(), StartupError> {
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| StartupError::Command(e.to_string()))?;
        println!("{text}");
    } else {
        println!("{}", summary());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A benchmark's output is its report; request logs would bury it.
    logging::init_with_default("warn");
    let config = Config {
        data_dir: cli.global.data_dir,
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: cli.global.database_url.filter(|url| !url.trim().is_empty()),
        pg_bin_dir: None,
        secure_cookies: false,
        triage_sample: casebook::domain::rota::DEFAULT_SAMPLE,
        metrics_token: None,
        metrics_listen: None,
        delivery: casebook::config::Delivery::default(),
        time_zone: casebook::domain::zone::Tz::UTC,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    let result: Result<(), StartupError> = runtime.block_on(async move {
        match cli.command {
            Command::EvalTriage {
                sets,
                no_distractors,
                worded_titles,
                tune,
                show_misses,
                links,
                json,
            } => {
                let options = eval::EvalOptions {
                    no_distractors,
                    worded_titles,
                    tune,
                    show_misses,
                    links,
                };
                let lines = eval::eval_triage(&config, &sets, &options).await?;
                if json {
                    let out: Vec<serde_json::Value> = lines
                        .iter()
                        .map(|l| {
                            serde_json::json!({
                                "set": l.set, "variant": l.variant, "matcher": l.matcher,
                                "models": l.models, "n": l.scores.n, "top1": l.scores.top1,
                                "top3": l.scores.top3, "mrr": l.scores.mrr,
                                "candidate_recall": l.candidate_recall,
                            })
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(out));
                } else {
                    print!("{}", eval::table(&lines));
                }
                Ok(())
            }
            Command::BenchSearch {
                models,
                tickets,
                linked,
                queries,
                pg_queries,
                seed,
                http,
                skip_load,
                skip_index,
                stages,
                no_warm,
                idle_before,
                keep,
                db_name,
                json,
            } => {
                let options = bench::Options {
                    models,
                    tickets,
                    linked,
                    queries,
                    pg_queries,
                    seed,
                    http,
                    skip_load,
                    skip_index,
                    stages,
                    warm: !no_warm,
                    idle_before: std::time::Duration::from_micros(idle_before),
                    keep,
                    database: db_name,
                };
                let started = std::time::Instant::now();
                let report = bench::bench_search(&config, &options).await?;
                if json {
                    let text = serde_json::to_string_pretty(&report)
                        .map_err(|e| StartupError::Command(e.to_string()))?;
                    println!("{text}");
                } else {
                    println!("{}", report.summary());
                    println!(
                        "{:<48} {:.1} s",
                        "total wall time",
                        started.elapsed().as_secs_f64()
                    );
                }
                Ok(())
            }
            Command::BenchLoop {
                tickets,
                items,
                requests,
                seed,
                keep,
                db_name,
                json,
            } => {
                let options = bench::loop_pages::LoopOptions {
                    tickets,
                    items,
                    requests,
                    seed,
                    database: db_name,
                    keep,
                };
                let report = bench::loop_pages::bench_loop(&config, &options).await?;
                print_report(&report, json, || report.summary())
            }
            Command::BenchMail {
                messages,
                parallel,
                notifications,
                mailgate,
                db_name,
                json,
            } => {
                let options = bench::mail::MailOptions {
                    messages,
                    parallel,
                    notifications,
                    mailgate,
                    database: db_name,
                };
                let report = bench::mail::bench_mail(&config, &options).await?;
                print_report(&report, json, || report.summary())
            }
            Command::BenchIntake {
                alerts,
                fingerprints,
                senders,
                max_batch,
                seed,
                keep,
                db_name,
                json,
            } => {
                let options = bench::intake::IntakeOptions {
                    alerts,
                    fingerprints,
                    senders,
                    max_batch,
                    seed,
                    database: db_name,
                    keep,
                };
                let report = bench::intake::bench_intake(&config, &options).await?;
                print_report(&report, json, || report.summary())
            }
            Command::BenchTicketPage {
                models,
                tickets,
                entries,
                requests,
                seed,
                keep,
                db_name,
                json,
            } => {
                let options = bench::ticket_page::PageOptions {
                    models,
                    tickets,
                    entries,
                    requests,
                    seed,
                    database: db_name,
                    keep,
                };
                let report = bench::ticket_page::bench_ticket_page(&config, &options).await?;
                print_report(&report, json, || report.summary())
            }
            Command::BenchReports {
                tickets,
                requests,
                export_requests,
                seed,
                keep,
                skip_load,
                casebook,
                db_name,
                json,
                only,
            } => {
                let options = bench::reports_pages::ReportsOptions {
                    tickets,
                    requests,
                    export_requests,
                    seed,
                    database: db_name,
                    keep,
                    skip_load,
                    casebook,
                    only,
                };
                let report = bench::reports_pages::bench_reports(&config, &options).await?;
                print_report(&report, json, || report.summary())
            }
            Command::GenerateModels { dir, count, seed } => {
                casebook::commands::models::generate(&dir, count, seed)
                    .map_err(|e| StartupError::Command(e.to_string()))?;
                println!(
                    "casebook-bench: wrote {count} model file(s) to {}",
                    dir.display()
                );
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("casebook-bench: error: {e}");
    ExitCode::FAILURE
}
