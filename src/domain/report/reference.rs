//! The reference implementation of every measure: plain Rust over the raw
//! rows, written for clarity, not speed. The pages use the SQL aggregates
//! of `db::reports`; the tests hold those to this on fixture data.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::*;

/// The raw facts, as stored.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub tickets: Vec<TicketFact>,
    pub excluded: Vec<i64>,
    pub transitions: Vec<TransitionFact>,
    pub links: Vec<LinkFact>,
    pub escalations: Vec<EscalationFact>,
    /// Public replies by the team (not by customers): ticket, time.
    pub staff_replies: Vec<(i64, DateTime<Utc>)>,
    pub searches: Vec<SearchFact>,
    pub models: Vec<ModelFact>,
    /// Display names by user id.
    pub users: Vec<(i64, String)>,
    /// Improvement items: the model they are about, their status.
    pub improvements: Vec<(Option<i64>, String)>,
    /// The rota: week start (a Monday), who triaged that week.
    pub rota: Vec<(chrono::NaiveDate, i64)>,
    /// Sampled triage reviews: ticket, rota week, triager, score.
    pub triage_reviews: Vec<(i64, chrono::NaiveDate, i64, Option<i16>)>,
}

#[derive(Debug, Clone)]
pub struct TicketFact {
    pub id: i64,
    pub title: String,
    pub category: String,
    pub priority: i16,
    pub organization: Option<i64>,
    pub assignee: Option<i64>,
    pub status: String,
    pub duplicate_of: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TransitionFact {
    pub id: i64,
    pub ticket: i64,
    pub from: Option<String>,
    pub to: String,
    pub by: Option<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct LinkFact {
    pub ticket: i64,
    pub model: Option<i64>,
    pub outcome: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct EscalationFact {
    pub ticket: i64,
    pub followed: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SearchFact {
    pub ticket: i64,
    pub query: String,
    /// The result keys in rank order (`None` for a result without one).
    pub results: Vec<Option<String>>,
    pub picked: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ModelFact {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub owner: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// 3 resolved by a model, 2 partly, 1 no model fits; `None`: no link.
fn outcome_rank(outcome: &str) -> u8 {
    match outcome {
        "resolved" => 3,
        "partial" => 2,
        _ => 1,
    }
}

fn median_p90(mut v: Vec<i64>) -> (Option<i64>, Option<i64>) {
    (percentile_disc(&mut v, 0.5), percentile_disc(&mut v, 0.9))
}

/// Titles compared case-insensitively (ASCII) without surrounding spaces.
pub fn normal_title(title: &str) -> String {
    title.trim_matches(' ').to_ascii_lowercase()
}

struct Ctx<'a> {
    f: &'a Facts,
    q: &'a ReportQuery,
    counted: HashMap<i64, &'a TicketFact>,
    resolved_at: HashMap<i64, DateTime<Utc>>,
    best: HashMap<i64, u8>,
}

impl<'a> Ctx<'a> {
    fn new(f: &'a Facts, q: &'a ReportQuery) -> Self {
        let excluded: HashSet<i64> = f.excluded.iter().copied().collect();
        let fl = &q.filters;
        let counted = f
            .tickets
            .iter()
            .filter(|t| !excluded.contains(&t.id))
            .filter(|t| fl.category.as_ref().is_none_or(|c| *c == t.category))
            .filter(|t| fl.priority.is_none_or(|p| p == t.priority))
            .filter(|t| fl.organization.is_none_or(|o| Some(o) == t.organization))
            .filter(|t| fl.assignee.is_none_or(|a| Some(a) == t.assignee))
            .map(|t| (t.id, t))
            .collect();
        let mut last_resolved: HashMap<i64, DateTime<Utc>> = HashMap::new();
        for tr in f.transitions.iter().filter(|t| t.to == "resolved") {
            let e = last_resolved.entry(tr.ticket).or_insert(tr.at);
            *e = (*e).max(tr.at);
        }
        let mut best: HashMap<i64, u8> = HashMap::new();
        for l in &f.links {
            let e = best.entry(l.ticket).or_insert(0);
            *e = (*e).max(outcome_rank(&l.outcome));
        }
        let mut ctx = Self {
            f,
            q,
            counted,
            resolved_at: HashMap::new(),
            best,
        };
        ctx.resolved_at = ctx
            .counted
            .values()
            .filter(|t| {
                t.duplicate_of.is_none() && matches!(t.status.as_str(), "resolved" | "closed")
            })
            .filter_map(|t| last_resolved.get(&t.id).map(|at| (t.id, *at)))
            .collect();
        ctx
    }

    /// Counted tickets resolved in the period, with their resolve time.
    fn resolved(&self) -> Vec<(&'a TicketFact, DateTime<Utc>)> {
        let mut v: Vec<_> = self
            .resolved_at
            .iter()
            .filter(|(_, at)| self.q.period.contains(**at))
            .filter_map(|(id, at)| self.counted.get(id).map(|t| (*t, *at)))
            .collect();
        v.sort_by_key(|(t, _)| t.id);
        v
    }

    fn opened(&self) -> Vec<&'a TicketFact> {
        let mut v: Vec<_> = self
            .counted
            .values()
            .filter(|t| self.q.period.contains(t.created_at))
            .copied()
            .collect();
        v.sort_by_key(|t| t.id);
        v
    }

    fn best(&self, ticket: i64) -> u8 {
        self.best.get(&ticket).copied().unwrap_or(0)
    }

    fn linked(&self, ticket: i64) -> bool {
        self.best(ticket) >= 2
    }

    fn name(&self, user: Option<i64>) -> Option<String> {
        let user = user?;
        self.f
            .users
            .iter()
            .find(|(id, _)| *id == user)
            .map(|(_, n)| n.clone())
    }
}

fn link_row(ctx: &Ctx, group: String, tickets: &[i64]) -> LinkRow {
    let mut row = LinkRow {
        group,
        ..LinkRow::default()
    };
    for t in tickets {
        row.resolved += 1;
        match ctx.best(*t) {
            3 => row.by_model += 1,
            2 => row.partly += 1,
            1 => row.no_fit += 1,
            _ => row.no_link += 1,
        }
    }
    row
}

fn link_rows(ctx: &Ctx, groups: BTreeMap<String, Vec<i64>>) -> Vec<LinkRow> {
    groups
        .into_iter()
        .map(|(g, ids)| link_row(ctx, g, &ids))
        .collect()
}

/// Every measure, computed the plain way.
pub fn report(f: &Facts, q: &ReportQuery) -> Report {
    let ctx = Ctx::new(f, q);
    let p = &q.period;
    let resolved = ctx.resolved();
    let opened = ctx.opened();

    // Volume and mix.
    let mut weeks: BTreeMap<chrono::NaiveDate, (i64, i64)> = BTreeMap::new();
    let mut mix: BTreeMap<(i16, String), (i64, i64)> = BTreeMap::new();
    for t in &opened {
        weeks.entry(p.week_of(t.created_at)).or_default().0 += 1;
        mix.entry((t.priority, t.category.clone())).or_default().0 += 1;
    }
    for (t, at) in &resolved {
        weeks.entry(p.week_of(*at)).or_default().1 += 1;
        mix.entry((t.priority, t.category.clone())).or_default().1 += 1;
    }
    let volume = weeks
        .into_iter()
        .map(|(week, (opened, resolved))| VolumeRow {
            week,
            opened,
            resolved,
        })
        .collect();
    let mix = mix
        .into_iter()
        .map(|((priority, category), (opened, resolved))| MixRow {
            priority,
            category,
            opened,
            resolved,
        })
        .collect();

    // Link rate and outcomes.
    let ids: Vec<i64> = resolved.iter().map(|(t, _)| t.id).collect();
    let links_total = link_row(&ctx, String::new(), &ids);
    let mut by_cat: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut by_week: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut by_triager: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (t, at) in &resolved {
        by_cat.entry(t.category.clone()).or_default().push(t.id);
        by_week
            .entry(p.week_of(*at).to_string())
            .or_default()
            .push(t.id);
        let first = f
            .transitions
            .iter()
            .filter(|tr| tr.ticket == t.id && tr.to == "triaged")
            .min_by_key(|tr| (tr.at, tr.id));
        let name = first
            .and_then(|tr| ctx.name(tr.by))
            .unwrap_or_else(|| "(not triaged)".to_owned());
        by_triager.entry(name).or_default().push(t.id);
    }

    // Gaps.
    let mut gaps: BTreeMap<(String, String), GapRow> = BTreeMap::new();
    for (t, _) in &resolved {
        let best = ctx.best(t.id);
        if best >= 2 {
            continue;
        }
        let title = normal_title(&t.title);
        let row = gaps
            .entry((t.category.clone(), title.clone()))
            .or_insert_with(|| GapRow {
                category: t.category.clone(),
                title,
                tickets: 0,
                no_fit: 0,
                no_link: 0,
                examples: Vec::new(),
            });
        row.tickets += 1;
        if best == 1 {
            row.no_fit += 1;
        } else {
            row.no_link += 1;
        }
        row.examples.push(t.id);
    }
    let mut gaps: Vec<GapRow> = gaps.into_values().collect();
    for g in &mut gaps {
        g.examples.sort_unstable();
        g.examples.truncate(EXAMPLES);
    }
    gaps.sort_by(|a, b| {
        b.tickets
            .cmp(&a.tickets)
            .then_with(|| a.category.cmp(&b.category))
            .then_with(|| a.title.cmp(&b.title))
    });
    gaps.truncate(GAP_ROWS as usize);

    let secs_of = |t: &TicketFact, at: DateTime<Utc>| secs_between(t.created_at, at);

    // Model health.
    let model_links: Vec<&LinkFact> = f
        .links
        .iter()
        .filter(|l| l.model.is_some() && l.at < p.to && ctx.counted.contains_key(&l.ticket))
        .collect();
    let mut models: Vec<ModelRow> = f
        .models
        .iter()
        .map(|m| {
            let mine: Vec<&&LinkFact> = model_links
                .iter()
                .filter(|l| l.model == Some(m.id))
                .collect();
            let distinct = |pred: &dyn Fn(&LinkFact) -> bool| {
                mine.iter()
                    .filter(|l| pred(l))
                    .map(|l| l.ticket)
                    .collect::<BTreeSet<_>>()
                    .len() as i64
            };
            let uses_period = distinct(&|l| l.at >= p.from);
            let uses_all = distinct(&|_| true);
            let resolved_period = distinct(&|l| l.at >= p.from && l.outcome == "resolved");
            let partial_period = distinct(&|l| l.at >= p.from && l.outcome == "partial");
            let last_used = mine.iter().map(|l| l.at).max();
            let with_model: Vec<i64> = resolved
                .iter()
                .filter(|(t, _)| {
                    f.links
                        .iter()
                        .any(|l| l.ticket == t.id && l.model == Some(m.id))
                })
                .map(|(t, at)| secs_of(t, *at))
                .collect();
            let without: Vec<i64> = resolved
                .iter()
                .filter(|(t, _)| t.category == m.category && !ctx.linked(t.id))
                .map(|(t, at)| secs_of(t, *at))
                .collect();
            let escalations_after = f
                .escalations
                .iter()
                .filter(|e| e.followed == "yes" && p.contains(e.at))
                .filter(|e| {
                    mine.iter()
                        .filter(|l| l.ticket == e.ticket)
                        .map(|l| l.at)
                        .min()
                        .is_some_and(|first| first <= e.at)
                })
                .count() as i64;
            let live = m.status != "retired";
            let stale = live
                && m.verified_at
                    .is_none_or(|v| v < p.to - Duration::seconds(q.verify_by_days * 86_400));
            let long_ago = p.to - Duration::seconds(RETIRE_AFTER_DAYS * 86_400);
            let retire_candidate =
                live && m.created_at <= long_ago && last_used.is_none_or(|u| u < long_ago);
            ModelRow {
                key: m.key.clone(),
                title: m.title.clone(),
                category: m.category.clone(),
                status: m.status.clone(),
                owner: m.owner.clone(),
                uses_period,
                uses_all,
                resolved_period,
                partial_period,
                last_used,
                median_secs: percentile_disc(&mut with_model.clone(), 0.5),
                category_median_secs: percentile_disc(&mut without.clone(), 0.5),
                escalations_after,
                days_since_verified: m
                    .verified_at
                    .map(|v| secs_between(v, p.to).div_euclid(86_400)),
                stale,
                retire_candidate,
                attention: partial_period + escalations_after + if stale { uses_period } else { 0 },
                open_items: f
                    .improvements
                    .iter()
                    .filter(|(model, status)| {
                        *model == Some(m.id) && matches!(status.as_str(), "open" | "in_progress")
                    })
                    .count() as i64,
            }
        })
        .collect();
    models.sort_by(|a, b| {
        b.attention
            .cmp(&a.attention)
            .then_with(|| b.uses_period.cmp(&a.uses_period))
            .then_with(|| a.key.cmp(&b.key))
    });

    // Resolution with and without a model.
    type Resolved<'t> = Vec<(&'t TicketFact, DateTime<Utc>)>;
    let mut groups: BTreeMap<(String, String, bool), Resolved> = BTreeMap::new();
    for (t, at) in &resolved {
        let with = ctx.linked(t.id);
        groups
            .entry(("category".into(), t.category.clone(), with))
            .or_default()
            .push((t, *at));
        groups
            .entry(("priority".into(), format!("P{}", t.priority), with))
            .or_default()
            .push((t, *at));
    }
    let resolution = groups
        .into_iter()
        .map(|((dimension, value, with_model), ts)| {
            let (median_secs, p90_secs) =
                median_p90(ts.iter().map(|(t, at)| secs_of(t, *at)).collect());
            ResolutionRow {
                dimension,
                value,
                with_model,
                tickets: ts.len() as i64,
                escalated: ts
                    .iter()
                    .filter(|(t, _)| f.escalations.iter().any(|e| e.ticket == t.id))
                    .count() as i64,
                reopened: ts
                    .iter()
                    .filter(|(t, _)| {
                        f.transitions.iter().any(|tr| {
                            tr.ticket == t.id
                                && tr.from.as_deref() == Some("resolved")
                                && tr.to == "in_progress"
                        })
                    })
                    .count() as i64,
                median_secs,
                p90_secs,
            }
        })
        .collect();

    // Triage.
    let mut tweeks: BTreeMap<chrono::NaiveDate, Vec<&TicketFact>> = BTreeMap::new();
    for t in &opened {
        tweeks.entry(p.week_of(t.created_at)).or_default().push(t);
    }
    let triage = tweeks
        .into_iter()
        .map(|(week, ts)| {
            let triage_secs: Vec<i64> = ts
                .iter()
                .filter_map(|t| {
                    f.transitions
                        .iter()
                        .filter(|tr| tr.ticket == t.id && tr.to == "triaged")
                        .map(|tr| tr.at)
                        .min()
                        .map(|at| secs_of(t, at))
                })
                .collect();
            let reply_secs: Vec<i64> = ts
                .iter()
                .filter_map(|t| {
                    f.staff_replies
                        .iter()
                        .filter(|(id, _)| *id == t.id)
                        .map(|(_, at)| *at)
                        .min()
                        .map(|at| secs_of(t, at))
                })
                .collect();
            let (triaged, replied) = (triage_secs.len() as i64, reply_secs.len() as i64);
            let (triage_median_secs, triage_p90_secs) = median_p90(triage_secs);
            let (reply_median_secs, reply_p90_secs) = median_p90(reply_secs);
            TriageRow {
                week,
                opened: ts.len() as i64,
                triaged,
                triage_median_secs,
                triage_p90_secs,
                replied,
                reply_median_secs,
                reply_p90_secs,
                duplicates: ts.iter().filter(|t| t.duplicate_of.is_some()).count() as i64,
                searches: ts
                    .iter()
                    .map(|t| f.searches.iter().filter(|s| s.ticket == t.id).count() as i64)
                    .sum(),
            }
        })
        .collect();

    // Triage by rota holder.
    // (name, id or 0) → (the holder, the tickets of their weeks)
    type Holders<'t> = BTreeMap<(String, i64), (Option<i64>, Vec<&'t TicketFact>)>;
    let mut holders: Holders = BTreeMap::new();
    for t in &opened {
        let week = p.week_of(t.created_at);
        let holder = f.rota.iter().find(|(w, _)| *w == week).map(|(_, u)| *u);
        let name = match holder {
            Some(u) => ctx.name(Some(u)).unwrap_or_default(),
            None => "(no rota)".to_owned(),
        };
        holders
            .entry((name, holder.unwrap_or(0)))
            .or_insert_with(|| (holder, Vec::new()))
            .1
            .push(t);
    }
    let first_triage = |t: &TicketFact| {
        f.transitions
            .iter()
            .filter(|tr| tr.ticket == t.id && tr.to == "triaged")
            .min_by_key(|tr| (tr.at, tr.id))
    };
    let first_reply = |t: &TicketFact| {
        f.staff_replies
            .iter()
            .filter(|(id, _)| *id == t.id)
            .map(|(_, at)| *at)
            .min()
    };
    let triage_by_rota = holders
        .into_iter()
        .map(|((triager, _), (holder, ts))| {
            let firsts: Vec<(&TicketFact, &TransitionFact)> = ts
                .iter()
                .filter_map(|t| first_triage(t).map(|tr| (*t, tr)))
                .collect();
            let replies: Vec<i64> = ts
                .iter()
                .filter_map(|t| first_reply(t).map(|at| secs_of(t, at)))
                .collect();
            let (triage_median_secs, triage_p90_secs) =
                median_p90(firsts.iter().map(|(t, tr)| secs_of(t, tr.at)).collect());
            let replied = replies.len() as i64;
            let (reply_median_secs, reply_p90_secs) = median_p90(replies);
            TriageRotaRow {
                triager,
                triager_id: holder,
                opened: ts.len() as i64,
                triaged: firsts.len() as i64,
                by_holder: firsts
                    .iter()
                    .filter(|(_, tr)| holder.is_some() && tr.by == holder)
                    .count() as i64,
                triage_median_secs,
                triage_p90_secs,
                replied,
                reply_median_secs,
                reply_p90_secs,
            }
        })
        .collect();

    // Triage reviews.
    let mut reviewed: BTreeMap<(chrono::NaiveDate, String), (i64, Vec<i16>)> = BTreeMap::new();
    for (ticket, week, triager, score) in &f.triage_reviews {
        if !opened.iter().any(|t| t.id == *ticket) {
            continue;
        }
        let e = reviewed
            .entry((*week, ctx.name(Some(*triager)).unwrap_or_default()))
            .or_default();
        e.0 += 1;
        e.1.extend(score);
    }
    let triage_reviews = reviewed
        .into_iter()
        .map(|((week, triager), (reviews, scores))| TriageReviewRow {
            week,
            triager,
            reviews,
            score: crate::domain::rota::week_score(&scores).map(i64::from),
        })
        .collect();

    // Search analytics.
    let mut searches = SearchRow::default();
    let mut words: BTreeMap<String, i64> = BTreeMap::new();
    for s in f
        .searches
        .iter()
        .filter(|s| p.contains(s.at) && ctx.counted.contains_key(&s.ticket))
    {
        searches.searches += 1;
        if s.results.is_empty() {
            searches.empty += 1;
            for w in s
                .query
                .to_ascii_lowercase()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.len() >= 3)
            {
                *words.entry(w.to_owned()).or_default() += 1;
            }
        }
        if let Some(picked) = &s.picked {
            searches.picked += 1;
            match s.results.iter().position(|k| k.as_deref() == Some(picked)) {
                Some(0) => searches.rank_1 += 1,
                Some(1 | 2) => searches.rank_2_3 += 1,
                Some(_) => searches.rank_4_plus += 1,
                None => searches.not_listed += 1,
            }
        }
    }
    let mut empty_words: Vec<WordRow> = words
        .into_iter()
        .map(|(word, count)| WordRow { word, count })
        .collect();
    empty_words.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(&b.word)));
    empty_words.truncate(WORD_ROWS as usize);

    Report {
        volume,
        mix,
        links_total,
        links_by_category: link_rows(&ctx, by_cat),
        links_by_week: link_rows(&ctx, by_week),
        links_by_triager: link_rows(&ctx, by_triager),
        gaps,
        models,
        resolution,
        triage,
        triage_by_rota,
        triage_reviews,
        searches,
        empty_words,
    }
}
