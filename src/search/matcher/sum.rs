//! The candidate stage's sum of clause scores ([`top_by_sum`]): the
//! documents with the highest sum of BM25 term scores, term at a time, with
//! exact MaxScore pruning.
//!
//! Clauses are summed in decreasing order of the most each can add (its
//! BM25 weight: boost × idf × (k1 + 1); the term frequency part stays below
//! 1). Rare words come first and touch few documents; the common words of a
//! long alert text come last and hold the longest postings. Once the
//! `wanted`-th best partial sum is above what all the remaining clauses
//! together can add, a document none of the clauses summed so far holds
//! cannot reach the top: the remaining clauses are then only looked up for
//! the documents that still can (a seek through the skip list instead of
//! decoding and scoring every posting), and those that fall behind the
//! rising threshold are dropped as it rises. A remaining clause whose
//! postings are no more than the documents touched is first read whole
//! instead, for those documents alone: a look-up goes through every
//! document still in the running, and when the second phase starts that is
//! nearly every document touched. The result is the one the
//! plain sum gives: every document's sum adds the same clause scores in the
//! same order, and a document is dropped only when even its upper bound is
//! below the threshold.
//!
//! The most a clause can add is its exact maximum over the segment, not
//! BM25's bound for an infinitely frequent word (boost × idf × (k1 + 1)):
//! the common words of a long text hold in no model more than a few times
//! in a long field, so their scores stay well below that bound, and the
//! threshold passes the tight sum of the remaining clauses several clauses
//! earlier. The maximum comes from the term's [`Frontier`] in the segment,
//! which does not depend on the query or on the statistics (the average
//! length changes with every model added): it is found once per segment
//! and term, and kept ([`FRONTIERS`]) until the segment is gone.
//!
//! A segment whose clauses hold many postings is summed as two document
//! ranges at once, the second by a helper thread kept for the process (the
//! bench's index is one segment of 1,100,000 documents): each range's best
//! `wanted` hold the segment's best, as a document's sum does not depend on
//! the others. The searching thread sums the second range itself when the
//! helper has not started on it by the time the first is done: a thread
//! started per search, or a helper waking on a core that had gone idle,
//! often came late (on a VM, waking an idle virtual CPU takes up to
//! milliseconds), and the search waited for it. In
//! the second phase the documents still in the running carry their sums
//! in a compact list, taken in index order from a bitmap of the documents
//! seen, and a threshold is selected only from the sums at or above the
//! last one.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, mpsc};

use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::SegmentId;
use tantivy::postings::{BlockSegmentPostings, Postings, SegmentPostings, TermInfo};
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    DocAddress, DocId, InvertedIndexReader, Score, Searcher, SegmentReader, TERMINATED, Term,
};

use super::Clause;

/// Relative slack on every comparison of a bound with the threshold, far
/// above the rounding of a sum of a few hundred `f32` scores: a document is
/// dropped only when it is clearly out.
const SLACK: f32 = 1e-4;

/// One clause ready to score: its BM25 weight with the boost, as tantivy's
/// term scorer has it, so that a score here is bit for bit the one tantivy
/// gives, and the most it can add to a document's score whatever the
/// document (BM25's bound, which orders the clauses).
struct Scoring {
    term: Term,
    weight: Bm25Weight,
    most: Score,
}

/// How a [`top_by_sum`] went (tests check that pruning happens).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct SumCounts {
    /// Clause × segment pairs whose postings were read whole.
    pub scanned: usize,
    /// Clause × segment pairs only looked up for the documents still in
    /// the running.
    pub sought: usize,
    /// Clause × segment pairs whose postings were read whole, but only for
    /// the documents the clauses before had touched.
    pub narrowed: usize,
    /// Clause × segment pairs whose [`Frontier`] had to be found (not yet
    /// kept from an earlier search).
    pub frontiers_found: usize,
}

/// The working arrays of one range's sum: the score per document of a
/// segment (all zero between searches, so that a search neither allocates
/// nor clears a segment-sized array) and scratch for the threshold (the
/// `wanted`-th best of a set of scores). Kept between searches in
/// [`BUFFERS`], one set per range summed at the same time.
#[derive(Default)]
struct Buffers {
    scores: Vec<f32>,
    /// One bit per document of the segment: set once a clause has scored
    /// it (all clear between searches), so that the documents still in
    /// the running are listed in index order without a sort.
    seen: Vec<u64>,
    scratch: Vec<f32>,
    /// The documents scored so far, in the order first seen, and those
    /// still in the running with their sums (emptied after each search,
    /// their room kept: a search touches up to a segment's documents, and
    /// a list that large, allocated anew, is fresh pages from the system
    /// every time).
    touched: Vec<DocId>,
    live: Vec<(DocId, f32)>,
}

static BUFFERS: Mutex<Vec<Buffers>> = Mutex::new(Vec::new());

/// A set of [`Buffers`] (a kept one when there is one).
fn take_buffers() -> Buffers {
    let mut kept = BUFFERS.lock().unwrap_or_else(|e| e.into_inner());
    kept.pop().unwrap_or_default()
}

/// Gives `buffers` back (its scores all zero again) for the next search.
fn give_back(buffers: Buffers) {
    let mut kept = BUFFERS.lock().unwrap_or_else(|e| e.into_inner());
    // At most one set per range summed at once, and a few searches at once.
    if kept.len() < 8 {
        kept.push(buffers);
    }
}

/// A segment whose clauses hold more postings than this is summed in two
/// document ranges at once, one on another thread (see [`top_by_sum`]);
/// below, starting a thread costs more than it saves.
const SPLIT_ABOVE_POSTINGS: u64 = 20_000;

/// The (field norm id, term frequency) pairs of a term's postings in one
/// segment among which its highest BM25 score is, whatever the weight and
/// the average length: per field norm (a document's length), the highest
/// frequency, leaving out the pairs another pair beats at every average
/// length (as short or shorter, as frequent or more). A BM25 score grows
/// with the frequency and falls with the length, so the best of these
/// pairs is the term's maximum in the segment, deleted documents included
/// (a bound for the living ones).
type Frontier = Arc<[(u8, u32)]>;

/// The kept frontiers: per segment (with when a search last used it), per
/// term. Segments are immutable (deletes only hide documents), so a
/// frontier stays true as long as its segment exists.
struct Frontiers {
    segments: HashMap<SegmentId, (u64, HashMap<Term, Frontier>)>,
    /// The segments [`warm`] has been through (or is going through).
    warm: HashSet<SegmentId>,
    /// Counts the searches, for the least recently used segment.
    tick: u64,
}

/// More segments than this, and the least recently used are dropped (those
/// merged away or of a searcher gone are never used again).
const MOST_SEGMENTS_KEPT: usize = 32;

/// More terms than this in one segment, and the segment's frontiers are
/// found anew (a bound on the memory; the models' vocabulary is far below).
const MOST_TERMS_KEPT: usize = 400_000;

static FRONTIERS: LazyLock<Mutex<Frontiers>> = LazyLock::new(|| {
    Mutex::new(Frontiers {
        segments: HashMap::new(),
        warm: HashSet::new(),
        tick: 0,
    })
});

/// The kept frontiers, locked.
fn kept() -> std::sync::MutexGuard<'static, Frontiers> {
    FRONTIERS.lock().unwrap_or_else(|e| e.into_inner())
}

impl Frontiers {
    /// The frontiers kept for segment `id`, which a search uses now.
    fn used(&mut self, id: SegmentId) -> &mut HashMap<Term, Frontier> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self
            .segments
            .entry(id)
            .or_insert_with(|| (tick, HashMap::new()));
        entry.0 = tick;
        &mut entry.1
    }

    /// Keeps the frontiers `found` in segment `id` (all of the segment's
    /// found anew past [`MOST_TERMS_KEPT`]), and drops the least recently
    /// used segments once more than [`MOST_SEGMENTS_KEPT`] are kept.
    fn keep(&mut self, id: SegmentId, found: Vec<(Term, Frontier)>) {
        let tick = self.tick;
        let entry = self
            .segments
            .entry(id)
            .or_insert_with(|| (tick, HashMap::new()));
        if entry.1.len() + found.len() > MOST_TERMS_KEPT {
            entry.1.clear();
        }
        entry.1.extend(found);
        if self.segments.len() > MOST_SEGMENTS_KEPT {
            let mut ticks: Vec<u64> = self.segments.values().map(|(t, _)| *t).collect();
            ticks.sort_unstable_by(|a, b| b.cmp(a));
            let oldest_kept = ticks[MOST_SEGMENTS_KEPT / 2 - 1];
            self.segments.retain(|_, (t, _)| *t >= oldest_kept);
            let Frontiers { segments, warm, .. } = self;
            warm.retain(|id| segments.contains_key(id));
        }
    }
}

/// The frontiers of `terms` in `reader`'s segment, found where not kept.
fn frontiers_of(
    reader: &SegmentReader,
    terms: &[&Term],
    counts: &mut SumCounts,
) -> tantivy::Result<Vec<Frontier>> {
    let id = reader.segment_id();
    let mut out: Vec<Option<Frontier>> = {
        let mut kept = kept();
        let of_segment = kept.used(id);
        terms.iter().map(|t| of_segment.get(*t).cloned()).collect()
    };
    let mut found = Vec::new();
    for (term, slot) in terms.iter().zip(out.iter_mut()) {
        if slot.is_none() {
            let frontier = frontier(reader, term)?;
            counts.frontiers_found += 1;
            found.push(((*term).clone(), frontier.clone()));
            *slot = Some(frontier);
        }
    }
    if !found.is_empty() {
        kept().keep(id, found);
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// `term`'s [`Frontier`] in `reader`'s segment: one pass over its postings.
fn frontier(reader: &SegmentReader, term: &Term) -> tantivy::Result<Frontier> {
    let inverted = reader.inverted_index(term.field())?;
    let Some(info) = inverted.get_term_info(term)? else {
        return Ok(Arc::from([]));
    };
    frontier_at(&inverted, &info, &norms(reader, term.field())?)
}

/// The [`Frontier`] of the term whose postings `info` places in `inverted`,
/// with its field's `norms`.
fn frontier_at(
    inverted: &InvertedIndexReader,
    info: &TermInfo,
    norms: &FieldNormReader,
) -> tantivy::Result<Frontier> {
    let mut block =
        inverted.read_block_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
    let mut most = [0u32; 256];
    loop {
        let docs = block.docs();
        if docs.is_empty() {
            break;
        }
        for (&doc, &tf) in docs.iter().zip(block.freqs()) {
            let cell = &mut most[norms.fieldnorm_id(doc) as usize];
            *cell = (*cell).max(tf);
        }
        block.advance();
    }
    // Shortest first; a longer field norm only where its frequency is
    // higher than every shorter one's.
    let mut out = Vec::new();
    let mut best = 0;
    for (id, &tf) in most.iter().enumerate() {
        if tf > best {
            out.push((id as u8, tf));
            best = tf;
        }
    }
    Ok(Arc::from(out))
}

/// Terms held by fewer documents of a segment than this are left to the
/// first search that needs them by [`warm`]: their frontier takes
/// microseconds to find, and there are many of them.
pub(crate) const WARM_FROM_DOC_FREQ: u32 = 256;

/// What a [`warm`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Warmed {
    /// Segments whose terms were looked at (not kept from an earlier warm).
    pub segments: usize,
    /// Frontiers found and kept.
    pub frontiers: usize,
}

/// Finds and keeps ([`FRONTIERS`]) the frontier of every term of `fields`
/// that at least `from_doc_freq` documents of a segment hold, in every
/// segment of `searcher` not warmed before, so that a search's first use of
/// a common word does not pay for a pass over its postings (a long alert
/// text meets a few such words the index had not been asked before, and
/// each one is a pass over up to every model). A warmed segment stays
/// warm while it is kept (see [`MOST_SEGMENTS_KEPT`]); at most
/// [`MOST_TERMS_KEPT`] terms per segment.
pub(crate) fn warm(
    searcher: &Searcher,
    fields: &[Field],
    from_doc_freq: u32,
) -> tantivy::Result<Warmed> {
    let mut warmed = Warmed::default();
    for reader in searcher.segment_readers() {
        let id = reader.segment_id();
        {
            let mut kept = kept();
            kept.used(id);
            if !kept.warm.insert(id) {
                continue;
            }
        }
        warmed.segments += 1;
        let mut found: Vec<(Term, Frontier)> = Vec::new();
        for &field in fields {
            let inverted = reader.inverted_index(field)?;
            let norms = norms(reader, field)?;
            let mut terms = inverted.terms().stream()?;
            while terms.advance() {
                if found.len() >= MOST_TERMS_KEPT {
                    break;
                }
                let info = terms.value();
                if info.doc_freq < from_doc_freq {
                    continue;
                }
                // Text fields' terms are UTF-8; a term that is not is never
                // a query's.
                let Ok(text) = std::str::from_utf8(terms.key()) else {
                    continue;
                };
                let frontier = frontier_at(&inverted, info, &norms)?;
                found.push((Term::from_field_text(field, text), frontier));
            }
        }
        warmed.frontiers += found.len();
        kept().keep(id, found);
    }
    Ok(warmed)
}

/// The most `weight` can give a document of a segment where its term's
/// frontier is `frontier` (0 for a term the segment does not hold).
fn most_in(weight: &Bm25Weight, frontier: &[(u8, u32)]) -> Score {
    frontier
        .iter()
        .map(|&(id, tf)| weight.score(id, tf))
        .fold(0.0, Score::max)
}

/// The `wanted` documents with the highest sum of `clauses`' BM25 scores
/// (ties: the lower address first), deleted documents never, best first.
///
/// A segment whose clauses hold many postings is summed as two document
/// ranges at once, the second on another thread: each range's best
/// `wanted` (with exact sums: a document's score does not depend on the
/// other documents) hold the segment's best `wanted`, so the merged result
/// is the one a single pass gives.
pub(crate) fn top_by_sum(
    searcher: &Searcher,
    stats: &dyn Bm25StatisticsProvider,
    clauses: &[&Clause],
    wanted: usize,
) -> tantivy::Result<(Vec<DocAddress>, SumCounts)> {
    top_by_sum_split(searcher, stats, clauses, wanted, SPLIT_ABOVE_POSTINGS, true)
}

/// [`top_by_sum`], splitting a segment in two ranges when its clauses hold
/// more than `split_above` postings (tests split every segment), the
/// second offered to the helper thread if `hand_over` (else summed by the
/// searching thread after the first, as when the helper comes late).
pub(crate) fn top_by_sum_split(
    searcher: &Searcher,
    stats: &dyn Bm25StatisticsProvider,
    clauses: &[&Clause],
    wanted: usize,
    split_above: u64,
    hand_over: bool,
) -> tantivy::Result<(Vec<DocAddress>, SumCounts)> {
    let mut counts = SumCounts::default();
    if wanted == 0 || clauses.is_empty() {
        return Ok((Vec::new(), counts));
    }
    let mut order = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let weight = Bm25Weight::for_terms(stats, std::slice::from_ref(&clause.target))?
            .boost_by(clause.boost);
        // The term frequency part, tf / (tf + norm), is below 1.
        let most = weight.score(0, u32::MAX);
        order.push(Scoring {
            term: clause.target.clone(),
            weight,
            most,
        });
    }
    // Strongest first; equal ones in the order given. (The order stays
    // BM25's bound, not the segment's maxima: every document's sum adds the
    // same scores in the same order whatever the segment.)
    order.sort_by(|a, b| b.most.total_cmp(&a.most));
    let order = Arc::new(order);
    let terms: Vec<&Term> = order.iter().map(|s| &s.term).collect();
    // The best `wanted` of the segments done so far (final scores).
    let mut found: Vec<(f32, DocAddress)> = Vec::new();
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let frontiers = frontiers_of(reader, &terms, &mut counts)?;
        // after[j]: the most the clauses from j on can add together to a
        // document of this segment.
        let mut after = vec![0.0f32; order.len() + 1];
        for j in (0..order.len()).rev() {
            let most = frontiers
                .get(j)
                .map_or(order[j].most, |f| most_in(&order[j].weight, f));
            after[j] = after[j + 1] + most;
        }
        // Each clause's postings in this segment, looked up once.
        let mut postings = Vec::with_capacity(order.len());
        for scoring in order.iter() {
            let inverted = reader.inverted_index(scoring.term.field())?;
            let info = inverted.get_term_info(&scoring.term)?;
            postings.push(match info {
                Some(info) => Some((inverted, info, norms(reader, scoring.term.field())?)),
                None => None,
            });
        }
        let total: u64 = postings
            .iter()
            .flatten()
            .map(|(_, info, _)| u64::from(info.doc_freq))
            .sum();
        let segment = Arc::new(Segment {
            reader: reader.clone(),
            ord: ord as u32,
            order: Arc::clone(&order),
            postings,
            after,
            wanted,
        });
        let max_doc = reader.max_doc();
        let split = if total > split_above {
            segment.middle()?.filter(|&m| m > 0 && m < max_doc)
        } else {
            None
        };
        let new = match split {
            None => segment.sum(&found, 0..max_doc, &mut counts)?,
            Some(middle) => {
                // The second range, offered to the helper first.
                let second = Arc::new(Offered::default());
                let offered = hand_over && {
                    let (segment, second, before) =
                        (Arc::clone(&segment), Arc::clone(&second), found.clone());
                    to_helper(Box::new(move || {
                        if second.take() {
                            let mut counts = SumCounts::default();
                            let summed = std::panic::catch_unwind(AssertUnwindSafe(|| {
                                segment.sum(&before, middle..max_doc, &mut counts)
                            }))
                            .unwrap_or_else(|_| {
                                Err(tantivy::TantivyError::SystemError(
                                    "summing a range of the triage search panicked".to_owned(),
                                ))
                            });
                            second.leave(summed.map(|found| (found, counts)));
                        }
                    }))
                };
                let first = segment.sum(&found, 0..middle, &mut counts);
                let (second, other) = if !offered || second.take() {
                    let mut other = SumCounts::default();
                    (segment.sum(&found, middle..max_doc, &mut other)?, other)
                } else {
                    second.wait()?
                };
                counts.scanned += other.scanned;
                counts.sought += other.sought;
                counts.narrowed += other.narrowed;
                let mut first = first?;
                first.extend(second);
                first
            }
        };
        found.extend(new);
        keep_best(&mut found, wanted);
    }
    found.sort_by(order_of);
    Ok((found.into_iter().map(|(_, a)| a).collect(), counts))
}

/// A range's documents that may be among the best, and how its sum went.
type Summed = (Vec<(f32, DocAddress)>, SumCounts);

/// The second range of a split segment: summed by whichever thread takes it
/// first, the helper or the searching thread once its own range is done;
/// the helper leaves its result here.
#[derive(Default)]
struct Offered {
    taken: AtomicBool,
    summed: Mutex<Option<tantivy::Result<Summed>>>,
    done: Condvar,
}

impl Offered {
    /// Whether the calling thread is the first to take the range (and so
    /// must sum it).
    fn take(&self) -> bool {
        !self.taken.swap(true, Ordering::AcqRel)
    }

    /// The helper's result, for [`Offered::wait`].
    fn leave(&self, summed: tantivy::Result<Summed>) {
        *self.summed.lock().unwrap_or_else(|e| e.into_inner()) = Some(summed);
        self.done.notify_all();
    }

    /// The result the helper leaves, once it has (it took the range, so it
    /// is summing it).
    fn wait(&self) -> tantivy::Result<Summed> {
        let mut summed = self.summed.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(done) = summed.take() {
                return done;
            }
            summed = self.done.wait(summed).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Work for the helper thread.
type Job = Box<dyn FnOnce() + Send>;

/// The helper thread's queue: one thread for the process, started on the
/// first split search. One is enough on the two cores it is meant for;
/// with searches at once, a range queued behind another search's is summed
/// by its own searching thread meanwhile (see [`Offered`]).
static HELPER: Mutex<Option<mpsc::Sender<Job>>> = Mutex::new(None);

/// Queues `job` for the helper thread (started when there is none);
/// `false` when no thread could be started, and the job is dropped.
fn to_helper(job: Job) -> bool {
    let mut helper = HELPER.lock().unwrap_or_else(|e| e.into_inner());
    if helper.is_none() {
        let (queue, jobs) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("casebook-sum".to_owned())
            .spawn(move || {
                for job in jobs {
                    job();
                }
            });
        if started.is_err() {
            return false;
        }
        *helper = Some(queue);
    }
    let sent = helper.as_ref().is_some_and(|queue| queue.send(job).is_ok());
    if !sent {
        // The thread is gone: the next split search starts another.
        *helper = None;
    }
    sent
}

/// Best score first, then the lower address.
fn order_of(a: &(f32, DocAddress), b: &(f32, DocAddress)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Keeps the best `wanted` of `found` (in no particular order).
fn keep_best(found: &mut Vec<(f32, DocAddress)>, wanted: usize) {
    if found.len() > wanted {
        found.select_nth_unstable_by(wanted - 1, order_of);
        found.truncate(wanted);
    }
}

/// The `k`-th highest of `values` (0 when there are fewer), using
/// `scratch` for the selection.
fn kth_highest(scratch: &mut Vec<f32>, values: impl Iterator<Item = f32>, k: usize) -> f32 {
    risen(scratch, 0.0, values, k)
}

/// The higher of `floor` and the `k`-th highest of `values`, using
/// `scratch` for the selection. Only the values at `floor` or above are
/// selected from: when there are `k` of them, the `k`-th highest is among
/// them; when there are fewer, it is below `floor`. (A threshold that has
/// risen to `floor` leaves most of a long list of partial sums below it.)
fn risen(scratch: &mut Vec<f32>, floor: f32, values: impl Iterator<Item = f32>, k: usize) -> f32 {
    scratch.clear();
    scratch.extend(values.filter(|&v| v >= floor));
    kth_of_gathered(scratch, floor, k)
}

/// [`risen`] of the values gathered in `scratch` (those at `floor` or
/// above).
fn kth_of_gathered(scratch: &mut [f32], floor: f32, k: usize) -> f32 {
    if k == 0 || scratch.len() < k {
        return floor;
    }
    let (_, kth, _) = scratch.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    kth.max(floor)
}

/// Whether a document whose score can reach at most `upper` is out of a
/// top whose `wanted`-th best score is at least `threshold`.
fn out(upper: f32, threshold: f32) -> bool {
    upper * (1.0 + SLACK) < threshold
}

/// One clause's postings in a segment: its field's inverted index, the
/// term's place in it and the field norms.
type Held = (Arc<InvertedIndexReader>, TermInfo, FieldNormReader);

/// One segment's sum: what both its ranges read (shared with the helper
/// thread).
struct Segment {
    reader: SegmentReader,
    ord: u32,
    order: Arc<Vec<Scoring>>,
    /// Per clause of `order`: its postings here, none where the segment
    /// does not hold the term.
    postings: Vec<Option<Held>>,
    /// after[j]: the most the clauses from j on can add together to a
    /// document of this segment.
    after: Vec<f32>,
    wanted: usize,
}

impl Segment {
    /// The document that splits the segment in two ranges holding about as
    /// many postings each: the middle one of the clause with the most.
    fn middle(&self) -> tantivy::Result<Option<DocId>> {
        let Some((inverted, info, _)) = self
            .postings
            .iter()
            .flatten()
            .max_by_key(|(_, info, _)| info.doc_freq)
        else {
            return Ok(None);
        };
        let mut block =
            inverted.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
        let half = (info.doc_freq / 2) as usize;
        let mut seen = 0;
        loop {
            let docs = block.docs();
            if docs.is_empty() {
                return Ok(None);
            }
            if let Some(&doc) = docs.get(half.saturating_sub(seen)) {
                return Ok(Some(doc));
            }
            seen += docs.len();
            block.advance();
        }
    }

    /// The documents of `range` that may be among the best `wanted`, with
    /// their final scores, given the best found so far in other segments
    /// (`before`).
    fn sum(
        &self,
        before: &[(f32, DocAddress)],
        range: Range<DocId>,
        counts: &mut SumCounts,
    ) -> tantivy::Result<Vec<(f32, DocAddress)>> {
        let mut buffers = take_buffers();
        let found = self.sum_with(&mut buffers, before, range, counts)?;
        // (On an error the scores may not be all zero: not kept.)
        give_back(buffers);
        Ok(found)
    }

    fn sum_with(
        &self,
        buffers: &mut Buffers,
        before: &[(f32, DocAddress)],
        range: Range<DocId>,
        counts: &mut SumCounts,
    ) -> tantivy::Result<Vec<(f32, DocAddress)>> {
        let Buffers {
            scores,
            seen,
            scratch,
            touched,
            live,
        } = buffers;
        touched.clear();
        live.clear();
        let max_doc = self.reader.max_doc() as usize;
        if scores.len() < max_doc {
            scores.resize(max_doc, 0.0);
        }
        if seen.len() < max_doc.div_ceil(64) {
            seen.resize(max_doc.div_ceil(64), 0);
        }
        let mut found = Vec::new();
        let alive = self.reader.alive_bitset();
        let is_alive = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc));
        // Phase 1: whole postings, strongest clause first, until the
        // threshold (the `wanted`-th best score so far, partial sums of
        // this range included) is above what the remaining clauses can
        // add.
        let mut threshold = kth_highest(scratch, before.iter().map(|f| f.0), self.wanted);
        // The most the threshold can have risen to since it was computed:
        // no document gains more than the clauses read since then can add.
        let mut threshold_most = threshold;
        let mut rest = self.order.len();
        let order = &self.order;
        for (j, clause) in order.iter().enumerate() {
            if out(self.after[j], threshold_most) {
                if j > 0 {
                    let scores = &*scores;
                    let partial = touched
                        .iter()
                        .filter(|&&d| is_alive(d))
                        .map(|&d| scores[d as usize]);
                    let from_before = before.iter().map(|f| f.0);
                    // (The partial sums only grow: the threshold only rises.)
                    threshold = risen(scratch, threshold, partial.chain(from_before), self.wanted);
                    threshold_most = threshold;
                }
                if out(self.after[j], threshold) {
                    rest = j;
                    break;
                }
            }
            if let Some(held) = &self.postings[j] {
                counts.scanned += 1;
                scan(
                    held,
                    clause,
                    &range,
                    scores,
                    Some((&mut *seen, &mut *touched)),
                )?;
            }
            // What this clause can add in this segment (as `after` has it).
            threshold_most += self.after[j] - self.after[j + 1];
        }
        // The next clauses whose postings (in the whole segment) are no
        // more than the documents touched in this range are read whole
        // too, but only for those documents (no other can reach the top:
        // the threshold is above what the remaining clauses can add): a
        // pass over the shorter list, where a look-up would go through
        // every document touched (nearly all still in the running when the
        // second phase starts).
        while let Some(clause) = order.get(rest) {
            match &self.postings[rest] {
                Some(held) if held.1.doc_freq as usize <= touched.len() => {
                    counts.narrowed += 1;
                    scan(held, clause, &range, scores, None)?;
                }
                Some(_) => break,
                None => {}
            }
            rest += 1;
        }
        if rest == self.order.len() {
            // Every clause was read whole: every document touched has its
            // final score.
            for &doc in touched.iter() {
                let score = scores[doc as usize];
                if is_alive(doc) && !out(score, threshold) {
                    found.push((score, DocAddress::new(self.ord, doc)));
                }
            }
        } else {
            // Phase 2: the documents still in the running (in index order,
            // with their partial sums), and the rest of the clauses looked
            // up for them alone.
            let first = range.start as usize / 64;
            let last = (range.end as usize).div_ceil(64).min(seen.len());
            listed(
                &seen[first..last.max(first)],
                first,
                scores,
                is_alive,
                self.after[rest],
                threshold,
                live,
            );
            for (j, clause) in order.iter().enumerate().skip(rest) {
                // The sums at the threshold or above, for the new one (see
                // `risen`), gathered in the same pass as the look-ups.
                scratch.clear();
                match &self.postings[j] {
                    Some(held) if !live.is_empty() => {
                        counts.sought += 1;
                        seek(held, clause, live, threshold, scratch)?;
                    }
                    _ => scratch.extend(live.iter().map(|l| l.1).filter(|&v| v >= threshold)),
                }
                scratch.extend(before.iter().map(|f| f.0).filter(|&v| v >= threshold));
                threshold = kth_of_gathered(scratch, threshold, self.wanted);
                // (A pass after which none is dropped is rare: the
                // threshold rises and the bound falls with every clause.
                // Keeping the lowest sum, to skip such a pass, cost as much
                // on every look-up as the passes it skipped.)
                drop_behind(live, self.after[j + 1], threshold);
            }
            for &(doc, score) in live.iter() {
                found.push((score, DocAddress::new(self.ord, doc)));
            }
        }
        for &doc in touched.iter() {
            if let Some(cell) = scores.get_mut(doc as usize) {
                *cell = 0.0;
            }
            if let Some(word) = seen.get_mut(doc as usize / 64) {
                *word = 0;
            }
        }
        Ok(found)
    }
}

/// Lists in `live`, in index order, the documents set in `seen` (the bitmap's
/// words from word `first` on) that are alive and whose partial sum in
/// `scores` plus `reach` (the most the remaining clauses can add) is not out
/// of a top at `threshold`.
///
/// This loop and [`drop_behind`] run over every document still in the
/// running (at the start, nearly every document the first phase touched):
/// kept out of line, their few values stay in registers.
#[inline(never)]
fn listed(
    seen: &[u64],
    first: usize,
    scores: &[f32],
    is_alive: impl Fn(DocId) -> bool,
    reach: f32,
    threshold: f32,
    live: &mut Vec<(DocId, f32)>,
) {
    for (at, &word) in seen.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            let doc = ((first + at) * 64) as DocId + word.trailing_zeros();
            word &= word - 1;
            let score = scores[doc as usize];
            if !out(score + reach, threshold) && is_alive(doc) {
                live.push((doc, score));
            }
        }
    }
}

/// Drops from `live` the documents whose sum plus `left` (the most the
/// clauses not yet looked up can add) is out of a top at `threshold`,
/// keeping the others in order. Without a branch on which are dropped
/// (about half of them, unpredictably, in the first passes): every entry
/// is written at the next free place, which moves on only for a kept one.
#[inline(never)]
fn drop_behind(live: &mut Vec<(DocId, f32)>, left: f32, threshold: f32) {
    let mut kept = 0;
    for at in 0..live.len() {
        let entry = live[at];
        live[kept] = entry;
        kept += usize::from(!out(entry.1 + left, threshold));
    }
    live.truncate(kept);
}

/// Adds `clause`'s score to every document of `range` in its postings
/// (`held`), block by block (to those already seen alone without `new`:
/// see [`scan_blocks`]).
fn scan(
    held: &Held,
    clause: &Scoring,
    range: &Range<DocId>,
    scores: &mut [f32],
    new: Option<(&mut [u64], &mut Vec<DocId>)>,
) -> tantivy::Result<()> {
    let (inverted, info, norms) = held;
    let mut block =
        inverted.read_block_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
    scan_blocks(&mut block, norms, &clause.weight, range, scores, new);
    Ok(())
}

/// Adds `clause`'s score to the documents of `live` (sorted, with their
/// sums) that hold it (its postings: `held`), and gathers in `gathered` the
/// sums, new or not, at `floor` or above.
fn seek(
    held: &Held,
    clause: &Scoring,
    live: &mut [(DocId, f32)],
    floor: f32,
    gathered: &mut Vec<f32>,
) -> tantivy::Result<()> {
    let (inverted, info, norms) = held;
    let mut postings: SegmentPostings =
        inverted.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
    let mut done = false;
    for (doc, sum) in live {
        let doc = *doc;
        if !done {
            let at = super::advance_to(&mut postings, doc);
            if at == TERMINATED {
                done = true;
            } else if at == doc {
                *sum += clause
                    .weight
                    .score(norms.fieldnorm_id(doc), postings.term_freq());
            }
        }
        if *sum >= floor {
            gathered.push(*sum);
        }
    }
    Ok(())
}

/// The field norms of `field`, as tantivy's term scorer reads them (a
/// field without norms counts every document as one token long).
fn norms(reader: &SegmentReader, field: Field) -> tantivy::Result<FieldNormReader> {
    Ok(reader
        .fieldnorms_readers()
        .get_field(field)?
        .unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1)))
}

/// Adds the score of every posting of `block` in `range` to `scores`,
/// noting the documents seen for the first time in `new` (`seen`, and
/// `touched`); without `new`, only to the documents already seen.
fn scan_blocks(
    block: &mut BlockSegmentPostings,
    norms: &FieldNormReader,
    weight: &Bm25Weight,
    range: &Range<DocId>,
    scores: &mut [f32],
    mut new: Option<(&mut [u64], &mut Vec<DocId>)>,
) {
    // Where the range starts in the first block it is in.
    let mut from = if range.start > 0 {
        block.seek(range.start)
    } else {
        0
    };
    loop {
        let docs = block.docs();
        let Some(&last) = docs.last() else {
            break;
        };
        let to = if last < range.end {
            docs.len()
        } else {
            docs.partition_point(|&d| d < range.end)
        };
        let freqs = block.freqs();
        for (&doc, &tf) in docs.iter().zip(freqs).take(to).skip(from) {
            if let Some(cell) = scores.get_mut(doc as usize) {
                // A BM25 score is positive: 0 is "not yet seen".
                if *cell == 0.0 {
                    let Some((seen, touched)) = new.as_mut() else {
                        continue;
                    };
                    touched.push(doc);
                    if let Some(word) = seen.get_mut(doc as usize / 64) {
                        *word |= 1 << (doc % 64);
                    }
                }
                *cell += weight.score(norms.fieldnorm_id(doc), tf);
            }
        }
        if to < docs.len() {
            break;
        }
        from = 0;
        block.advance();
    }
}

#[cfg(test)]
mod tests {
    use tantivy::schema::{IndexRecordOption, Schema, TEXT};
    use tantivy::{DocSet, Index, TantivyDocument};

    use super::*;

    /// A warm-up keeps the frontier of every term held by at least the
    /// given number of documents, equal to the one a search would find, so
    /// the search finds none itself; rarer terms are left to the search;
    /// a segment is warmed once.
    #[test]
    fn a_warm_up_keeps_the_common_terms_frontiers_once() -> tantivy::Result<()> {
        let mut builder = Schema::builder();
        let body = builder.add_text_field("body", TEXT);
        let other = builder.add_text_field("other", TEXT);
        let index = Index::create_in_ram(builder.build());
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        for n in 0..300usize {
            let mut doc = TantivyDocument::default();
            // "common" in every document, up to three times; "rare" in 1 of 30.
            let rare = if n % 30 == 0 { "rare" } else { "" };
            doc.add_text(body, format!("{} {rare}", "common ".repeat(1 + n % 3)));
            doc.add_text(other, "elsewhere");
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let searcher = index.reader()?.searcher();
        let warmed = warm(&searcher, &[body], 100)?;
        assert_eq!(
            warmed,
            Warmed {
                segments: 1,
                frontiers: 1
            }
        );
        let reader = searcher.segment_reader(0);
        let common = Term::from_field_text(body, "common");
        let mut counts = SumCounts::default();
        let kept = frontiers_of(reader, &[&common], &mut counts)?.remove(0);
        assert_eq!(counts.frontiers_found, 0, "kept by the warm-up");
        assert_eq!(kept, frontier(reader, &common)?);
        assert!(!kept.is_empty());
        // Below the doc frequency, and in a field not warmed: found by the
        // search.
        let rare = Term::from_field_text(body, "rare");
        let elsewhere = Term::from_field_text(other, "elsewhere");
        frontiers_of(reader, &[&rare, &elsewhere], &mut counts)?;
        assert_eq!(counts.frontiers_found, 2);
        assert_eq!(warm(&searcher, &[body], 100)?, Warmed::default());
        Ok(())
    }

    /// A term's frontier gives its highest score over the segment exactly,
    /// whatever the average length, and is kept for the next search.
    #[test]
    fn a_terms_frontier_gives_its_highest_score_at_any_average_length() -> tantivy::Result<()> {
        let mut builder = Schema::builder();
        let body = builder.add_text_field("body", TEXT);
        let index = Index::create_in_ram(builder.build());
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        // "disk" once in a short text, twice in a longer one, four times in
        // a long one; "full" everywhere once.
        for n in 0..300usize {
            let filler = "word ".repeat(n % 40);
            let disk = "disk ".repeat([1, 2, 4][n % 3]);
            let mut doc = TantivyDocument::default();
            doc.add_text(body, format!("{disk} full {filler}"));
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let searcher = index.reader()?.searcher();
        let reader = searcher.segment_reader(0);
        for word in ["disk", "full", "absent"] {
            let term = Term::from_field_text(body, word);
            let mut counts = SumCounts::default();
            let frontier = frontiers_of(reader, &[&term], &mut counts)?.remove(0);
            assert_eq!(counts.frontiers_found, 1, "{word}");
            // Shorter first, each more frequent than the one before.
            assert!(
                frontier
                    .windows(2)
                    .all(|p| p[0].0 < p[1].0 && p[0].1 < p[1].1)
            );
            for average in [1.0, 5.0, 20.0, 200.0] {
                let weight = Bm25Weight::for_one_term(30, 300, average).boost_by(0.7);
                let mut exact: Score = 0.0;
                let inverted = reader.inverted_index(body)?;
                if let Some(mut postings) =
                    inverted.read_postings(&term, IndexRecordOption::WithFreqs)?
                {
                    let norms = norms(reader, term.field())?;
                    while postings.doc() != TERMINATED {
                        let doc = postings.doc();
                        exact =
                            exact.max(weight.score(norms.fieldnorm_id(doc), postings.term_freq()));
                        postings.advance();
                    }
                }
                assert_eq!(most_in(&weight, &frontier), exact, "{word} at {average}");
                assert!(exact <= weight.score(0, u32::MAX));
            }
            let mut again = SumCounts::default();
            frontiers_of(reader, &[&term], &mut again)?;
            assert_eq!(again.frontiers_found, 0, "{word}: kept");
        }
        Ok(())
    }
}
