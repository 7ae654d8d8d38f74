//! The report pages: one askama struct per page over a shared [`View`]
//! (the picker, the query string that keeps it, the report parts the page
//! shows and its charts).

use std::borrow::Borrow;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};

use super::chart::{Bars, Series};
use super::{query_of, zone_of};
use crate::app::AppState;
use crate::db::reports::Exclusion;
use crate::domain::report::period::QueryInput;
use crate::domain::report::{
    self, Headline, Part, Period, Report, ReportQuery, SearchRow, human_secs, percent, ratio,
};

/// Rows of the model-health table per page (the CSV and JSON exports
/// hold every model).
pub const MODEL_ROWS: usize = 50;
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::render_status;

/// The period picker and filters, as typed, with their choices.
pub struct Picker {
    pub input: QueryInput,
    pub categories: Vec<String>,
    pub organizations: Vec<(i64, String)>,
    pub staff: Vec<(i64, String)>,
    pub error: Option<String>,
    /// The zone the report is in (the viewer's own unless `tz` named
    /// another), shown in the zone field when nothing was typed there.
    pub zone: &'static str,
}

impl Picker {
    /// What the zone field shows: what was typed, else the zone in use.
    pub fn zone_value(&self) -> &str {
        match self.input.tz.trim() {
            "" => self.zone,
            typed => typed,
        }
    }

    /// The names the zone field offers.
    pub fn zones(&self) -> impl Iterator<Item = &'static str> {
        crate::domain::zone::names()
    }

    pub fn days_is(&self, d: &str) -> bool {
        let from_to = !self.input.from.trim().is_empty() || !self.input.to.trim().is_empty();
        !from_to
            && (self.input.days.trim() == d || (d == "30" && self.input.days.trim().is_empty()))
    }
}

pub struct View {
    pub picker: Picker,
    /// The query string that asks for the same query (for section links,
    /// CSV links).
    pub qs: String,
    pub period: String,
    pub report: Report,
    /// The overview's headline numbers, and the same for the period of the
    /// same length just before with its searches (the trends); empty
    /// elsewhere.
    pub headline: Headline,
    pub previous: Headline,
    pub previous_searches: SearchRow,
    /// The page of the model-health table shown (from 1).
    pub page: usize,
    pub charts: Vec<Bars>,
    /// The query asked for, when it could be read.
    pub query: Option<ReportQuery>,
    /// The improvement debt now and its weekly trend (the overview; the
    /// same numbers as the backlog page, from the improvement loop).
    pub debt: Option<crate::db::improvements::Debt>,
}

impl View {
    pub fn dur(&self, secs: impl Borrow<Option<i64>>) -> String {
        secs.borrow()
            .map(human_secs)
            .unwrap_or_else(|| "–".to_owned())
    }

    pub fn pct(&self, part: impl Borrow<i64>, whole: impl Borrow<i64>) -> String {
        percent(ratio(*part.borrow(), *whole.borrow()))
    }

    pub fn csv(&self, part: &str) -> String {
        format!("/reports/export/{part}?{}", self.qs)
    }

    pub fn json(&self, part: &str) -> String {
        format!("/api/v1/reports/{part}?{}", self.qs)
    }

    /// Resolved tickets with or without a model: (tickets, escalated,
    /// reopened), the sums of the resolution table's priority rows.
    pub fn resolution_totals(&self, with_model: impl Borrow<bool>) -> (i64, i64, i64) {
        let t = if *with_model.borrow() {
            self.headline.with_model
        } else {
            self.headline.without_model
        };
        (t.tickets, t.escalated, t.reopened)
    }

    /// Link rate, no-fit share, duplicate rate, empty-search share: in
    /// the period of the same length just before, and now.
    pub fn trend(&self, measure: &str) -> String {
        let of = |h: &Headline, s: &SearchRow| {
            let t = &h.links;
            match measure {
                "link" => ratio(t.by_model + t.partly, t.resolved),
                "no_fit" => ratio(t.no_fit, t.resolved),
                "duplicates" => ratio(h.duplicates, h.opened),
                _ => ratio(s.empty, s.searches),
            }
        };
        format!(
            "previous period {} → now {}",
            percent(of(&self.previous, &self.previous_searches)),
            percent(of(&self.headline, &self.report.searches))
        )
    }

    /// Opened, duplicates and searches on them (the triage table's sums).
    pub fn triage_totals(&self) -> (i64, i64, i64) {
        let h = &self.headline;
        (h.opened, h.duplicates, h.searches)
    }

    /// The page of the model-health table shown (past the last: the last).
    pub fn model_page(&self) -> usize {
        self.page.clamp(1, self.model_pages())
    }

    /// The rows of the model-health table on this page.
    pub fn model_rows(&self) -> &[report::ModelRow] {
        let all = &self.report.models;
        let page = self.model_page();
        let start = ((page - 1) * MODEL_ROWS).min(all.len());
        &all[start..(start + MODEL_ROWS).min(all.len())]
    }

    /// How many pages the model-health table has.
    pub fn model_pages(&self) -> usize {
        self.report.models.len().div_ceil(MODEL_ROWS).max(1)
    }

    /// The model-health page `page` of the same query.
    pub fn model_page_link(&self, page: impl Borrow<usize>) -> String {
        let page = *page.borrow();
        if self.qs.is_empty() {
            format!("/reports/models?page={page}")
        } else {
            format!("/reports/models?{}&page={page}", self.qs)
        }
    }

    pub fn per_ticket(&self, part: impl Borrow<i64>, whole: impl Borrow<i64>) -> String {
        ratio(*part.borrow(), *whole.borrow()).map_or_else(|| "–".to_owned(), |r| format!("{r:.1}"))
    }

    /// Categories ranked by resolved tickets no model served (no fit or
    /// no link), from the link table by category.
    pub fn gap_categories(&self) -> Vec<&report::LinkRow> {
        let mut rows: Vec<&report::LinkRow> = self
            .report
            .links_by_category
            .iter()
            .filter(|r| r.no_fit + r.no_link > 0)
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.no_fit + r.no_link));
        rows
    }

    /// The total as a one-row table.
    pub fn links_total(&self) -> &[report::LinkRow] {
        std::slice::from_ref(&self.report.links_total)
    }

    pub fn retire_candidates(&self) -> Vec<&report::ModelRow> {
        self.report
            .models
            .iter()
            .filter(|m| m.retire_candidate)
            .collect()
    }
}

fn hours(v: f64) -> String {
    human_secs(v as i64)
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn share(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// What a page reads: some parts of the report, or the overview's numbers.
enum Reads<'a> {
    Parts(&'a [Part]),
    Overview,
}

async fn view(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    reads: Reads<'_>,
) -> Result<(View, StatusCode), AppError> {
    let zone = zone_of(state, who);
    let (input, query) = query_of(req, zone);
    let mut conn = state.pool.get().await?;
    let categories = crate::db::tickets::categories(&mut conn).await?;
    let organizations = crate::db::users::organizations(&mut conn)
        .await?
        .into_iter()
        .map(|(o, _)| (o.id, o.name))
        .collect();
    let staff = crate::db::tickets::staff(&mut conn).await?;
    let viewer = who.0.user.viewer();
    let mut numbers = crate::db::reports::Overview::default();
    let (report, error, qs, period, status, query) = match query {
        Ok(q) => {
            let mut other = crate::db::spare(&state.pool).await;
            let report = match reads {
                Reads::Parts(parts) => {
                    crate::reports::report_on(&mut conn, other.as_deref_mut(), &viewer, &q, parts)
                        .await?
                }
                Reads::Overview => {
                    numbers = crate::reports::overview(
                        &mut conn,
                        other.as_deref_mut(),
                        &viewer,
                        &q,
                        &period_before(&q),
                    )
                    .await?;
                    std::mem::take(&mut numbers.report)
                }
            };
            (
                report,
                None,
                qs_of(&q),
                period_of(&q),
                StatusCode::OK,
                Some(q),
            )
        }
        Err(e) => (
            Report::default(),
            Some(e.to_string()),
            String::new(),
            String::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
    };
    Ok((
        View {
            picker: Picker {
                input,
                categories,
                organizations,
                staff,
                error,
                zone: query.as_ref().map_or(zone, |q| q.period.tz).name(),
            },
            qs,
            period,
            report,
            headline: numbers.headline,
            previous: numbers.previous,
            previous_searches: numbers.previous_searches,
            page: 1,
            charts: Vec::new(),
            query,
            debt: None,
        },
        status,
    ))
}

/// The period of the same length just before `q`'s (the overview's trends).
fn period_before(q: &ReportQuery) -> ReportQuery {
    let p = q.period;
    let days = (p.last_day - p.first_day).num_days() + 1;
    ReportQuery {
        period: Period::days(
            p.first_day - Duration::days(days),
            p.first_day - Duration::days(1),
            p.tz,
        ),
        ..q.clone()
    }
}

fn qs_of(q: &ReportQuery) -> String {
    let pairs = q.to_pairs();
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::web::query_string(&borrowed)
}

fn period_of(q: &ReportQuery) -> String {
    format!("{} to {}", q.period.first_day, q.period.last_day)
}

macro_rules! page {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path)]
        pub struct $name {
            pub ctx: Ctx,
            pub v: View,
        }
    };
}

page!(OverviewPage, "reports/overview.html");
page!(LinksPage, "reports/links.html");
page!(GapsPage, "reports/gaps.html");
page!(ModelsPage, "reports/models.html");
page!(ResolutionPage, "reports/resolution.html");
page!(TriagePage, "reports/triage.html");

pub async fn overview(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let (mut v, status) = view(&req, &state, &who, Reads::Overview).await?;
    let viewer = who.0.user.viewer();
    if v.query.is_some() && crate::db::improvements::may_see(&viewer) {
        let mut conn = state.pool.get().await?;
        v.debt = Some(crate::db::improvements::debt(&mut conn, &viewer, Utc::now()).await?);
    }
    let weeks: Vec<String> = v.report.volume.iter().map(|r| r.week.to_string()).collect();
    v.charts.push(Bars::grouped(
        "Tickets opened and resolved per week",
        &weeks,
        &[
            Series {
                name: "opened".into(),
                values: v.report.volume.iter().map(|r| r.opened as f64).collect(),
            },
            Series {
                name: "resolved".into(),
                values: v.report.volume.iter().map(|r| r.resolved as f64).collect(),
            },
        ],
        count,
    ));
    v.charts.push(link_rate_chart(&v.report));
    render_status(&OverviewPage { ctx, v }, status)
}

fn link_rate_chart(r: &Report) -> Bars {
    let weeks: Vec<String> = r.links_by_week.iter().map(|w| w.group.clone()).collect();
    Bars::grouped(
        "Link rate of resolved tickets per week",
        &weeks,
        &[Series {
            name: "link rate".into(),
            values: r
                .links_by_week
                .iter()
                .map(|w| w.link_rate().unwrap_or(0.0))
                .collect(),
        }],
        share,
    )
}

pub async fn links(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let parts = [
        Part::Links,
        Part::LinksByCategory,
        Part::LinksByWeek,
        Part::LinksByTriager,
    ];
    let (mut v, status) = view(&req, &state, &who, Reads::Parts(&parts)).await?;
    let weeks: Vec<String> = v
        .report
        .links_by_week
        .iter()
        .map(|w| w.group.clone())
        .collect();
    let series = |name: &str, f: fn(&report::LinkRow) -> i64| Series {
        name: name.to_owned(),
        values: v.report.links_by_week.iter().map(|w| f(w) as f64).collect(),
    };
    let outcomes = [
        series("resolved by the model", |w| w.by_model),
        series("helped partly", |w| w.partly),
        series("no model fits", |w| w.no_fit),
        series("no link", |w| w.no_link),
    ];
    let chart = Bars::grouped(
        "Outcomes of resolved tickets per week",
        &weeks,
        &outcomes,
        count,
    );
    v.charts.push(chart);
    v.charts.push(link_rate_chart(&v.report));
    render_status(&LinksPage { ctx, v }, status)
}

pub async fn gaps(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let (v, status) = view(
        &req,
        &state,
        &who,
        Reads::Parts(&[Part::Gaps, Part::LinksByCategory]),
    )
    .await?;
    render_status(&GapsPage { ctx, v }, status)
}

/// `page` of the query string (from 1; anything else is the first page).
fn page_of(req: &HttpRequest) -> usize {
    #[derive(serde::Deserialize)]
    struct Page {
        page: Option<String>,
    }
    serde_urlencoded::from_str::<Page>(req.query_string())
        .ok()
        .and_then(|p| p.page)
        .and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

pub async fn models(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let (mut v, status) = view(&req, &state, &who, Reads::Parts(&[Part::Models])).await?;
    v.page = page_of(&req);
    let top: Vec<&report::ModelRow> = v
        .report
        .models
        .iter()
        .filter(|m| m.attention > 0 || m.uses_period > 0)
        .take(12)
        .collect();
    let keys: Vec<String> = top.iter().map(|m| m.key.clone()).collect();
    let chart = Bars::grouped(
        "Models needing attention: uses in the period against failures",
        &keys,
        &[
            Series {
                name: "uses in the period".into(),
                values: top.iter().map(|m| m.uses_period as f64).collect(),
            },
            Series {
                name: "helped partly".into(),
                values: top.iter().map(|m| m.partial_period as f64).collect(),
            },
            Series {
                name: "escalations after following it".into(),
                values: top.iter().map(|m| m.escalations_after as f64).collect(),
            },
        ],
        count,
    );
    v.charts.push(chart);
    render_status(&ModelsPage { ctx, v }, status)
}

pub async fn resolution(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let (mut v, status) = view(&req, &state, &who, Reads::Parts(&[Part::Resolution])).await?;
    let priorities: Vec<String> = (1..=4).map(|p| format!("P{p}")).collect();
    let median = |with: bool| Series {
        name: if with { "with a model" } else { "without" }.to_owned(),
        values: priorities
            .iter()
            .map(|p| {
                v.report
                    .resolution
                    .iter()
                    .find(|r| r.dimension == "priority" && &r.value == p && r.with_model == with)
                    .and_then(|r| r.median_secs)
                    .unwrap_or(0) as f64
            })
            .collect(),
    };
    let chart = Bars::grouped(
        "Median time to resolve, with and without a model",
        &priorities,
        &[median(true), median(false)],
        hours,
    );
    v.charts.push(chart);
    render_status(&ResolutionPage { ctx, v }, status)
}

pub async fn triage(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let parts = [
        Part::Triage,
        Part::TriageByRota,
        Part::TriageReviews,
        Part::Searches,
        Part::SearchWords,
    ];
    let (mut v, status) = view(&req, &state, &who, Reads::Parts(&parts)).await?;
    let weeks: Vec<String> = v.report.triage.iter().map(|r| r.week.to_string()).collect();
    let chart = Bars::grouped(
        "Median time to triage and to the first public reply, by week opened",
        &weeks,
        &[
            Series {
                name: "to triage".into(),
                values: v
                    .report
                    .triage
                    .iter()
                    .map(|r| r.triage_median_secs.unwrap_or(0) as f64)
                    .collect(),
            },
            Series {
                name: "to first reply".into(),
                values: v
                    .report
                    .triage
                    .iter()
                    .map(|r| r.reply_median_secs.unwrap_or(0) as f64)
                    .collect(),
            },
        ],
        hours,
    );
    v.charts.push(chart);
    render_status(&TriagePage { ctx, v }, status)
}

#[derive(Template)]
#[template(path = "reports/exclusions.html")]
pub struct ExclusionsPage {
    pub ctx: Ctx,
    pub excluded: Vec<Exclusion>,
    pub error: Option<String>,
    pub ticket: String,
    pub reason: String,
}

pub async fn exclusions_page(
    state: &AppState,
    ctx: Ctx,
    error: Option<String>,
    ticket: String,
    reason: String,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let excluded = crate::db::reports::exclusions(&mut conn).await?;
    render_status(
        &ExclusionsPage {
            ctx,
            excluded,
            error,
            ticket,
            reason,
        },
        status,
    )
}

pub async fn exclusions(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    exclusions_page(
        &state,
        ctx,
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}
