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
//! rising threshold are dropped as it rises. The result is the one the
//! plain sum gives: every document's sum adds the same clause scores in the
//! same order, and a document is dropped only when even its upper bound is
//! below the threshold.

use std::cell::RefCell;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{BlockSegmentPostings, Postings, SegmentPostings};
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED, Term};

use super::Clause;

/// Relative slack on every comparison of a bound with the threshold, far
/// above the rounding of a sum of a few hundred `f32` scores: a document is
/// dropped only when it is clearly out.
const SLACK: f32 = 1e-4;

/// One clause ready to score: its BM25 weight with the boost, as tantivy's
/// term scorer has it, so that a score here is bit for bit the one tantivy
/// gives, and the most it can add to a document's score.
struct Scoring<'c> {
    term: &'c Term,
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
}

thread_local! {
    /// The score per document of a segment, kept per thread between
    /// searches (all zero between them) so that a search neither allocates
    /// nor clears a segment-sized array.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// Scratch for the threshold (the `wanted`-th best of a set of scores).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The `wanted` documents with the highest sum of `clauses`' BM25 scores
/// (ties: the lower address first), deleted documents never, best first.
pub(crate) fn top_by_sum(
    searcher: &Searcher,
    stats: &dyn Bm25StatisticsProvider,
    clauses: &[&Clause],
    wanted: usize,
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
            term: &clause.target,
            weight,
            most,
        });
    }
    // Strongest first; equal ones in the order given.
    order.sort_by(|a, b| b.most.total_cmp(&a.most));
    // after[j]: the most the clauses from j on can add together.
    let mut after = vec![0.0f32; order.len() + 1];
    for j in (0..order.len()).rev() {
        after[j] = after[j + 1] + order[j].most;
    }
    // The best `wanted` of the segments done so far (final scores).
    let mut found: Vec<(f32, DocAddress)> = Vec::new();
    SCORES.with_borrow_mut(|scores| {
        SCRATCH.with_borrow_mut(|scratch| {
            for (ord, reader) in searcher.segment_readers().iter().enumerate() {
                let mut segment = Segment {
                    reader,
                    ord: ord as u32,
                    scores,
                    scratch,
                    order: &order,
                    after: &after,
                    wanted,
                    counts: &mut counts,
                };
                segment.sum_into(&mut found)?;
                keep_best(&mut found, wanted);
            }
            Ok::<_, tantivy::TantivyError>(())
        })
    })?;
    found.sort_by(order_of);
    Ok((found.into_iter().map(|(_, a)| a).collect(), counts))
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
    scratch.clear();
    scratch.extend(values);
    if k == 0 || scratch.len() < k {
        return 0.0;
    }
    let (_, kth, _) = scratch.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    *kth
}

/// Whether a document whose score can reach at most `upper` is out of a
/// top whose `wanted`-th best score is at least `threshold`.
fn out(upper: f32, threshold: f32) -> bool {
    upper * (1.0 + SLACK) < threshold
}

struct Segment<'s, 'c> {
    reader: &'s SegmentReader,
    ord: u32,
    scores: &'s mut Vec<f32>,
    scratch: &'s mut Vec<f32>,
    order: &'s [Scoring<'c>],
    after: &'s [f32],
    wanted: usize,
    counts: &'s mut SumCounts,
}

impl Segment<'_, '_> {
    /// Adds this segment's documents that may be among the best `wanted`
    /// to `found`, with their final scores.
    fn sum_into(&mut self, found: &mut Vec<(f32, DocAddress)>) -> tantivy::Result<()> {
        let max_doc = self.reader.max_doc() as usize;
        if self.scores.len() < max_doc {
            self.scores.resize(max_doc, 0.0);
        }
        let alive = self.reader.alive_bitset();
        let is_alive = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc));
        let mut touched: Vec<DocId> = Vec::new();
        // Phase 1: whole postings, strongest clause first, until the
        // threshold (the `wanted`-th best score so far, partial sums of
        // this segment included) is above what the remaining clauses can
        // add.
        let mut threshold = kth_highest(self.scratch, found.iter().map(|f| f.0), self.wanted);
        // The most the threshold can have risen to since it was computed:
        // no document gains more than the clauses read since then can add.
        let mut threshold_most = threshold;
        let mut rest = self.order.len();
        let order = self.order;
        for (j, clause) in order.iter().enumerate() {
            if out(self.after[j], threshold_most) {
                if j > 0 {
                    let scores = &*self.scores;
                    let partial = touched
                        .iter()
                        .filter(|&&d| is_alive(d))
                        .map(|&d| scores[d as usize]);
                    let from_found = found.iter().map(|f| f.0);
                    threshold = kth_highest(self.scratch, partial.chain(from_found), self.wanted);
                    threshold_most = threshold;
                }
                if out(self.after[j], threshold) {
                    rest = j;
                    break;
                }
            }
            self.scan(clause, &mut touched)?;
            threshold_most += clause.most;
        }
        if rest == self.order.len() {
            // Every clause was read whole: every document touched has its
            // final score.
            for &doc in &touched {
                let score = self.scores[doc as usize];
                if is_alive(doc) && !out(score, threshold) {
                    found.push((score, DocAddress::new(self.ord, doc)));
                }
            }
        } else {
            // Phase 2: the documents still in the running, and the rest of
            // the clauses looked up for them alone.
            let scores = &*self.scores;
            let mut live: Vec<DocId> = touched
                .iter()
                .copied()
                .filter(|&d| is_alive(d) && !out(scores[d as usize] + self.after[rest], threshold))
                .collect();
            live.sort_unstable();
            for (j, clause) in order.iter().enumerate().skip(rest) {
                self.seek(clause, &live)?;
                let scores = &*self.scores;
                let partial = live.iter().map(|&d| scores[d as usize]);
                let from_found = found.iter().map(|f| f.0);
                threshold = threshold.max(kth_highest(
                    self.scratch,
                    partial.chain(from_found),
                    self.wanted,
                ));
                let left = self.after[j + 1];
                live.retain(|&d| !out(scores[d as usize] + left, threshold));
            }
            for &doc in &live {
                found.push((self.scores[doc as usize], DocAddress::new(self.ord, doc)));
            }
        }
        for doc in touched {
            if let Some(cell) = self.scores.get_mut(doc as usize) {
                *cell = 0.0;
            }
        }
        Ok(())
    }

    /// Adds `clause`'s score to every document of its postings, block by
    /// block.
    fn scan(&mut self, clause: &Scoring<'_>, touched: &mut Vec<DocId>) -> tantivy::Result<()> {
        let inverted = self.reader.inverted_index(clause.term.field())?;
        let Some(mut block) =
            inverted.read_block_postings(clause.term, IndexRecordOption::WithFreqs)?
        else {
            return Ok(());
        };
        self.counts.scanned += 1;
        let norms = norms(self.reader, clause.term)?;
        scan_blocks(&mut block, &norms, &clause.weight, self.scores, touched);
        Ok(())
    }

    /// Adds `clause`'s score to the documents of `live` (sorted) that hold it.
    fn seek(&mut self, clause: &Scoring<'_>, live: &[DocId]) -> tantivy::Result<()> {
        if live.is_empty() {
            return Ok(());
        }
        let inverted = self.reader.inverted_index(clause.term.field())?;
        let Some(mut postings): Option<SegmentPostings> =
            inverted.read_postings(clause.term, IndexRecordOption::WithFreqs)?
        else {
            return Ok(());
        };
        self.counts.sought += 1;
        let norms = norms(self.reader, clause.term)?;
        for &doc in live {
            let at = if postings.doc() < doc {
                postings.seek(doc)
            } else {
                postings.doc()
            };
            if at == TERMINATED {
                break;
            }
            if at == doc
                && let Some(cell) = self.scores.get_mut(doc as usize)
            {
                *cell += clause
                    .weight
                    .score(norms.fieldnorm_id(doc), postings.term_freq());
            }
        }
        Ok(())
    }
}

/// The field norms of `term`'s field, as tantivy's term scorer reads them
/// (a field without norms counts every document as one token long).
fn norms(reader: &SegmentReader, term: &Term) -> tantivy::Result<FieldNormReader> {
    Ok(reader
        .fieldnorms_readers()
        .get_field(term.field())?
        .unwrap_or_else(|| FieldNormReader::constant(reader.max_doc(), 1)))
}

/// Adds the score of every posting of `block` to `scores`, noting the
/// documents seen for the first time in `touched`.
fn scan_blocks(
    block: &mut BlockSegmentPostings,
    norms: &FieldNormReader,
    weight: &Bm25Weight,
    scores: &mut [f32],
    touched: &mut Vec<DocId>,
) {
    loop {
        let docs = block.docs();
        if docs.is_empty() {
            break;
        }
        for (&doc, &tf) in docs.iter().zip(block.freqs()) {
            if let Some(cell) = scores.get_mut(doc as usize) {
                // A BM25 score is positive: 0 is "not yet seen".
                if *cell == 0.0 {
                    touched.push(doc);
                }
                *cell += weight.score(norms.fieldnorm_id(doc), tf);
            }
        }
        block.advance();
    }
}
