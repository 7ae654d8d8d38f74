//! The triage rota through the real app: planning weeks, the current
//! triager on the triage queue and home page, swaps with who agreed, the
//! calendar feed behind a secret URL, sampled triage review with the
//! week's score, and the customer boundary.

use chrono::{Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use casebook::db::schema::{rota_swaps, rota_weeks, ticket_transitions, triage_reviews};
use casebook::domain::account::Role;
use casebook::domain::rota::{sample, week_of};
use casebook::domain::ticket::TicketId;
use casebook::tickets as ticket_actions;

use crate::reviews::{team, ticket};
use crate::support::fixtures;

fn this_week() -> NaiveDate {
    week_of(Utc::now().date_naive())
}

#[actix_web::test]
async fn managers_plan_the_rota_and_the_current_triager_is_shown() {
    let t = team().await;
    let manager = t.app.sign_in(&t.manager).await;
    let (now, next) = (
        this_week().to_string(),
        (this_week() + Duration::weeks(1)).to_string(),
    );
    let res = t
        .app
        .post_as(
            &manager,
            "/rota",
            &[("week", &now), ("triager", &t.engineer.id.to_string())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // Any day of the week names the week.
    let thursday = (this_week() + Duration::days(10)).to_string();
    let res = t
        .app
        .post_as(
            &manager,
            "/rota",
            &[("week", &thursday), ("triager", &t.reviewer.id.to_string())],
        )
        .await;
    assert_eq!(res.status, 303);
    let mut conn = t.app.conn().await;
    let planned: Vec<(NaiveDate, i64)> = rota_weeks::table
        .select((rota_weeks::week_start, rota_weeks::triager_id))
        .order(rota_weeks::week_start.asc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        planned,
        vec![
            (this_week(), t.engineer.id),
            (this_week() + Duration::weeks(1), t.reviewer.id)
        ]
    );

    let page = t.app.get_as(&manager, "/rota").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!(
        r#"<span title="{} triages">●</span>"#,
        t.engineer.display_name
    )));
    assert!(page.body.contains("this week"));

    let engineer = t.app.sign_in(&t.engineer).await;
    let queue = t.app.get_as(&engineer, "/tickets?queue=triage").await;
    assert!(
        queue.body.contains(&format!(
            "Triaging this week: <strong>{}</strong>",
            t.engineer.display_name
        )),
        "{}",
        queue.body
    );
    let home = t.app.get_as(&engineer, "/").await;
    assert!(home.body.contains(&format!(
        "Triaging this week: <strong>{}</strong>",
        t.engineer.display_name
    )));

    // Bad input: past week, a customer, nobody; nothing changes.
    let past = (this_week() - Duration::weeks(1)).to_string();
    for (fields, message) in [
        (
            vec![
                ("week", past.as_str()),
                ("triager", &*t.engineer.id.to_string()),
            ],
            "that week is over",
        ),
        (
            vec![
                ("week", next.as_str()),
                ("triager", &*t.customer.id.to_string()),
            ],
            "choose an active member of the team",
        ),
        (
            vec![("week", next.as_str()), ("triager", "")],
            "choose who triages",
        ),
        (
            vec![
                ("week", "someday"),
                ("triager", &*t.engineer.id.to_string()),
            ],
            "YYYY-MM-DD",
        ),
    ] {
        let res = t.app.post_as(&manager, "/rota", &fields).await;
        assert_eq!(res.status, 422, "{fields:?}");
        assert!(res.body.contains(message), "{fields:?}");
    }
    let n: i64 = rota_weeks::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2);
    // Engineers do not plan the rota.
    let res = t
        .app
        .post_as(
            &engineer,
            "/rota",
            &[("week", &next), ("triager", &t.engineer.id.to_string())],
        )
        .await;
    assert_eq!(res.status, 403);

    // The API shows the same plan.
    let token = fixtures::api_token(&mut conn, &t.engineer).await;
    let res = t.app.api_get(&token, "/api/v1/rota").await;
    assert_eq!(res.status, 200);
    let json: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(json["current_triager"], t.engineer.display_name.as_str());
    assert_eq!(json["weeks"].as_array().unwrap().len(), 16);
}

async fn who(conn: &mut diesel_async::AsyncPgConnection) -> Vec<i64> {
    rota_weeks::table
        .select(rota_weeks::triager_id)
        .order(rota_weeks::week_start.asc())
        .load(conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn swaps_need_the_other_persons_agreement_and_are_recorded() {
    let t = team().await;
    let mut conn = t.app.conn().await;
    let (a, b) = (
        this_week() + Duration::weeks(1),
        this_week() + Duration::weeks(2),
    );
    for (week, who) in [(a, t.engineer.id), (b, t.reviewer.id)] {
        diesel::insert_into(rota_weeks::table)
            .values((
                rota_weeks::week_start.eq(week),
                rota_weeks::triager_id.eq(who),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let engineer = t.app.sign_in(&t.engineer).await;
    let (wa, wb) = (a.to_string(), b.to_string());
    let res = t
        .app
        .post_as(
            &engineer,
            "/rota/swaps",
            &[("week_a", &wa), ("week_b", &wb)],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("needs the other person"));
    let outsider = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let other = t.app.sign_in(&outsider).await;
    let res = t
        .app
        .post_as(
            &other,
            "/rota/swaps",
            &[("week_a", &wa), ("week_b", &wb), ("agreed", "on")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("only your own weeks"));
    assert_eq!(
        who(&mut conn).await,
        vec![t.engineer.id, t.reviewer.id],
        "nothing changed"
    );

    let res = t
        .app
        .post_as(
            &engineer,
            "/rota/swaps",
            &[("week_a", &wa), ("week_b", &wb), ("agreed", "on")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(who(&mut conn).await, vec![t.reviewer.id, t.engineer.id]);
    let (agreed, recorded): (i64, i64) = rota_swaps::table
        .select((rota_swaps::agreed_by, rota_swaps::recorded_by))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((agreed, recorded), (t.reviewer.id, t.engineer.id));
    let page = t.app.get_as(&engineer, "/rota").await;
    assert!(
        page.body
            .contains(&format!("agreed by {}", t.reviewer.display_name))
    );

    // A manager swaps back; the manager's decision is what is recorded.
    let manager = t.app.sign_in(&t.manager).await;
    let res = t
        .app
        .post_as(&manager, "/rota/swaps", &[("week_a", &wa), ("week_b", &wb)])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(who(&mut conn).await, vec![t.engineer.id, t.reviewer.id]);
}

#[actix_web::test]
async fn each_person_has_a_calendar_feed_behind_a_secret_url() {
    let t = team().await;
    let mut conn = t.app.conn().await;
    let week = this_week() + Duration::weeks(1);
    diesel::insert_into(rota_weeks::table)
        .values((
            rota_weeks::week_start.eq(week),
            rota_weeks::triager_id.eq(t.engineer.id),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let engineer = t.app.sign_in(&t.engineer).await;
    let page = t.app.post_as(&engineer, "/rota/calendar", &[]).await;
    assert_eq!(page.status, 200);
    let start = page
        .body
        .find("/rota/calendar/cal_")
        .expect("the URL is shown once");
    let url = page.body[start..start + "/rota/calendar/".len() + 68 + 4].to_owned();
    assert!(url.ends_with(".ics"));
    let feed = t.app.get_as(&t.app.anonymous(), &url).await;
    assert_eq!(feed.status, 200);
    assert!(
        feed.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );
    assert!(feed.body.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(
        feed.body
            .contains(&format!("DTSTART;VALUE=DATE:{}", week.format("%Y%m%d")))
    );
    assert!(feed.body.contains(&format!(
        "DTEND;VALUE=DATE:{}",
        (week + Duration::weeks(1)).format("%Y%m%d")
    )));
    assert!(feed.body.contains("Triage rota"));
    // A guessed secret finds nothing; a new link ends the old one.
    let guessed = format!("/rota/calendar/cal_{}.ics", "ab".repeat(32));
    assert_eq!(t.app.get_as(&t.app.anonymous(), &guessed).await.status, 404);
    assert_eq!(
        t.app
            .get_as(&t.app.anonymous(), "/rota/calendar/nonsense")
            .await
            .status,
        404
    );
    t.app.post_as(&engineer, "/rota/calendar", &[]).await;
    assert_eq!(t.app.get_as(&t.app.anonymous(), &url).await.status, 404);
    // The page never shows the secret again.
    let page = t.app.get_as(&engineer, "/rota").await;
    assert!(!page.body.contains("/rota/calendar/cal_"));
}

#[actix_web::test]
async fn last_weeks_triage_is_sampled_and_graded_into_the_weeks_score() {
    let t = team().await;
    let mut conn = t.app.conn().await;
    let last = this_week() - Duration::weeks(1);
    diesel::insert_into(rota_weeks::table)
        .values((
            rota_weeks::week_start.eq(last),
            rota_weeks::triager_id.eq(t.engineer.id),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..8 {
        let id = ticket(&t, &format!("Triaged ticket {n}"), &["triaged"]).await;
        ids.push(id);
    }
    // One triaged by someone else does not count.
    let foreign = ticket(&t, "Triaged by the manager", &[]).await;
    ticket_actions::change_status(
        &mut conn,
        &t.manager.viewer(),
        TicketId(foreign),
        "triaged",
        "",
    )
    .await
    .unwrap();
    let mid_week = last.and_time(NaiveTime::MIN).and_utc() + Duration::days(2);
    diesel::update(ticket_transitions::table.filter(ticket_transitions::to_status.eq("triaged")))
        .set(ticket_transitions::at.eq(mid_week))
        .execute(&mut conn)
        .await
        .unwrap();

    let reviewer = t.app.sign_in(&t.reviewer).await;
    let page = t.app.get_as(&reviewer, "/rota/triage-reviews").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let expected = sample(&ids, last, 5);
    assert_eq!(expected.len(), 5);
    for id in &ids {
        let shown = page
            .body
            .contains(&format!(r#"<a href="/tickets/{id}">#{id}</a>"#));
        assert_eq!(shown, expected.contains(id), "ticket {id}");
    }
    assert!(!page.body.contains("Triaged by the manager"));
    let again = t
        .app
        .get_as(&reviewer, &format!("/rota/triage-reviews?week={last}"))
        .await;
    assert_eq!(again.body, page.body, "the same sample every time");

    let week = last.to_string();
    let grade = |ticket: i64, answers: [&'static str; 5]| {
        let ticket = ticket.to_string();
        let week = week.clone();
        let app = &t.app;
        let reviewer = reviewer.clone();
        async move {
            let fields = [
                ("week", week.as_str()),
                ("ticket", ticket.as_str()),
                ("right_model", answers[0]),
                ("duplicates_checked", answers[1]),
                ("searches_good", answers[2]),
                ("reply_fast", answers[3]),
                ("escalated_right", answers[4]),
                ("comment", "Searched well"),
            ];
            app.post_as(&reviewer, "/rota/triage-reviews", &fields)
                .await
        }
    };
    let res = grade(expected[0], ["yes", "yes", "no", "yes", "na"]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let res = grade(expected[1], ["yes", "yes", "yes", "yes", "yes"]).await;
    assert_eq!(res.status, 303);
    // Refused: graded twice, not in the sample, a missing answer.
    let res = grade(expected[0], ["yes", "yes", "yes", "yes", "yes"]).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("already reviewed"));
    let outside = *ids.iter().find(|id| !expected.contains(id)).unwrap();
    let res = grade(outside, ["yes", "yes", "yes", "yes", "yes"]).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("is not in that week"));
    let res = grade(expected[2], ["yes", "", "yes", "yes", "yes"]).await;
    assert_eq!(res.status, 422);
    let scores: Vec<Option<i16>> = triage_reviews::table
        .select(triage_reviews::score)
        .order(triage_reviews::id.asc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(scores, vec![Some(75), Some(100)]);
    let audited: i64 = casebook::db::schema::audit_log::table
        .filter(casebook::db::schema::audit_log::action.eq("rota.triage_reviewed"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(audited, 2, "each grade is in the audit log");

    // The rota shows last week's triage score: the mean, 88%.
    let page = t.app.get_as(&reviewer, "/rota").await;
    assert!(
        page.body
            .contains("88% <span class=\"muted\">(2 reviewed)</span>"),
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn customers_see_no_rota() {
    let t = team().await;
    let mut conn = t.app.conn().await;
    diesel::insert_into(rota_weeks::table)
        .values((
            rota_weeks::week_start.eq(this_week()),
            rota_weeks::triager_id.eq(t.engineer.id),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let customer = t.app.sign_in(&t.customer).await;
    for path in ["/rota", "/rota/triage-reviews"] {
        assert_eq!(t.app.get_as(&customer, path).await.status, 403, "{path}");
    }
    assert_eq!(
        t.app.post_as(&customer, "/rota/calendar", &[]).await.status,
        403
    );
    let home = t.app.get_as(&customer, "/").await;
    assert!(!home.body.contains("Triaging this week") && !home.body.contains("/rota"));
    let token = fixtures::api_token(&mut conn, &t.customer).await;
    assert_eq!(t.app.api_get(&token, "/api/v1/rota").await.status, 403);
    assert_eq!(
        casebook::db::rota::current_triager(
            &mut conn,
            &t.customer.viewer(),
            Utc::now().date_naive()
        )
        .await
        .unwrap(),
        None
    );
}
