//! Search: the outbox-fed index survives crashes and matches a rebuild, two
//! indexes on one database converge, results respect visibility, and
//! triage searches are recorded.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use casebook::db::models::{self, Save};
use casebook::db::schema::triage_searches;
use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::domain::model::Status;
use casebook::domain::policy::Visibility;
use casebook::search::indexer::{self, snapshot};
use casebook::search::query::{self, Audience};
use casebook::search::{SearchIndex, triage};
use casebook::tickets::{self as ticket_actions, OpenTicket};

use crate::support::TestApp;
use crate::support::fixtures;

struct Data {
    engineer: User,
    customer: User,
    rival: User,
}

/// Demo models, and tickets of two organizations with internal and public
/// entries.
async fn data(conn: &mut AsyncPgConnection) -> Data {
    casebook::commands::demo(conn).await.unwrap();
    let acme = fixtures::organization(conn, "Acme").await;
    let globex = fixtures::organization(conn, "Globex").await;
    let engineer = fixtures::user().role(Role::Engineer).create(conn).await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(conn)
        .await;
    let rival = fixtures::user()
        .role(Role::Customer)
        .org(&globex)
        .create(conn)
        .await;
    for (who, title) in [
        (&customer, "Checkout returns 502 Bad Gateway"),
        (&rival, "Replication lag on the reporting replica"),
    ] {
        let ticket = ticket_actions::open(
            conn,
            &who.viewer(),
            OpenTicket {
                title,
                description: "Started this morning.",
                priority: "2",
                category: "web",
                organization: None,
            },
        )
        .await
        .unwrap();
        let id = ticket.id;
        ticket_actions::write(
            conn,
            &engineer.viewer(),
            id,
            "zebracorn internal hypothesis",
            Visibility::Internal,
        )
        .await
        .unwrap();
        ticket_actions::write(
            conn,
            &engineer.viewer(),
            id,
            "We are looking into the gateway.",
            Visibility::Public,
        )
        .await
        .unwrap();
    }
    Data {
        engineer,
        customer,
        rival,
    }
}

async fn fresh_rebuild_snapshot(conn: &mut AsyncPgConnection) -> Vec<(String, String)> {
    let index = SearchIndex::in_memory().unwrap();
    let mut writer = indexer::writer(&index).unwrap();
    indexer::rebuild(&index, &mut writer, conn, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    snapshot(&index).unwrap()
}

#[actix_web::test]
async fn a_crash_at_any_point_replays_to_what_a_rebuild_gives() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    data(&mut conn).await;
    let dir = tempfile::tempdir().unwrap();
    // Other tests' transactions on the shared server hold the horizon back
    // for a moment: let it pass this test's rows first.
    assert!(
        casebook::db::outbox::settle(&mut conn, Duration::from_secs(30))
            .await
            .unwrap()
    );
    // Crash points: after applying 1, 7 and 13 outbox rows without
    // committing, then a clean restart each time.
    for crash_after in [1, 7, 13] {
        let index = SearchIndex::open(dir.path()).unwrap();
        let mut writer = indexer::writer(&index).unwrap();
        indexer::apply_batch(&index, &mut writer, &mut conn, crash_after, false)
            .await
            .unwrap();
        // The process dies here: nothing after the last commit survives.
        drop(writer);
        drop(index);
        let index = SearchIndex::open(dir.path()).unwrap();
        let mut writer = indexer::writer(&index).unwrap();
        indexer::apply_batch(&index, &mut writer, &mut conn, crash_after, true)
            .await
            .unwrap();
    }
    // And a crash right after a commit, mid-way: the payload carries on.
    let index = SearchIndex::open(dir.path()).unwrap();
    let before = index.position();
    assert!(before > Default::default(), "nothing was committed");
    let mut writer = indexer::writer(&index).unwrap();
    indexer::catch_up(&index, &mut writer, &mut conn)
        .await
        .unwrap();
    drop(writer);
    let reopened = SearchIndex::open(dir.path()).unwrap();
    assert!(reopened.position() > before);
    assert_eq!(
        snapshot(&reopened).unwrap(),
        fresh_rebuild_snapshot(&mut conn).await
    );
}

#[actix_web::test]
async fn two_indexes_on_one_database_converge() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let d = data(&mut conn).await;
    let a = SearchIndex::in_memory().unwrap();
    let b = SearchIndex::in_memory().unwrap();
    let mut wa = indexer::writer(&a).unwrap();
    let mut wb = indexer::writer(&b).unwrap();
    indexer::catch_up(&a, &mut wa, &mut conn).await.unwrap();
    // More writes while only one of them has caught up.
    let ticket = ticket_actions::open(
        &mut conn,
        &d.customer.viewer(),
        OpenTicket {
            title: "Later ticket",
            description: "",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap();
    ticket_actions::write(
        &mut conn,
        &d.engineer.viewer(),
        ticket.id,
        "later note",
        Visibility::Internal,
    )
    .await
    .unwrap();
    indexer::catch_up(&b, &mut wb, &mut conn).await.unwrap();
    indexer::catch_up(&a, &mut wa, &mut conn).await.unwrap();
    let expected = fresh_rebuild_snapshot(&mut conn).await;
    assert_eq!(snapshot(&a).unwrap(), expected);
    assert_eq!(snapshot(&b).unwrap(), expected);
    assert_eq!(indexer::lag(&a, &mut conn).await.unwrap(), 0);
    assert_eq!(indexer::lag(&b, &mut conn).await.unwrap(), 0);
}

#[actix_web::test]
async fn search_results_respect_visibility() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let d = data(&mut conn).await;
    let index = SearchIndex::in_memory().unwrap();
    let mut writer = indexer::writer(&index).unwrap();
    indexer::catch_up(&index, &mut writer, &mut conn)
        .await
        .unwrap();
    let find = |q: &str, audience| {
        let (hits, _) = query::search(&index, &query::parse(q), audience, 0, 50).unwrap();
        hits.into_iter()
            .map(|h| {
                format!(
                    "{}:{}",
                    h.kind,
                    if h.kind == "model" { h.key } else { h.title }
                )
            })
            .collect::<Vec<_>>()
    };
    let staff = Audience::Staff;
    let acme = Audience::Customer {
        organization: d.customer.organization_id,
    };
    let globex = Audience::Customer {
        organization: d.rival.organization_id,
    };

    assert!(
        find("zebracorn", staff).len() == 2,
        "staff find internal entries"
    );
    assert!(
        find("zebracorn", acme).is_empty(),
        "a customer matched internal text"
    );
    let gateway = find("gateway", acme);
    assert!(
        gateway.contains(&"ticket:Checkout returns 502 Bad Gateway".to_owned()),
        "{gateway:?}"
    );
    assert!(
        !gateway.iter().any(|h| h.contains("Replication lag")),
        "another organization's ticket: {gateway:?}"
    );
    assert!(
        gateway.contains(&"model:website-502".to_owned()),
        "public model missing: {gateway:?}"
    );
    assert!(
        !find("replication", globex)
            .iter()
            .any(|h| h.starts_with("model:")),
        "internal model shown to a customer"
    );
    assert!(find("replication", staff).contains(&"model:db-replication-lag".to_owned()));
    // Filters and phrases.
    assert_eq!(find("key:db-disk-full", staff), vec!["model:db-disk-full"]);
    assert!(
        find("category:database", staff)
            .iter()
            .all(|h| h.starts_with("model:db-") || h.starts_with("model:wal"))
    );
    assert!(find("status:draft", staff) == vec!["model:backup-job-failed"]);
    assert!(find(r#""bad gateway""#, staff).contains(&"model:website-502".to_owned()));
    assert!(find("tag:postgres disk", staff).contains(&"model:db-disk-full".to_owned()));
    assert!(find("", staff).is_empty());
}

#[actix_web::test]
async fn triage_suggests_the_right_model_and_flags_duplicates() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let d = data(&mut conn).await;
    let index = SearchIndex::in_memory().unwrap();
    let mut writer = indexer::writer(&index).unwrap();
    let copy = ticket_actions::open(
        &mut conn,
        &d.customer.viewer(),
        OpenTicket {
            title: "Checkout gives 502 bad gateway errors",
            description: "Started this morning.",
            priority: "2",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap();
    indexer::catch_up(&index, &mut writer, &mut conn)
        .await
        .unwrap();
    let found = triage::suggest_models(
        &index,
        "[FIRING:1] Website returning HTTP 502 from the load balancer upstream",
        5,
    )
    .unwrap();
    assert_eq!(
        found.as_slice().first().map(|s| s.key.as_str()),
        Some("website-502"),
        "{found:?}"
    );
    assert!(
        found[0].matched.iter().any(|w| w == "502"),
        "{:?}",
        found[0].matched
    );
    let dups = triage::possible_duplicates(
        &index,
        copy.id.0,
        "Checkout gives 502 bad gateway errors\nStarted this morning.",
        5,
    )
    .unwrap();
    assert!(
        dups.iter()
            .any(|d| d.title == "Checkout returns 502 Bad Gateway"),
        "{dups:?}"
    );
    assert!(
        !dups.iter().any(|d| d.id == copy.id.0),
        "a ticket is not its own duplicate"
    );
    assert!(
        !dups.iter().any(|d| d.title.starts_with("Replication lag")),
        "sharing \"Started this morning.\" does not make a duplicate: {dups:?}"
    );
    assert!(
        triage::suggest_models(&index, "   !!! ", 5)
            .unwrap()
            .is_empty()
    );

    // A retired model is never suggested, even when it fits best; the next
    // best fill its place.
    let model = models::find_by_key(&mut conn, "website-502")
        .await
        .unwrap()
        .unwrap();
    let current = models::revision(&mut conn, model.id, model.revision)
        .await
        .unwrap()
        .unwrap();
    let mut text = casebook::domain::model::parse(&current.body).unwrap();
    text.status = Status::Retired;
    let save = Save {
        author: None,
        summary: "Retired",
    };
    models::save(&mut conn, Some(&model), model.revision, &text, &save)
        .await
        .unwrap();
    indexer::catch_up(&index, &mut writer, &mut conn)
        .await
        .unwrap();
    let alert = "[FIRING:1] Website returning HTTP 502 from the load balancer upstream";
    for limit in [1, 5] {
        let found = triage::suggest_models(&index, alert, limit).unwrap();
        assert_eq!(found.len(), limit, "{found:?}");
        assert!(found.iter().all(|s| s.key != "website-502"), "{found:?}");
    }
}

#[actix_web::test]
async fn triage_searches_from_a_ticket_are_recorded_with_what_was_picked() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let d = data(&mut conn).await;
    let mut writer = indexer::writer(&app.state.search).unwrap();
    indexer::catch_up(&app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
    let ticket = 1;
    let browser = app.sign_in(&d.engineer).await;
    let page = app.get_as(&browser, &format!("/tickets/{ticket}")).await;
    assert!(
        page.body.contains("Suggested models")
            && page.body.contains(r#"href="/models/website-502""#),
        "{}",
        page.body
    );
    let res = app
        .post_as(
            &browser,
            &format!("/tickets/{ticket}/triage"),
            &[("q", "load balancer 502")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (id, query, results): (i64, String, serde_json::Value) = triage_searches::table
        .select((
            triage_searches::id,
            triage_searches::query,
            triage_searches::results,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(query, "load balancer 502");
    assert_eq!(results[0]["key"], "website-502");
    let linked = app
        .post_as(
            &browser,
            &format!("/tickets/{ticket}/models"),
            &[
                ("search", &id.to_string()),
                ("model", "website-502"),
                ("outcome", "partial"),
            ],
        )
        .await;
    assert_eq!(linked.status, 303);
    let picked: Option<String> = triage_searches::table
        .find(id)
        .select(triage_searches::picked)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(picked.as_deref(), Some("website-502"));
    let page = app.get_as(&browser, &format!("/tickets/{ticket}")).await;
    assert!(
        page.body.contains("“load balancer 502”")
            && page.body.contains("picked <code>website-502</code>")
    );
    assert!(
        page.body
            .contains("searched the models for “load balancer 502”")
    );
    // Customers neither see nor run triage.
    let customer = app.sign_in(&d.customer).await;
    let theirs = app.get_as(&customer, &format!("/tickets/{ticket}")).await;
    assert!(
        !theirs.body.contains("Suggested models") && !theirs.body.contains("load balancer 502")
    );
    assert_eq!(
        app.post_as(
            &customer,
            &format!("/tickets/{ticket}/triage"),
            &[("q", "x")]
        )
        .await
        .status,
        403
    );
    let empty = app
        .refused_as(
            &browser,
            &format!("/tickets/{ticket}/triage"),
            &[("q", "  ")],
        )
        .await;
    assert!(empty.body.contains(r#"id="refused""#), "{}", empty.body);
}

#[actix_web::test]
async fn a_write_becomes_searchable_through_the_running_indexer() {
    let app = TestApp::new().await;
    let listener = casebook::live::spawn_listener(app.db.url.clone(), app.state.hub.clone());
    while !app.state.hub.is_listening() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let task = indexer::spawn(
        app.state.search.clone(),
        app.state.pool.clone(),
        app.state.hub.outbox.clone(),
    );
    let mut conn = app.conn().await;
    let engineer = fixtures::user().create(&mut conn).await;
    let browser = app.sign_in(&engineer).await;
    let text = "# Quasar flux capacitor overheating\nkey: quasar-flux\nstatus: published\n\n## Statement\nThe quasar flux capacitor runs hot.\n\n## Steps\n1. Cool it.\n";
    let started = Instant::now();
    assert_eq!(
        app.post_as(&browser, "/models", &[("text", text), ("action", "save")])
            .await
            .status,
        303
    );
    let mut found = false;
    while started.elapsed() < Duration::from_secs(10) {
        let (hits, _) = query::search(
            &app.state.search,
            &query::parse("quasar"),
            Audience::Staff,
            0,
            5,
        )
        .unwrap();
        if hits.iter().any(|h| h.key == "quasar-flux") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(found, "the new model never became searchable");
    eprintln!(
        "model searchable {} ms after the save request started",
        started.elapsed().as_millis()
    );
    let page = app.get_as(&browser, "/search?q=quasar+capacitor").await;
    assert!(
        page.body.contains("Quasar flux capacitor overheating") && page.body.contains("<b>"),
        "{}",
        page.body
    );
    task.abort();
    listener.abort();
}

#[actix_web::test]
async fn the_search_page_ranks_by_any_word_when_few_results_hold_every_word() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let engineer = fixtures::user().create(&mut conn).await;
    let mut writer = indexer::writer(&app.state.search).unwrap();
    indexer::catch_up(&app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
    app.state.search.reader.reload().unwrap();
    let search = &app.state.search;
    // No document holds the alert name, so every word finds nothing...
    let alert = query::parse("KubePodCrashLooping");
    let (strict, _) = query::search(search, &alert, Audience::Staff, 0, 10).unwrap();
    assert!(strict.is_empty(), "{strict:?}");
    // ...and its words find the model written in words.
    let found = query::search_or_ranked(search, &alert, Audience::Staff, 0, 10).unwrap();
    assert!(found.ranked);
    assert_eq!(
        found.hits.as_slice().first().map(|h| h.key.as_str()),
        Some("crashloop-backoff"),
        "{:?}",
        found.hits
    );
    let browser = app.sign_in(&engineer).await;
    let page = app.get_as(&browser, "/search?q=KubePodCrashLooping").await;
    assert!(
        page.body.contains("Few results hold every word")
            && page.body.contains("Pods in CrashLoopBackOff"),
        "{}",
        page.body
    );
    // Enough results hold every word: no fallback.
    let many =
        query::search_or_ranked(search, &query::parse("pods"), Audience::Staff, 0, 10).unwrap();
    assert!(!many.ranked && many.total >= query::FEW_HITS);
    let page = app.get_as(&browser, "/search?q=pods").await;
    assert!(!page.body.contains("Few results hold every word"));
}

/// A triage search's internal entry is announced to the team's webhook
/// subscriptions with the ticket as it is (read once, under the action's
/// lock): the same ticket part as an internal note's, which reads the
/// ticket again.
#[actix_web::test]
async fn a_triage_search_is_announced_with_the_ticket_as_a_note_is() {
    use casebook::db::schema::deliveries;
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    casebook::db::webhooks::create(
        &mut conn,
        casebook::db::webhooks::NewSubscription {
            url: "https://hooks.example.com/team",
            events: vec!["entry.internal".to_owned()],
            secret: "s3cret",
            customer_visible_only: false,
            format: "json",
            organization: None,
            created_by: engineer.id,
        },
    )
    .await
    .unwrap();
    let ticket = ticket_actions::open(
        &mut conn,
        &customer.viewer(),
        OpenTicket {
            title: "Checkout is down",
            description: "since noon",
            priority: "2",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id;
    let staff = engineer.viewer();
    ticket_actions::assign(&mut conn, &staff, ticket, Some(engineer.id))
        .await
        .unwrap();
    let (search_id, _) = ticket_actions::triage(
        &mut conn,
        &app.state.search,
        &staff,
        ticket,
        "checkout down",
    )
    .await
    .unwrap();
    ticket_actions::write(&mut conn, &staff, ticket, "a note", Visibility::Internal)
        .await
        .unwrap();
    let payloads: Vec<serde_json::Value> = deliveries::table
        .filter(deliveries::event.eq("entry.internal"))
        .filter(deliveries::ticket_id.eq(ticket.0))
        .order(deliveries::id.asc())
        .select(deliveries::payload)
        .load(&mut conn)
        .await
        .unwrap();
    // Each delivery carries the request body it will send.
    let bodies: Vec<serde_json::Value> = payloads
        .iter()
        .map(|p| serde_json::from_str(p["body"].as_str().unwrap()).unwrap())
        .collect();
    let of = |kind: &str| {
        bodies
            .iter()
            .find(|b| b["data"]["entry"]["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} delivery in {bodies:?}"))
            .clone()
    };
    let (triage, note) = (of("triage"), of("note"));
    let ticket_part = |b: &serde_json::Value| b["data"]["ticket"].clone();
    assert_eq!(ticket_part(&triage), ticket_part(&note));
    let t = ticket_part(&triage);
    assert_eq!(t["title"], "Checkout is down");
    assert_eq!(t["assignee_id"], engineer.id);
    assert_eq!(t["organization_id"], acme.id);
    assert_eq!(triage["data"]["entry"]["data"]["search_id"], search_id);
}

/// The subscriptions a triage search's entry goes to are looked up while
/// the search runs (`Subscribers::ahead`): the ticket's organization's and
/// the team-wide ones get it, another organization's and one to other
/// events do not, as for any internal entry.
#[actix_web::test]
async fn a_triage_search_goes_to_the_subscriptions_of_its_tickets_organization_only() {
    use casebook::db::schema::deliveries;
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let other = fixtures::organization(&mut conn, "Other").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let mut recipients = Vec::new();
    for (url, events, organization) in [
        ("https://hooks.example.com/team", "entry.internal", None),
        (
            "https://hooks.example.com/acme",
            "entry.internal",
            Some(acme.id),
        ),
        (
            "https://hooks.example.com/other",
            "entry.internal",
            Some(other.id),
        ),
        ("https://hooks.example.com/public", "entry.public", None),
    ] {
        let sub = casebook::db::webhooks::create(
            &mut conn,
            casebook::db::webhooks::NewSubscription {
                url,
                events: vec![events.to_owned()],
                secret: "s3cret",
                customer_visible_only: false,
                format: "json",
                organization,
                created_by: engineer.id,
            },
        )
        .await
        .unwrap();
        recipients.push(format!("webhook:{}", sub.id));
    }
    let ticket = ticket_actions::open(
        &mut conn,
        &customer.viewer(),
        OpenTicket {
            title: "Checkout is down",
            description: "since noon",
            priority: "2",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id;
    async fn queued(conn: &mut AsyncPgConnection, ticket: i64) -> Vec<String> {
        deliveries::table
            .filter(deliveries::ticket_id.eq(ticket))
            .filter(deliveries::channel.eq("webhook"))
            .select(deliveries::recipient)
            .order(deliveries::recipient.asc())
            .load::<String>(conn)
            .await
            .unwrap()
    }
    let before = queued(&mut conn, ticket.0).await;
    ticket_actions::triage(
        &mut conn,
        &app.state.search,
        &engineer.viewer(),
        ticket,
        "checkout down",
    )
    .await
    .unwrap();
    let mut after = queued(&mut conn, ticket.0).await;
    for url in &before {
        let at = after.iter().position(|u| u == url).unwrap();
        after.remove(at);
    }
    let mut expected = vec![recipients[0].clone(), recipients[1].clone()];
    expected.sort();
    assert_eq!(after, expected);
}
