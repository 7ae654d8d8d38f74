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
use crate::domain::report::{self, Part, Period, Report, ReportQuery, human_secs, percent, ratio};
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
    /// The same measures for the period of the same length just before
    /// (the overview's trends); empty elsewhere.
    pub previous: Report,
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

    /// Sums of the priority rows of the resolution table (each resolved
    /// ticket is in exactly one): (tickets, escalated, reopened).
    pub fn resolution_totals(&self, with_model: impl Borrow<bool>) -> (i64, i64, i64) {
        let with_model = *with_model.borrow();
        self.report
            .resolution
            .iter()
            .filter(|r| r.dimension == "priority" && r.with_model == with_model)
            .fold((0, 0, 0), |(t, e, r), row| {
                (t + row.tickets, e + row.escalated, r + row.reopened)
            })
    }

    /// Link rate, no-fit share, duplicate rate, empty-search share: in
    /// the period of the same length just before, and now.
    pub fn trend(&self, measure: &str) -> String {
        let of = |r: &Report| {
            let t = &r.links_total;
            let (opened, dups) = r
                .triage
                .iter()
                .fold((0, 0), |(o, d), w| (o + w.opened, d + w.duplicates));
            match measure {
                "link" => ratio(t.by_model + t.partly, t.resolved),
                "no_fit" => ratio(t.no_fit, t.resolved),
                "duplicates" => ratio(dups, opened),
                _ => ratio(r.searches.empty, r.searches.searches),
            }
        };
        format!(
            "previous period {} → now {}",
            percent(of(&self.previous)),
            percent(of(&self.report))
        )
    }

    pub fn triage_totals(&self) -> (i64, i64, i64) {
        self.report.triage.iter().fold((0, 0, 0), |(o, d, s), r| {
            (o + r.opened, d + r.duplicates, s + r.searches)
        })
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

async fn view(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    parts: &[Part],
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
    let (report, error, qs, period, status, query) = match query {
        Ok(q) => {
            let report = crate::reports::report(&mut conn, &who.0.user.viewer(), &q, parts).await?;
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
            previous: Report::default(),
            charts: Vec::new(),
            query,
            debt: None,
        },
        status,
    ))
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
    let parts = [
        Part::Volume,
        Part::Mix,
        Part::Links,
        Part::LinksByWeek,
        Part::Resolution,
        Part::Triage,
        Part::Searches,
    ];
    let (mut v, status) = view(&req, &state, &who, &parts).await?;
    if let Some(q) = &v.query {
        let p = q.period;
        let days = (p.last_day - p.first_day).num_days() + 1;
        let before = ReportQuery {
            period: Period::days(
                p.first_day - Duration::days(days),
                p.first_day - Duration::days(1),
                p.tz,
            ),
            ..q.clone()
        };
        let trend_parts = [Part::Links, Part::Triage, Part::Searches];
        let mut conn = state.pool.get().await?;
        v.previous =
            crate::reports::report(&mut conn, &who.0.user.viewer(), &before, &trend_parts).await?;
        let viewer = who.0.user.viewer();
        if crate::db::improvements::may_see(&viewer) {
            v.debt = Some(crate::db::improvements::debt(&mut conn, &viewer, Utc::now()).await?);
        }
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
    let (mut v, status) = view(&req, &state, &who, &parts).await?;
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
    let (v, status) = view(&req, &state, &who, &[Part::Gaps, Part::LinksByCategory]).await?;
    render_status(&GapsPage { ctx, v }, status)
}

pub async fn models(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let (mut v, status) = view(&req, &state, &who, &[Part::Models]).await?;
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
    let (mut v, status) = view(&req, &state, &who, &[Part::Resolution]).await?;
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
    let (mut v, status) = view(&req, &state, &who, &parts).await?;
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
