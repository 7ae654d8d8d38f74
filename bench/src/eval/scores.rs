//! The figures of a run: top-1, top-3 and MRR, the printed table, and the
//! query-time knobs a run may change.

use super::EvalLine;
use casebook::search::matcher::{self, Bm25f, Tuning};

#[derive(Debug, Clone, Copy, Default)]
pub struct Scores {
    pub n: usize,
    pub top1: f64,
    pub top3: f64,
    pub mrr: f64,
}

impl Scores {
    pub(super) fn of(ranks: &[Option<usize>]) -> Self {
        let n = ranks.len().max(1) as f64;
        Scores {
            n: ranks.len(),
            top1: ranks.iter().filter(|r| **r == Some(1)).count() as f64 / n,
            top3: ranks.iter().filter(|r| r.is_some_and(|r| r <= 3)).count() as f64 / n,
            mrr: ranks
                .iter()
                .map(|r| r.filter(|r| *r <= 10).map_or(0.0, |r| 1.0 / r as f64))
                .sum::<f64>()
                / n,
        }
    }
}

/// The result as a table, one line per set, variant and matcher.
pub fn table(lines: &[EvalLine]) -> String {
    let mut out = format!(
        "{:<14} {:<5} {:<14} {:>6} {:>4} {:>6} {:>6} {:>6} {:>10}\n",
        "set", "var", "matcher", "models", "n", "top-1", "top-3", "mrr", "cand-recall"
    );
    for l in lines {
        let recall = l
            .candidate_recall
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
        out.push_str(&format!(
            "{:<14} {:<5} {:<14} {:>6} {:>4} {:>6.3} {:>6.3} {:>6.3} {:>10}\n",
            l.set,
            l.variant,
            l.matcher,
            l.models,
            l.scores.n,
            l.scores.top1,
            l.scores.top3,
            l.scores.mrr,
            recall
        ));
    }
    out
}

/// Applies `name=value` to a tuning (query-time knobs only: the index was
/// built with the default analyzers).
pub fn tune(tuning: &mut Tuning, setting: &str) -> Result<(), String> {
    let (name, value) = setting
        .split_once('=')
        .ok_or_else(|| format!("expected name=value, got {setting:?}"))?;
    let number = || {
        value
            .parse::<f32>()
            .map_err(|e| format!("{name}: {value:?}: {e}"))
    };
    let b = &mut tuning.boosts;
    match name {
        "title" => b.title = number()?,
        "statement" => b.statement = number()?,
        "steps" => b.steps = number()?,
        "discussion" => b.discussion = number()?,
        "all" => b.all = number()?,
        "seen_as" => b.seen_as = number()?,
        "name" => b.name = number()?,
        "key_text" => b.key_text = number()?,
        "parts" => b.parts = number()?,
        "abbreviations" => tuning.abbreviations = number()?,
        "initials" => tuning.initials = value == "true",
        "join_pairs" => tuning.join_pairs = number()?,
        "sparse_lengths" => tuning.sparse_lengths = value == "true",
        "parts_joined_only" => tuning.parts_joined_only = value == "true",
        "min_clause_share" => tuning.min_clause_share = number()?,
        "candidates" => {
            tuning.candidates = value
                .parse()
                .map_err(|e| format!("{name}: {value:?}: {e}"))?
        }
        "pick_on_all" => tuning.pick_on_all = value == "true",
        "bm25f" => {
            tuning.bm25f = (value != "off").then(Bm25f::default);
        }
        "f_title" | "f_statement" | "f_steps" | "f_discussion" | "f_k1" | "f_b" => {
            let n = number()?;
            let f = tuning.bm25f.get_or_insert_with(Bm25f::default);
            match name {
                "f_title" => f.title = n,
                "f_statement" => f.statement = n,
                "f_steps" => f.steps = n,
                "f_discussion" => f.discussion = n,
                "f_k1" => f.k1 = n,
                _ => f.b = n,
            }
        }
        "drop_addresses" => tuning.drop_addresses = value == "true",
        "drop_label_list" => tuning.drop_label_list = value == "true",
        "clean_query" => tuning.clean_query = value == "true",
        "drop_ids" => {
            tuning.drop_ids = match value {
                "keep" => matcher::IdFilter::Keep,
                "generated" => matcher::IdFilter::Generated,
                "all" => matcher::IdFilter::All,
                _ => return Err(format!("drop_ids: keep, generated or all, not {value:?}")),
            }
        }
        "query_tf" => {
            tuning.query_tf = match value {
                "distinct" => matcher::QueryTf::Distinct,
                "count" => matcher::QueryTf::Count,
                "log" => matcher::QueryTf::Log,
                _ => return Err(format!("query_tf: distinct, count or log, not {value:?}")),
            }
        }
        "dismax" => {
            tuning.combine = matcher::Combine::DisMax { tie: number()? };
        }
        _ => return Err(format!("unknown tuning knob {name:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_ranks() {
        let s = Scores::of(&[Some(1), Some(2), None, Some(11)]);
        assert_eq!(s.n, 4);
        assert!((s.top1 - 0.25).abs() < 1e-9);
        assert!((s.top3 - 0.5).abs() < 1e-9);
        assert!((s.mrr - (1.0 + 0.5) / 4.0).abs() < 1e-9);
    }
}
