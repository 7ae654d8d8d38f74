//! `casebook demo`'s history: a few weeks of past work so that a new user
//! sees every page filled — people of each role, tickets worked with links,
//! escalations and triage searches, reviews, improvement items (some done
//! by model revisions), a rota with a swap, graded triage — and the debt
//! trend moving. Everything goes through the same actions as the pages,
//! then the timestamps are moved into the past. All in one transaction;
//! run twice, it adds nothing the second time.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::improvements::{self, NewItem, Update};
use crate::db::reviews::{self, Proposal};
use crate::db::schema::{
    improvement_events, reviews as reviews_table, rota_weeks, users as users_table,
};
use crate::db::users::{self, NewUser, User};
use crate::db::{models, rota, triage};
use crate::domain::account::{OrgId, Role, UserId};
use crate::domain::improvement::ItemInput;
use crate::domain::policy::Visibility;
use crate::domain::review::ReviewInput;
use crate::domain::rota::week_of;
use crate::domain::ticket::TicketId;
use crate::tickets::{self as ticket_actions, Escalation, OpenTicket};

const DOMAIN: &str = "demo.casebook.example";
const WEEKS_BACK: i64 = 6;

#[derive(Debug, Default)]
pub struct HistoryReport {
    pub skipped: bool,
    pub people: usize,
    pub tickets: usize,
    pub reviews: usize,
    pub items: usize,
    /// The password every demo account shares (random, shown once).
    pub password: String,
}

impl fmt::Display for HistoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped {
            return write!(f, "already there (accounts @{DOMAIN} exist), nothing added");
        }
        write!(
            f,
            "{} people (…@{DOMAIN}, password {}), {} tickets, {} reviews, {} improvement items",
            self.people, self.password, self.tickets, self.reviews, self.items
        )
    }
}

/// What went wrong, in words; nothing of the history is kept.
#[derive(Debug)]
pub struct Failed(pub String);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<diesel::result::Error> for Failed {
    fn from(e: diesel::result::Error) -> Self {
        Failed(format!("database: {e}"))
    }
}

fn err<E: fmt::Display>(what: &'static str) -> impl Fn(E) -> Failed {
    move |e| Failed(format!("{what}: {e}"))
}

/// One kind of incident the demo tickets are made of.
struct Scenario {
    title: &'static str,
    description: &'static str,
    category: &'static str,
    /// `None`: no model fits, and what was missing.
    model: Result<&'static str, &'static str>,
    outcome: &'static str,
    escalate: bool,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        title: "Checkout returns 502 for every order",
        description: "Since 09:40 the shop answers 502 Bad Gateway.",
        category: "web",
        model: Ok("website-502"),
        outcome: "resolved",
        escalate: false,
    },
    Scenario {
        title: "Disk almost full on db-2",
        description: "Alert: /var/lib/postgresql 96% used.",
        category: "database",
        model: Ok("db-disk-full"),
        outcome: "resolved",
        escalate: true,
    },
    Scenario {
        title: "Replica lag above 5 minutes",
        description: "Reports show stale data; the replica is behind.",
        category: "database",
        model: Ok("db-replication-lag"),
        outcome: "partial",
        escalate: true,
    },
    Scenario {
        title: "Customers cannot log in",
        description: "Login page says the password is wrong for everyone.",
        category: "auth",
        model: Ok("login-failures"),
        outcome: "resolved",
        escalate: false,
    },
    Scenario {
        title: "Kafka consumer lag on orders topic",
        description: "Orders are processed 20 minutes late.",
        category: "queue",
        model: Err(
            "Consumer lag on Kafka topics: how to find the slow consumer group and scale it",
        ),
        outcome: "no_fit",
        escalate: true,
    },
    Scenario {
        title: "Certificate expires in 3 days",
        description: "Monitoring warns that api.example.com's certificate expires soon.",
        category: "tls",
        model: Ok("tls-certificate-expiry"),
        outcome: "resolved",
        escalate: false,
    },
    Scenario {
        title: "Pods restarting in a loop",
        description: "payments-api is in CrashLoopBackOff.",
        category: "kubernetes",
        model: Ok("crashloop-backoff"),
        outcome: "partial",
        escalate: false,
    },
    Scenario {
        title: "Nightly backup failed",
        description: "The backup job exited with code 1.",
        category: "backup",
        model: Ok("backup-job-failed"),
        outcome: "resolved",
        escalate: false,
    },
    Scenario {
        title: "CDN serves stale pages after deploy",
        description: "Old prices are shown after the release.",
        category: "web",
        model: Err("Purging the CDN cache after a deploy, and checking it worked"),
        outcome: "no_fit",
        escalate: false,
    },
];

async fn person(
    conn: &mut AsyncPgConnection,
    name: &str,
    role: Role,
    org: Option<OrgId>,
    hash: &str,
) -> Result<User, Failed> {
    let email = format!("{}@{DOMAIN}", name.to_lowercase().replace(' ', "."));
    users::create(
        conn,
        NewUser {
            email: &email,
            display_name: name,
            role,
            organization: org,
            password_hash: hash,
        },
    )
    .await
    .map_err(err("adding a demo person"))
}

async fn organization(conn: &mut AsyncPgConnection, name: &str) -> Result<OrgId, Failed> {
    if let Some(o) = users::find_organization_by_name(conn, name)
        .await
        .map_err(err("finding an organization"))?
    {
        return Ok(OrgId(o.id));
    }
    Ok(OrgId(
        users::create_organization(conn, name)
            .await
            .map_err(err("adding an organization"))?
            .id,
    ))
}

/// Moves a ticket's rows into the past: created at `base`, each later row
/// a little after the one before.
async fn backdate_ticket(
    conn: &mut AsyncPgConnection,
    ticket: i64,
    base: DateTime<Utc>,
) -> Result<(), Failed> {
    let statements = [
        "UPDATE tickets SET created_at = $2, updated_at = $2 + interval '6 hours' WHERE id = $1",
        "UPDATE ticket_transitions t SET at = $2 + s.n * interval '47 minutes'
           FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM ticket_transitions WHERE ticket_id = $1) s WHERE t.id = s.id",
        "UPDATE journal_entries j SET created_at = $2 + s.n * interval '23 minutes'
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM journal_entries WHERE ticket_id = $1) s WHERE j.id = s.id",
        "UPDATE triage_searches SET created_at = $2 + interval '12 minutes' WHERE ticket_id = $1",
        "UPDATE ticket_models SET created_at = $2 + interval '40 minutes' WHERE ticket_id = $1",
        "UPDATE escalations SET created_at = $2 + interval '90 minutes' WHERE ticket_id = $1",
    ];
    for sql in statements {
        diesel::sql_query(sql)
            .bind::<BigInt, _>(ticket)
            .bind::<Timestamptz, _>(base)
            .execute(conn)
            .await
            .map_err(err("moving a ticket into the past"))?;
    }
    Ok(())
}

/// Moves an item's newest history row (and, for its first, the item) to `at`.
async fn backdate_item(
    conn: &mut AsyncPgConnection,
    item: i64,
    at: DateTime<Utc>,
) -> Result<(), Failed> {
    let newest: i64 = improvement_events::table
        .filter(improvement_events::improvement_id.eq(item))
        .select(diesel::dsl::max(improvement_events::id))
        .first::<Option<i64>>(conn)
        .await
        .map_err(err("reading an item's history"))?
        .unwrap_or_default();
    diesel::update(improvement_events::table.find(newest))
        .set(improvement_events::at.eq(at))
        .execute(conn)
        .await
        .map_err(err("moving an item's history into the past"))?;
    diesel::sql_query(
        "UPDATE improvements SET updated_at = $2,
           created_at = (SELECT min(at) FROM improvement_events WHERE improvement_id = $1) WHERE id = $1",
    )
    .bind::<BigInt, _>(item)
    .bind::<Timestamptz, _>(at)
    .execute(conn)
    .await
    .map_err(err("moving an item into the past"))?;
    Ok(())
}

fn item(title: &str, kind: &str, priority: &str, due: Option<NaiveDate>) -> ItemInput {
    ItemInput {
        title: title.to_owned(),
        details: String::new(),
        kind: kind.to_owned(),
        priority: priority.to_owned(),
        due_on: due.map(|d| d.to_string()).unwrap_or_default(),
    }
}

/// Adds the history, unless demo people already exist.
pub async fn demo_history(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> Result<HistoryReport, Failed> {
    let existing: i64 = users_table::table
        .filter(users_table::email.like(format!("%@{DOMAIN}")))
        .count()
        .get_result(conn)
        .await
        .map_err(err("looking for demo people"))?;
    if existing > 0 {
        return Ok(HistoryReport {
            skipped: true,
            ..Default::default()
        });
    }
    let password =
        crate::secrets::new_token("").map_err(err("making a password"))?[..16].to_owned();
    let hash = crate::secrets::hash_password(&password).map_err(err("hashing a password"))?;
    conn.transaction(async |conn| {
        let mut report = fill(conn, now, &hash).await?;
        report.password = password.clone();
        Ok(report)
    })
    .await
}

async fn fill(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    hash: &str,
) -> Result<HistoryReport, Failed> {
    let mut report = HistoryReport::default();
    let acme = organization(conn, "Acme Retail").await?;
    let globex = organization(conn, "Globex Logistics").await?;
    let engineers = [
        person(conn, "Alice Nakamura", Role::Engineer, None, hash).await?,
        person(conn, "Bruno Silva", Role::Engineer, None, hash).await?,
        person(conn, "Chen Wei", Role::Engineer, None, hash).await?,
    ];
    let reviewer = person(conn, "Rita Okafor", Role::Reviewer, None, hash).await?;
    let manager = person(conn, "Max Berger", Role::Manager, None, hash).await?;
    let _admin = person(conn, "Ada Admin", Role::Admin, None, hash).await?;
    let customers = [
        person(conn, "Carol Customer", Role::Customer, Some(acme), hash).await?,
        person(conn, "Dan Customer", Role::Customer, Some(globex), hash).await?,
    ];
    report.people = 8;

    // The rota: six weeks back to three ahead, engineers and the reviewer in turn.
    let triagers = [&engineers[0], &engineers[1], &reviewer, &engineers[2]];
    let this_week = week_of(now.date_naive());
    for k in -WEEKS_BACK..=3 {
        let week = this_week + Duration::weeks(k);
        let who = triagers[(k + WEEKS_BACK) as usize % triagers.len()];
        diesel::insert_into(rota_weeks::table)
            .values((
                rota_weeks::week_start.eq(week),
                rota_weeks::triager_id.eq(who.id),
                rota_weeks::assigned_by.eq(manager.id),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await
            .map_err(err("planning the rota"))?;
    }
    let today = now.date_naive();
    let (w1, w2) = (
        (this_week + Duration::weeks(1)).to_string(),
        (this_week + Duration::weeks(2)).to_string(),
    );
    rota::swap(conn, &manager.viewer(), &w1, &w2, true, today)
        .await
        .map_err(err("swapping two weeks"))?;

    // Tickets over the past weeks.
    let total = 24;
    let mut resolved: Vec<(i64, &Scenario, DateTime<Utc>)> = Vec::new();
    for i in 0..total {
        let s = &SCENARIOS[i % SCENARIOS.len()];
        let base = now - Duration::days(WEEKS_BACK * 7) + Duration::hours(i as i64 * 41);
        let customer = &customers[i % 2];
        let engineer = &engineers[i % 3];
        let triager_id: Option<i64> = rota_weeks::table
            .filter(rota_weeks::week_start.eq(week_of(base.date_naive())))
            .select(rota_weeks::triager_id)
            .first(conn)
            .await
            .optional()
            .map_err(err("reading the rota"))?;
        let triager = match triager_id {
            Some(id) => users::find(conn, UserId(id))
                .await
                .map_err(err("reading a triager"))?,
            None => engineer.clone(),
        };
        let id = ticket_actions::open(
            conn,
            &customer.viewer(),
            OpenTicket {
                title: s.title,
                description: s.description,
                priority: ["2", "3", "1", "3"][i % 4],
                category: s.category,
                organization: None,
            },
        )
        .await
        .map_err(err("opening a ticket"))?
        .id
        .0;
        let tid = TicketId(id);
        let (t, e) = (triager.viewer(), engineer.viewer());
        let search = triage::record(
            conn,
            tid,
            UserId(triager.id),
            s.title,
            serde_json::json!([{ "key": s.model.unwrap_or("service-down-triage") }]),
        )
        .await
        .map_err(err("recording a triage search"))?;
        if let Ok(key) = s.model {
            triage::picked(conn, tid, search, key)
                .await
                .map_err(err("recording a pick"))?;
        }
        ticket_actions::change_status(conn, &t, tid, "triaged", "")
            .await
            .map_err(err("triaging"))?;
        ticket_actions::write(
            conn,
            &t,
            tid,
            "Thanks — we are on it and will update you here.",
            Visibility::Public,
        )
        .await
        .map_err(err("replying"))?;
        let (key, missing) = match s.model {
            Ok(key) => (key, ""),
            Err(missing) => ("", missing),
        };
        ticket_actions::link_model(conn, &e, tid, key, s.outcome, missing, None)
            .await
            .map_err(err("linking a model"))?;
        ticket_actions::change_status(conn, &e, tid, "in_progress", "")
            .await
            .map_err(err("starting work"))?;
        ticket_actions::write(
            conn,
            &e,
            tid,
            "Following the model's steps; step 1 confirms it.",
            Visibility::Internal,
        )
        .await
        .map_err(err("journaling"))?;
        if s.escalate {
            ticket_actions::escalate(
                conn,
                &e,
                tid,
                Escalation {
                    to_user: None,
                    to_team: "Database on-call",
                    followed: if s.model.is_ok() { "yes" } else { "no_model" },
                    step_reached: "2",
                    reason: "",
                },
            )
            .await
            .map_err(err("escalating"))?;
        }
        let open_still = i >= total - 3;
        if !open_still {
            ticket_actions::change_status(conn, &e, tid, "resolved", "")
                .await
                .map_err(err("resolving"))?;
            resolved.push((id, s, base));
        }
        backdate_ticket(conn, id, base).await?;
        report.tickets += 1;
    }

    // Reviews of most resolved tickets, a day after each; items from them.
    let rv = reviewer.viewer();
    let mut model_items: Vec<(i64, &'static str, DateTime<Utc>)> = Vec::new();
    for (n, (id, s, base)) in resolved.iter().enumerate() {
        let at = *base + Duration::days(1);
        if at > now - Duration::days(4) || n % 5 == 4 {
            continue; // recent ones, and a few older ones, still wait in the queue
        }
        let tid = TicketId(*id);
        let submitted = if s.outcome == "resolved" && n % 2 == 0 {
            reviews::submit_routine(conn, &rv, tid)
                .await
                .map_err(err("a routine review"))?
        } else {
            let (linked, worked, proposal) = match s.model {
                Err(missing) => (
                    "no_model",
                    "not_followed",
                    Proposal {
                        item: item(
                            &format!(
                                "Write a model: {}",
                                missing.split(':').next().unwrap_or(missing)
                            ),
                            "new_model",
                            "2",
                            Some(at.date_naive() + Duration::days(21)),
                        ),
                        model_key: String::new(),
                        owner: Some(engineers[n % 3].id),
                    },
                ),
                Ok(key) => (
                    "yes",
                    "step_wrong",
                    Proposal {
                        item: item(
                            &format!("{}: step 2 misses the check we needed", s.title),
                            "update_model",
                            ["1", "2", "3"][n % 3],
                            Some(at.date_naive() + Duration::days(14)),
                        ),
                        model_key: key.to_owned(),
                        owner: Some(engineers[(n + 1) % 3].id),
                    },
                ),
            };
            let input = ReviewInput {
                what_happened: format!("{} — found and fixed within the day.", s.title),
                model_linked: linked.to_owned(),
                model_worked: worked.to_owned(),
                step_detail: if worked == "step_wrong" {
                    "Step 2 does not say how to confirm the cause".to_owned()
                } else {
                    String::new()
                },
                escalation: if s.escalate {
                    "right".to_owned()
                } else {
                    "none_needed".to_owned()
                },
                recommendations: "See the improvement item.".to_owned(),
            };
            let proposals = if n % 3 == 2 {
                Vec::new()
            } else {
                vec![proposal]
            };
            reviews::submit(conn, &rv, tid, &input, &proposals)
                .await
                .map_err(err("a review"))?
        };
        diesel::update(reviews_table::table.find(submitted.review.id))
            .set((
                reviews_table::created_at.eq(at),
                reviews_table::updated_at.eq(at),
                reviews_table::submitted_at.eq(at),
            ))
            .execute(conn)
            .await
            .map_err(err("moving a review into the past"))?;
        diesel::sql_query("UPDATE journal_entries SET created_at = $2 WHERE id = (SELECT max(id) FROM journal_entries WHERE ticket_id = $1)")
            .bind::<BigInt, _>(*id)
            .bind::<Timestamptz, _>(at)
            .execute(conn)
            .await
            .map_err(err("moving a review's entry into the past"))?;
        for item_id in &submitted.items {
            backdate_item(conn, *item_id, at).await?;
            if let Ok(key) = s.model {
                model_items.push((*item_id, key, at));
            }
        }
        report.reviews += 1;
        report.items += submitted.items.len();
    }

    // Items filed directly, one re-prioritised later, one not to be done.
    let mv = manager.viewer();
    let direct = [
        (
            "Alert on Kafka consumer lag before customers notice",
            "monitoring",
            "2",
            30,
        ),
        ("Automate certificate renewal checks", "automation", "3", 26),
        ("Retry payment webhooks on 5xx", "product_fix", "1", 19),
        (
            "Hand-over note template for the triage rota",
            "process",
            "4",
            12,
        ),
    ];
    let mut direct_ids = Vec::new();
    for (title, kind, priority, days_ago) in direct {
        let at = now - Duration::days(days_ago);
        let created = improvements::create(
            conn,
            &mv,
            NewItem {
                input: &item(
                    title,
                    kind,
                    priority,
                    Some(at.date_naive() + Duration::days(10)),
                ),
                model_key: "",
                owner: Some(engineers[days_ago as usize % 3].id),
                review: None,
                ticket: None,
            },
        )
        .await
        .map_err(err("filing an item"))?;
        backdate_item(conn, created.id, at).await?;
        direct_ids.push((created.id, title, kind, at));
        report.items += 1;
    }
    if let Some((id, title, kind, at)) = direct_ids.as_slice().first().copied() {
        improvements::update(
            conn,
            &mv,
            id,
            Update {
                input: &item(title, kind, "1", Some(at.date_naive() + Duration::days(10))),
                model_key: "",
                owner: Some(engineers[0].id),
                status: "in_progress",
                reason: "",
            },
        )
        .await
        .map_err(err("re-prioritising an item"))?;
        backdate_item(conn, id, at + Duration::days(6)).await?;
    }
    if let Some((id, title, kind, at)) = direct_ids.last().copied() {
        improvements::update(
            conn,
            &mv,
            id,
            Update {
                input: &item(title, kind, "4", Some(at.date_naive() + Duration::days(10))),
                model_key: "",
                owner: None,
                status: "wont_do",
                reason: "The rota page says it all now",
            },
        )
        .await
        .map_err(err("closing an item"))?;
        backdate_item(conn, id, at + Duration::days(3)).await?;
    }

    // Two model items done by a new revision of their model.
    let mut done_models = Vec::new();
    for (item_id, key, at) in model_items.iter().copied() {
        if done_models.contains(&key) || done_models.len() == 2 {
            continue;
        }
        let model = models::find_by_key(conn, key)
            .await
            .map_err(err("finding a model"))?
            .ok_or_else(|| Failed(format!("demo model {key} is missing")))?;
        let revision = models::revision(conn, model.id, model.revision)
            .await
            .map_err(err("reading a model"))?
            .ok_or_else(|| Failed(format!("{key} has no revision")))?;
        let mut text =
            crate::domain::model::parse(&revision.body).map_err(err("reading a model's text"))?;
        text.discussion
            .push_str("\n\nAfter a review: confirm the cause before step 3, as the step now says.");
        let done_at = (at + Duration::days(5)).min(now - Duration::hours(1));
        let saved = crate::web::models::edit::save_resolving(
            conn,
            Some(&model),
            model.revision,
            &text,
            UserId(engineers[1].id),
            "Step 2: how to confirm the cause (from a review)",
            Some((&engineers[1].viewer(), &[item_id])),
        )
        .await
        .map_err(err("saving a model"))?;
        diesel::sql_query("UPDATE model_revisions SET created_at = $2 WHERE model_id = $1 AND number = (SELECT revision FROM incident_models WHERE id = $1)")
            .bind::<BigInt, _>(saved.id)
            .bind::<Timestamptz, _>(done_at)
            .execute(conn)
            .await
            .map_err(err("moving a revision into the past"))?;
        backdate_item(conn, item_id, done_at).await?;
        done_models.push(key);
    }

    // Last week's triage, sampled and partly graded.
    let last_week = (this_week - Duration::weeks(1)).to_string();
    let (_, sample) = rota::sample(
        conn,
        &rv,
        this_week - Duration::weeks(1),
        crate::domain::rota::DEFAULT_SAMPLE,
    )
    .await
    .map_err(err("sampling last week's triage"))?;
    for (n, row) in sample.iter().take(2).enumerate() {
        let answers = if n == 0 {
            ["yes", "yes", "yes", "no", "na"]
        } else {
            ["yes", "no", "yes", "yes", "yes"]
        };
        rota::review_triage(
            conn,
            &rv,
            &last_week,
            row.ticket,
            answers,
            "Good searches; reply could be faster.",
            crate::domain::rota::DEFAULT_SAMPLE,
        )
        .await
        .map_err(err("grading a triage"))?;
    }
    Ok(report)
}
