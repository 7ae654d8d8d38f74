//! The improvement backlog through the real app: filing and editing items
//! (with history), bad input, the prioritised list with its filters and
//! bulk re-prioritising, the debt number and its trend replayed from
//! history with a fixed clock, closing the loop with model saves, and the
//! customer boundary.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use casebook::db::improvements::{self as items, NewItem, Update};
use casebook::db::schema::{
    debt_weeks, improvement_events, improvements, incident_models, model_revisions,
};
use casebook::domain::account::Role;
use casebook::domain::improvement::ItemInput;

use crate::reviews::{Team, team};
use crate::support::TestApp;
use crate::support::fixtures;

fn input(title: &str, kind: &str, priority: &str, due: &str) -> ItemInput {
    ItemInput {
        title: title.to_owned(),
        details: String::new(),
        kind: kind.to_owned(),
        priority: priority.to_owned(),
        due_on: due.to_owned(),
    }
}

async fn file(
    t: &Team,
    title: &str,
    kind: &str,
    model: &str,
    priority: &str,
    due: &str,
    owner: Option<i64>,
) -> i64 {
    let mut conn = t.app.conn().await;
    items::create(
        &mut conn,
        &t.reviewer.viewer(),
        NewItem {
            input: &input(title, kind, priority, due),
            model_key: model,
            owner,
            review: None,
            ticket: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn count(app: &TestApp) -> i64 {
    let mut conn = app.conn().await;
    improvements::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

fn day(offset: i64) -> String {
    (Utc::now() + Duration::days(offset))
        .date_naive()
        .to_string()
}

#[actix_web::test]
async fn an_item_filed_directly_and_edited_keeps_its_history() {
    let t = team().await;
    let reviewer = t.app.sign_in(&t.reviewer).await;
    let owner = t.engineer.id.to_string();
    let due = day(14);
    let res = t
        .app
        .post_as(
            &reviewer,
            "/improvements",
            &[
                ("title", "Add an inode step"),
                ("kind", "update_model"),
                ("model", "db-disk-full"),
                ("priority", "3"),
                ("owner", &owner),
                ("due_on", &due),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let location = res.location().unwrap().to_owned();
    assert!(location.ends_with("notice=improvement-filed"));
    let id: i64 = location
        .trim_start_matches("/improvements/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let path = format!("/improvements/{id}");
    let res = t
        .app
        .post_as(
            &reviewer,
            &path,
            &[
                ("title", "Add an inode step"),
                ("kind", "update_model"),
                ("model", "db-disk-full"),
                ("priority", "1"),
                ("owner", &t.manager.id.to_string()),
                ("due_on", &due),
                ("status", "in_progress"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = t.app.get_as(&reviewer, &path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("filed"));
    assert!(page.body.contains("priority: P3 → P1"), "{}", page.body);
    assert!(page.body.contains("status: open → in progress"));
    assert!(page.body.contains("owner: engineer"));
    let mut conn = t.app.conn().await;
    let events: Vec<(String, i16, String)> = improvement_events::table
        .filter(improvement_events::improvement_id.eq(id))
        .select((
            improvement_events::action,
            improvement_events::priority,
            improvement_events::status,
        ))
        .order(improvement_events::id.asc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        events,
        vec![
            ("created".into(), 3, "open".into()),
            ("edited".into(), 1, "in_progress".into())
        ]
    );

    // Saving the same values adds no history.
    let res = t
        .app
        .post_as(
            &reviewer,
            &path,
            &[
                ("title", "Add an inode step"),
                ("kind", "update_model"),
                ("model", "db-disk-full"),
                ("priority", "1"),
                ("owner", &t.manager.id.to_string()),
                ("due_on", &due),
                ("status", "in_progress"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let n: i64 = improvement_events::table
        .filter(improvement_events::improvement_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2);

    // Through the API too.
    let token = fixtures::api_token(&mut conn, &t.reviewer).await;
    let res = t
        .app
        .api_get(&token, &format!("/api/v1/improvements/{id}"))
        .await;
    assert_eq!(res.status, 200);
    let json: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(json["priority"], "P1");
    assert_eq!(json["model"], "db-disk-full");
    assert_eq!(json["history"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn bad_items_are_refused_with_the_reason_and_nothing_changes() {
    let t = team().await;
    let mut conn = t.app.conn().await;
    let disabled = fixtures::user()
        .role(Role::Engineer)
        .disabled()
        .create(&mut conn)
        .await;
    let reviewer = t.app.sign_in(&t.reviewer).await;
    let customer_id = t.customer.id.to_string();
    let disabled_id = disabled.id.to_string();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("title", "x"),
                ("kind", "process"),
                ("priority", "2"),
                ("owner", &customer_id),
            ],
            "must be an active member of the team",
        ),
        (
            vec![
                ("title", "x"),
                ("kind", "process"),
                ("priority", "2"),
                ("owner", &disabled_id),
            ],
            "must be an active member of the team",
        ),
        (
            vec![("title", "x"), ("kind", "update_model"), ("priority", "2")],
            "name the model to update",
        ),
        (
            vec![
                ("title", "x"),
                ("kind", "update_model"),
                ("model", "nope"),
                ("priority", "2"),
            ],
            "no incident model has the key",
        ),
        (
            vec![
                ("title", "x"),
                ("kind", "new_model"),
                ("model", "db-disk-full"),
                ("priority", "2"),
            ],
            "a new model has no key yet",
        ),
        (
            vec![("title", " "), ("kind", "process"), ("priority", "2")],
            "say what should be done",
        ),
        (
            vec![("title", "x"), ("kind", "wish"), ("priority", "2")],
            "choose a kind",
        ),
        (
            vec![("title", "x"), ("kind", "process"), ("priority", "9")],
            "choose P1, P2, P3 or P4",
        ),
        (
            vec![
                ("title", "x"),
                ("kind", "process"),
                ("priority", "2"),
                ("due_on", "soon"),
            ],
            "YYYY-MM-DD",
        ),
        (
            vec![
                ("title", "x"),
                ("kind", "process"),
                ("priority", "2"),
                ("owner", "abc"),
            ],
            "must be a number",
        ),
    ];
    for (fields, message) in cases {
        let res = t.app.post_as(&reviewer, "/improvements", &fields).await;
        assert_eq!(res.status, 422, "{fields:?}");
        assert!(res.body.contains(message), "{fields:?}: {}", res.body);
    }
    assert_eq!(count(&t.app).await, 0);

    // Won't do needs a reason; nothing changes without one.
    let id = file(&t, "Automate the failover", "automation", "", "2", "", None).await;
    let res = t
        .app
        .post_as(
            &reviewer,
            &format!("/improvements/{id}"),
            &[
                ("title", "Automate the failover"),
                ("kind", "automation"),
                ("priority", "2"),
                ("status", "wont_do"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("say why this won"));
    let status: String = improvements::table
        .find(id)
        .select(improvements::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "open");
    let res = t
        .app
        .post_as(
            &reviewer,
            &format!("/improvements/{id}"),
            &[
                ("title", "Automate the failover"),
                ("kind", "automation"),
                ("priority", "2"),
                ("status", "wont_do"),
                ("reason", "The vendor does it now"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);

    // A due date in the past is allowed, and flagged.
    let yesterday = day(-1);
    let res = t
        .app
        .post_as(
            &reviewer,
            "/improvements",
            &[
                ("title", "Late already"),
                ("kind", "process"),
                ("priority", "4"),
                ("due_on", &yesterday),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert!(
        res.location()
            .unwrap()
            .ends_with("notice=improvement-filed-overdue")
    );
    let page = t.app.get_as(&reviewer, res.location().unwrap()).await;
    assert!(page.body.contains("counts as overdue"));

    // The API answers a problem naming the field.
    let token = fixtures::api_token(&mut conn, &t.reviewer).await;
    let res = t
        .app
        .call(
            actix_web::test::TestRequest::post()
                .uri("/api/v1/improvements")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(serde_json::json!({ "title": "x", "kind": "process", "priority": 2, "owner_id": t.customer.id })),
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("\"field\":\"owner\""));
}

#[actix_web::test]
async fn the_backlog_is_prioritised_filtered_and_reprioritised_in_bulk() {
    let t = team().await;
    let later = file(&t, "P2 due later", "process", "", "2", &day(30), None).await;
    let _top = file(
        &t,
        "P1 with no due date",
        "monitoring",
        "",
        "1",
        "",
        Some(t.engineer.id),
    )
    .await;
    let overdue = file(&t, "P2 overdue", "process", "", "2", &day(-3), None).await;
    let _mine = file(
        &t,
        "P3 owned by the reviewer",
        "update_model",
        "website-502",
        "3",
        "",
        Some(t.reviewer.id),
    )
    .await;
    let done = file(&t, "P1 finished", "process", "", "1", "", None).await;
    let mut conn = t.app.conn().await;
    diesel::update(improvements::table.find(done))
        .set(improvements::status.eq("done"))
        .execute(&mut conn)
        .await
        .unwrap();

    let reviewer = t.app.sign_in(&t.reviewer).await;
    let page = t.app.get_as(&reviewer, "/improvements").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let at = |s: &str| page.body.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(at("P1 with no due date") < at("P2 overdue"));
    assert!(at("P2 overdue") < at("P2 due later"));
    assert!(at("P2 due later") < at("P3 owned by the reviewer"));
    assert!(
        !page.body.contains("P1 finished"),
        "done items are not in the open list"
    );
    assert!(page.body.contains(r#"<tr class="overdue">"#));
    assert!(page.body.contains("4 items"));
    assert!(page.body.contains("Debt <strong class=\"debt-number\">"));
    assert!(page.body.contains("overdue item counting twice"));

    let only = |body: &str, want: &str| {
        assert!(body.contains(want), "{want} missing");
        body.matches("<tr").count() - 1
    };
    let res = t.app.get_as(&reviewer, "/improvements?status=all").await;
    assert_eq!(only(&res.body, "P1 finished"), 5);
    let res = t
        .app
        .get_as(&reviewer, "/improvements?kind=monitoring")
        .await;
    assert_eq!(only(&res.body, "P1 with no due date"), 1);
    let res = t
        .app
        .get_as(&reviewer, &format!("/improvements?owner={}", t.engineer.id))
        .await;
    assert_eq!(only(&res.body, "P1 with no due date"), 1);
    let res = t.app.get_as(&reviewer, "/improvements?mine=1").await;
    assert_eq!(only(&res.body, "P3 owned by the reviewer"), 1);
    let model: i64 = incident_models::table
        .filter(incident_models::key.eq("website-502"))
        .select(incident_models::id)
        .first(&mut conn)
        .await
        .unwrap();
    let res = t
        .app
        .get_as(&reviewer, &format!("/improvements?model={model}"))
        .await;
    assert_eq!(only(&res.body, "P3 owned by the reviewer"), 1);
    let res = t.app.get_as(&reviewer, "/improvements?status=done").await;
    assert_eq!(only(&res.body, "P1 finished"), 1);

    // Bulk re-prioritising is a plain form for managers; reviewers get no
    // checkboxes and are refused.
    assert!(!page.body.contains(r#"name="item""#));
    let res = t
        .app
        .post_as(
            &reviewer,
            "/improvements/priority",
            &[("item", &later.to_string()), ("priority", "1")],
        )
        .await;
    assert_eq!(res.status, 403);
    let manager = t.app.sign_in(&t.manager).await;
    let page = t.app.get_as(&manager, "/improvements?kind=process").await;
    assert!(
        page.body
            .contains(&format!(r#"name="item" value="{later}""#))
    );
    let (a, b) = (later.to_string(), overdue.to_string());
    let res = t
        .app
        .post_as(
            &manager,
            "/improvements/priority",
            &[
                ("item", &a),
                ("item", &b),
                ("priority", "1"),
                ("back", "kind=process"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location(),
        Some("/improvements?kind=process&notice=items-reprioritised")
    );
    let priorities: Vec<i16> = improvements::table
        .filter(improvements::id.eq_any([later, overdue]))
        .select(improvements::priority)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(priorities, vec![1, 1]);
    let page = t
        .app
        .get_as(&manager, &format!("/improvements/{later}"))
        .await;
    assert!(page.body.contains("priority: P2 → P1"));
    // Nothing ticked: the list again with the reason.
    let res = t
        .app
        .post_as(&manager, "/improvements/priority", &[("priority", "2")])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("tick the items"));
}

#[actix_web::test]
async fn the_debt_and_its_trend_are_replayed_exactly_from_item_history() {
    let t = team().await;
    let mut conn = t.app.conn().await;
    let viewer = t.reviewer.viewer();
    let now = Utc::now();
    let weeks = |k: i64| now - Duration::weeks(k);
    // A: P3 from 20 weeks ago, raised to P1 10 weeks ago, done 3 weeks ago.
    let a = file(&t, "A", "process", "", "3", "", None).await;
    for (priority, status) in [("1", "open"), ("1", "done")] {
        items::update(
            &mut conn,
            &viewer,
            a,
            Update {
                input: &input("A", "process", priority, ""),
                model_key: "",
                owner: None,
                status,
                reason: "",
            },
        )
        .await
        .unwrap();
    }
    // B: P4 from 8 weeks ago, due 5 weeks ago, still open.
    let due = weeks(5).date_naive().to_string();
    let b = file(&t, "B", "process", "", "4", &due, None).await;
    // C: P2, filed a day ago.
    let c = file(&t, "C", "process", "", "2", "", None).await;
    let mut set_times = async |item: i64, times: &[chrono::DateTime<Utc>]| {
        let ids: Vec<i64> = improvement_events::table
            .filter(improvement_events::improvement_id.eq(item))
            .select(improvement_events::id)
            .order(improvement_events::id.asc())
            .load(&mut conn)
            .await
            .unwrap();
        assert_eq!(ids.len(), times.len());
        for (id, at) in ids.iter().zip(times) {
            diesel::update(improvement_events::table.find(id))
                .set(improvement_events::at.eq(at))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    };
    set_times(a, &[weeks(20), weeks(10), weeks(3)]).await;
    set_times(b, &[weeks(8)]).await;
    set_times(c, &[now - Duration::days(1)]).await;

    let mut conn = t.app.conn().await;
    let debt = items::debt(&mut conn, &viewer, now).await.unwrap();
    assert_eq!(debt.points.len(), 26);
    let due_day = weeks(5).date_naive();
    let expect = |t: chrono::DateTime<Utc>| {
        let a = if t < weeks(20) || t >= weeks(3) {
            0
        } else if t < weeks(10) {
            2
        } else {
            8
        };
        let b = if t < weeks(8) {
            0
        } else if t.date_naive() <= due_day {
            1
        } else {
            2
        };
        let c = if t < now - Duration::days(1) { 0 } else { 4 };
        a + b + c
    };
    let expected: Vec<i64> = debt.points.iter().map(|(t, _)| expect(*t)).collect();
    let got: Vec<i64> = debt.points.iter().map(|p| p.1).collect();
    assert_eq!(got, expected);
    assert!(
        expected.contains(&10),
        "the P1 stretch is in the window: {expected:?}"
    );
    assert_eq!(debt.now, 6, "B overdue (2) + C (4)");
    let this_week = casebook::domain::improvement::week_start(now);
    assert_eq!(debt.points[0].0, this_week - Duration::weeks(24));
    assert_eq!(debt.points[25].0, now);
    // The kept weeks and the current number agree with a full replay.
    let points: Vec<_> = debt.points.iter().map(|p| p.0).collect();
    assert_eq!(items::replay(&mut conn, &points).await.unwrap(), got);
    let kept: i64 = debt_weeks::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, 25);
    assert_eq!(
        items::debt(&mut conn, &viewer, now).await.unwrap().points,
        debt.points
    );
    // An event added later but dated in the past makes the kept weeks
    // after it stale: they are replayed again.
    let d = file(&t, "D", "process", "", "1", "", None).await;
    let event: i64 = improvement_events::table
        .filter(improvement_events::improvement_id.eq(d))
        .select(improvement_events::id)
        .first(&mut conn)
        .await
        .unwrap();
    diesel::update(improvement_events::table.find(event))
        .set(improvement_events::at.eq(weeks(2)))
        .execute(&mut conn)
        .await
        .unwrap();
    let later = items::debt(&mut conn, &viewer, now).await.unwrap();
    for ((t, before), (_, after)) in debt.points.iter().zip(&later.points) {
        let added = if *t >= weeks(2) { 8 } else { 0 };
        assert_eq!(*after, before + added, "at {t}");
    }

    // The API listing carries the same number and trend.
    let token = fixtures::api_token(&mut conn, &t.reviewer).await;
    let res = t.app.api_get(&token, "/api/v1/improvements").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let json: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(json["debt"]["now"], 14);
    assert_eq!(json["debt"]["trend"].as_array().unwrap().len(), 26);
    assert_eq!(json["debt"]["trend"][14]["debt"], later.points[14].1);
    assert_eq!(json["total"], 3);
    // Reviewers and managers see it on their home page.
    let reviewer = t.app.sign_in(&t.reviewer).await;
    let home = t.app.get_as(&reviewer, "/").await;
    assert!(
        home.body
            .contains(r#"<strong class="debt-number">14</strong>"#),
        "{}",
        home.body
    );
    let engineer = t.app.sign_in(&t.engineer).await;
    let home = t.app.get_as(&engineer, "/").await;
    assert!(!home.body.contains("debt-number"));
}

async fn current_body(app: &TestApp, key: &str) -> (i32, String) {
    let mut conn = app.conn().await;
    incident_models::table
        .inner_join(
            model_revisions::table.on(model_revisions::model_id
                .eq(incident_models::id)
                .and(model_revisions::number.eq(incident_models::revision))),
        )
        .filter(incident_models::key.eq(key))
        .select((incident_models::revision, model_revisions::body))
        .first(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_model_save_resolves_its_own_open_items_and_the_debt_drops() {
    let t = team().await;
    let ours = file(
        &t,
        "Mention inodes in step 1",
        "update_model",
        "db-disk-full",
        "1",
        "",
        None,
    )
    .await;
    let theirs = file(
        &t,
        "Fix the 502 model",
        "update_model",
        "website-502",
        "2",
        "",
        None,
    )
    .await;
    let engineer = t.app.sign_in(&t.engineer).await;
    let page = t.app.get_as(&engineer, "/models/db-disk-full").await;
    assert!(
        page.body.contains("Open improvement items")
            && page.body.contains("Mention inodes in step 1")
    );
    assert!(!page.body.contains("Fix the 502 model"));
    let edit = t.app.get_as(&engineer, "/models/db-disk-full/edit").await;
    assert!(
        edit.body
            .contains(&format!(r#"name="resolves" value="{ours}""#))
    );
    assert!(!edit.body.contains(&format!(r#"value="{theirs}""#)));

    let mut conn = t.app.conn().await;
    let before = items::debt(&mut conn, &t.reviewer.viewer(), Utc::now())
        .await
        .unwrap()
        .now;
    let (revision, body) = current_body(&t.app, "db-disk-full").await;
    let edited = body.replacen("## Statement\n", "## Statement\nInodes count too. ", 1);
    let base = revision.to_string();

    // Another model's item: refused, nothing saved.
    let res = t
        .app
        .post_as(
            &engineer,
            "/models/db-disk-full",
            &[
                ("text", &edited),
                ("base_revision", &base),
                ("action", "save"),
                ("resolves", &theirs.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("is not an item of db-disk-full"),
        "{}",
        res.body
    );
    assert_eq!(current_body(&t.app, "db-disk-full").await.0, revision);

    let res = t
        .app
        .post_as(
            &engineer,
            "/models/db-disk-full",
            &[
                ("text", &edited),
                ("base_revision", &base),
                ("action", "save"),
                ("resolves", &ours.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (status, resolved): (String, Option<i32>) = improvements::table
        .find(ours)
        .select((improvements::status, improvements::resolved_revision))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), resolved), ("done", Some(revision + 1)));
    let after = items::debt(&mut conn, &t.reviewer.viewer(), Utc::now())
        .await
        .unwrap()
        .now;
    assert_eq!(after, before - 8, "a P1 item is no longer debt");
    let page = t
        .app
        .get_as(&engineer, &format!("/improvements/{ours}"))
        .await;
    assert!(
        page.body
            .contains(&format!("resolved by revision {}", revision + 1))
    );
    let page = t.app.get_as(&engineer, "/improvements?status=done").await;
    assert!(
        page.body.contains("Mention inodes in step 1") && page.body.contains("(by a revision)")
    );
}

#[actix_web::test]
async fn an_item_to_write_a_new_model_is_done_when_the_model_is_created_from_it() {
    let t = team().await;
    let item = file(&t, "Kafka consumer lag", "new_model", "", "2", "", None).await;
    let engineer = t.app.sign_in(&t.engineer).await;
    let page = t
        .app
        .get_as(&engineer, &format!("/improvements/{item}"))
        .await;
    assert!(
        page.body
            .contains(&format!("/models/new?improvement={item}"))
    );
    let page = t
        .app
        .get_as(&engineer, &format!("/models/new?improvement={item}"))
        .await;
    assert!(page.body.contains("# Kafka consumer lag"));
    assert!(
        page.body
            .contains(&format!(r#"name="resolves" value="{item}" checked"#))
    );
    let text = "# Kafka consumer lag\nkey: kafka-consumer-lag\ncategory: queue\ntags: kafka\nstatus: draft\n\n## Statement\nConsumers fall behind.\n\n## Steps\n1. Check the lag.\n\n## Discussion\nWhy it happens.\n";
    let res = t
        .app
        .post_as(
            &engineer,
            "/models",
            &[
                ("text", text),
                ("base_revision", "0"),
                ("action", "save"),
                ("resolves", &item.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let mut conn = t.app.conn().await;
    let (status, model, revision): (String, Option<i64>, Option<i32>) = improvements::table
        .find(item)
        .select((
            improvements::status,
            improvements::model_id,
            improvements::resolved_revision,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    let created: i64 = incident_models::table
        .filter(incident_models::key.eq("kafka-consumer-lag"))
        .select(incident_models::id)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (status.as_str(), model, revision),
        ("done", Some(created), Some(1))
    );
}

#[actix_web::test]
async fn customers_see_no_item_and_no_debt() {
    let t = team().await;
    let id = file(
        &t,
        "Fix the 502 model",
        "update_model",
        "website-502",
        "1",
        "",
        None,
    )
    .await;
    let customer = t.app.sign_in(&t.customer).await;
    for path in [
        "/improvements".to_owned(),
        "/improvements/new".to_owned(),
        format!("/improvements/{id}"),
    ] {
        let res = t.app.get_as(&customer, &path).await;
        assert_eq!(res.status, 403, "{path}");
    }
    let res = t
        .app
        .post_as(
            &customer,
            "/improvements",
            &[("title", "x"), ("kind", "process"), ("priority", "1")],
        )
        .await;
    assert_eq!(res.status, 403);
    // website-502 is public: the customer reads it, without its items.
    let page = t.app.get_as(&customer, "/models/website-502").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Fix the 502 model") && !page.body.contains("improvement"));
    let home = t.app.get_as(&customer, "/").await;
    assert!(!home.body.contains("debt-number") && !home.body.contains("/improvements"));
    let mut conn = t.app.conn().await;
    let token = fixtures::api_token(&mut conn, &t.customer).await;
    for path in [
        "/api/v1/improvements".to_owned(),
        format!("/api/v1/improvements/{id}"),
    ] {
        let res = t.app.api_get(&token, &path).await;
        assert_eq!(res.status, 403, "{path}");
    }
    assert!(matches!(
        items::debt(&mut conn, &t.customer.viewer(), Utc::now()).await,
        Err(items::ImprovementError::Forbidden)
    ));
    assert!(
        items::open_for_model(&mut conn, &t.customer.viewer(), 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn the_demo_history_fills_every_page_and_moves_the_debt() {
    use casebook::db::schema::{reviews, rota_swaps, triage_reviews, users};
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let now = Utc::now();
    let report = casebook::commands::history::demo_history(&mut conn, now)
        .await
        .unwrap();
    assert!(!report.skipped);
    assert!(
        report.tickets >= 20 && report.reviews >= 5 && report.items >= 6,
        "{report}"
    );
    let again = casebook::commands::history::demo_history(&mut conn, now)
        .await
        .unwrap();
    assert!(again.skipped, "a second run adds nothing");

    let submitted: i64 = reviews::table
        .filter(reviews::submitted_at.lt(now - Duration::days(1)))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        submitted as usize, report.reviews,
        "reviews lie in the past"
    );
    let by_revision: i64 = improvements::table
        .filter(improvements::resolved_revision.is_not_null())
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(by_revision >= 1);
    let swaps: i64 = rota_swaps::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(swaps, 1);
    let graded: i64 = triage_reviews::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(graded >= 1);

    let reviewer: casebook::db::users::User = users::table
        .filter(users::email.eq("rita.okafor@demo.casebook.example"))
        .select(casebook::db::users::User::as_select())
        .first(&mut conn)
        .await
        .unwrap();
    let debt = items::debt(&mut conn, &reviewer.viewer(), now)
        .await
        .unwrap();
    let mut values: Vec<i64> = debt.points.iter().map(|p| p.1).collect();
    assert_eq!(values[0], 0, "nothing was owed before the history");
    values.dedup();
    assert!(values.len() >= 4, "the trend moves: {values:?}");
    assert!(debt.now > 0);

    let browser = app.sign_in(&reviewer).await;
    for path in [
        "/reviews",
        "/improvements",
        "/rota",
        "/rota/triage-reviews",
        "/",
    ] {
        let page = app.get_as(&browser, path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            // The home page says plainly which of its lists are empty
            // (no escalations to this reviewer); its review count is checked.
            !page.body.contains(r#"class="empty""#)
                || path == "/rota/triage-reviews"
                || (path == "/" && page.body.contains(r#"id="review-queue""#)),
            "{path} has content: {}",
            page.body
        );
    }
}
