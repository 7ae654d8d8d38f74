//! `bench-search --stages`: where a triage search spends its time, stage by
//! stage, and the CPU time of each query (a figure that another process
//! taking the CPU does not inflate, unlike the wall-clock latency).

use std::time::{Duration, Instant};

use serde::Serialize;

use casebook::search::{SearchIndex, matcher, triage};
use casebook::server::StartupError;

use super::data::Query;
use super::{LIMIT, Latency, command_error};

/// The stages of `triage::suggest_models`, each timed over every query.
#[derive(Debug, Clone, Serialize)]
pub struct Stages {
    /// Cleaning and analysing the text into terms, and adding the long
    /// forms of its abbreviations (`triage::expanded`).
    pub analyze: Latency,
    /// The clauses: a dictionary look-up per term and field.
    pub clauses: Latency,
    /// The first stage: the strong clauses pick the candidates.
    pub candidates: Latency,
    /// The second stage: every clause scores the candidates.
    pub score: Latency,
    /// The whole `suggest_models` (which also loads the hits' stored
    /// documents, makes the snippets and the matched words).
    pub whole: Latency,
    /// The thread's CPU time of the whole call (`None` where the system
    /// does not tell it).
    pub whole_cpu: Option<Latency>,
    /// Mean counts per query.
    pub terms: f64,
    pub clause_count: f64,
    pub candidate_count: f64,
}

impl Stages {
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (
                "  stage: analyze the text, expand abbreviations".to_owned(),
                self.analyze.line(),
            ),
            (
                "  stage: clauses (term look-ups)".to_owned(),
                self.clauses.line(),
            ),
            (
                "  stage: candidates (strong clauses)".to_owned(),
                self.candidates.line(),
            ),
            (
                "  stage: score the candidates".to_owned(),
                self.score.line(),
            ),
            ("  whole suggest_models".to_owned(), self.whole.line()),
        ];
        if let Some(cpu) = &self.whole_cpu {
            out.push((
                "  whole suggest_models, thread CPU time".to_owned(),
                cpu.line(),
            ));
        }
        out.push((
            "  per query (mean)".to_owned(),
            format!(
                "{:.1} terms, {:.1} clauses, {:.1} candidates scored",
                self.terms, self.clause_count, self.candidate_count
            ),
        ));
        out
    }
}

/// The CPU time this thread has run (the thread's CPU clock; not the
/// helper thread's, see `sum`). Not `/proc/thread-self/schedstat`: for a
/// running thread its figure moves only at scheduler ticks (measured: a
/// 1.5 ms busy loop read as 7 µs to 1.9 ms), so each query's CPU time was
/// a multiple of a tick.
fn thread_cpu() -> Option<Duration> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    ))
}

/// Times each stage of every query (after the warm-up queries).
pub fn measure(
    index: &SearchIndex,
    warm: &[Query],
    queries: &[Query],
) -> Result<Stages, StartupError> {
    let tuning = matcher::Tuning::default();
    for q in warm {
        triage::suggest_models(index, &q.text, LIMIT).map_err(command_error)?;
    }
    let (mut analyze, mut clauses, mut candidates, mut score, mut whole, mut cpu) =
        (vec![], vec![], vec![], vec![], vec![], Some(vec![]));
    let (mut terms, mut clause_count, mut candidate_count) = (0usize, 0usize, 0usize);
    for q in queries {
        let searcher = index.reader.searcher();
        let started = Instant::now();
        // As `suggest_models` does: the terms, then the long forms of the
        // abbreviations in them that the models define.
        let query = matcher::analyze_query(&q.text, &tuning);
        let query = triage::expanded(index, &searcher, &tuning, &query).map_err(command_error)?;
        analyze.push(started.elapsed());
        let started = Instant::now();
        let stats = triage::model_statistics(index, &searcher).map_err(command_error)?;
        let search = triage::model_search(index, &searcher, &stats, &tuning, &query)
            .map_err(command_error)?;
        clauses.push(started.elapsed());
        let started = Instant::now();
        let picked = search.candidates(LIMIT, None).map_err(command_error)?;
        candidates.push(started.elapsed());
        let started = Instant::now();
        let n = picked.len();
        search.score(picked).map_err(command_error)?;
        score.push(started.elapsed());
        terms += query.terms.len();
        clause_count += search.clauses().len();
        candidate_count += n;

        let cpu_before = thread_cpu();
        let started = Instant::now();
        triage::suggest_models(index, &q.text, LIMIT).map_err(command_error)?;
        whole.push(started.elapsed());
        match (cpu_before, thread_cpu(), cpu.as_mut()) {
            (Some(before), Some(after), Some(times)) => times.push(after.saturating_sub(before)),
            _ => cpu = None,
        }
    }
    let n = queries.len().max(1) as f64;
    Ok(Stages {
        analyze: Latency::of(&analyze),
        clauses: Latency::of(&clauses),
        candidates: Latency::of(&candidates),
        score: Latency::of(&score),
        whole: Latency::of(&whole),
        whole_cpu: cpu.map(|t| Latency::of(&t)),
        terms: terms as f64 / n,
        clause_count: clause_count as f64 / n,
        candidate_count: candidate_count as f64 / n,
    })
}
