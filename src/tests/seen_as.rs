//! "Seen as": a ticket linked to a model as resolved (or helped partly) by
//! it lends the model its public words for triage, through the outbox and
//! the real indexer; internal notes never, unlinking and exclusion take
//! them back, an edit changes them, and no search a customer (or anyone)
//! runs on the search page ever sees them.

use diesel_async::AsyncPgConnection;

use casebook::db::models::{self, Save};
use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::domain::model::{ModelText, Status};
use casebook::domain::policy::Visibility;
use casebook::domain::ticket::TicketId;
use casebook::search::query::{self, Audience};
use casebook::search::{SearchIndex, indexer, triage};
use casebook::tickets::{self as ticket_actions, EditTicket, OpenTicket};

use crate::support::TestApp;
use crate::support::fixtures;

struct World {
    engineer: User,
    customer: User,
    /// The customer's ticket, linked below.
    ticket: TicketId,
}

async fn model(conn: &mut AsyncPgConnection, key: &str, title: &str, statement: &str) {
    models::insert(
        conn,
        &ModelText {
            title: title.to_owned(),
            key: key.to_owned(),
            category: String::new(),
            tags: Vec::new(),
            alerts: Vec::new(),
            status: Status::Published,
            public: true,
            statement: statement.to_owned(),
            steps: vec!["Restart the upstream service and watch the error rate.".to_owned()],
            discussion: String::new(),
        },
        &Save {
            author: None,
            summary: "test",
        },
    )
    .await
    .unwrap();
}

/// Two public models that share no word with the customer's ticket, which
/// has a public reply and an internal note.
async fn world(conn: &mut AsyncPgConnection) -> World {
    model(
        conn,
        "website-502",
        "Website returns 502",
        "The load balancer answers Bad Gateway to every request.",
    )
    .await;
    model(
        conn,
        "db-disk-full",
        "Database disk full",
        "The database volume is above ninety percent used.",
    )
    .await;
    let acme = fixtures::organization(conn, "Acme").await;
    let engineer = fixtures::user().role(Role::Engineer).create(conn).await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(conn)
        .await;
    let ticket = ticket_actions::open(
        conn,
        &customer.viewer(),
        OpenTicket {
            title: "Basket spinner never stops",
            description: "The shop basket keeps spinning forever.",
            priority: "2",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap();
    ticket_actions::write(
        conn,
        &engineer.viewer(),
        ticket.id,
        "zebracorn hypothesis about the quokka cache",
        Visibility::Internal,
    )
    .await
    .unwrap();
    ticket_actions::write(
        conn,
        &engineer.viewer(),
        ticket.id,
        "The checkout wombat was restarted.",
        Visibility::Public,
    )
    .await
    .unwrap();
    World {
        engineer,
        customer,
        ticket: ticket.id,
    }
}

async fn caught_up(index: &SearchIndex, conn: &mut AsyncPgConnection) {
    let mut writer = indexer::writer(index).unwrap();
    indexer::catch_up(index, &mut writer, conn).await.unwrap();
    index.reader.reload().unwrap();
}

/// The key of the first triage suggestion for `text`.
fn first(index: &SearchIndex, text: &str) -> Option<String> {
    triage::suggest_models(index, text, 5)
        .unwrap()
        .into_iter()
        .next()
        .map(|s| s.key)
}

async fn link(conn: &mut AsyncPgConnection, w: &World, key: &str, outcome: &str) {
    ticket_actions::link_model(conn, &w.engineer.viewer(), w.ticket, key, outcome, "", None)
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_linked_tickets_public_words_find_the_model_in_triage() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let w = world(&mut conn).await;
    let index = SearchIndex::in_memory().unwrap();
    caught_up(&index, &mut conn).await;
    // A new ticket that shares no word with either model finds neither.
    let new_ticket = "basket spinner stuck again, checkout wombat";
    assert_eq!(first(&index, new_ticket), None);

    link(&mut conn, &w, "website-502", "resolved").await;
    caught_up(&index, &mut conn).await;
    let found = triage::suggest_models(&index, new_ticket, 5).unwrap();
    assert_eq!(
        found.first().map(|s| s.key.as_str()),
        Some("website-502"),
        "{found:?}"
    );
    assert!(found[0].matched.iter().any(|m| m == "basket"), "{found:?}");
    // The public reply counts too; the internal note never does.
    assert_eq!(first(&index, "wombat").as_deref(), Some("website-502"));
    for internal in ["zebracorn", "quokka cache hypothesis"] {
        assert_eq!(first(&index, internal), None, "{internal}");
    }

    // "Helped partly" counts as well.
    link(&mut conn, &w, "website-502", "partial").await;
    caught_up(&index, &mut conn).await;
    assert_eq!(first(&index, new_ticket).as_deref(), Some("website-502"));

    // Unlinking takes the words back.
    ticket_actions::unlink_model(&mut conn, &w.engineer.viewer(), w.ticket, "website-502")
        .await
        .unwrap();
    caught_up(&index, &mut conn).await;
    assert_eq!(first(&index, new_ticket), None);
    // Unlinking what is not linked is refused, nothing changes.
    let again =
        ticket_actions::unlink_model(&mut conn, &w.engineer.viewer(), w.ticket, "website-502")
            .await;
    assert!(
        matches!(again, Err(ticket_actions::TicketError::Invalid(_))),
        "{again:?}"
    );
    // A customer may not unlink.
    link(&mut conn, &w, "website-502", "resolved").await;
    let refused =
        ticket_actions::unlink_model(&mut conn, &w.customer.viewer(), w.ticket, "website-502")
            .await;
    assert!(matches!(
        refused,
        Err(ticket_actions::TicketError::Forbidden)
    ));
    caught_up(&index, &mut conn).await;
    assert_eq!(first(&index, new_ticket).as_deref(), Some("website-502"));

    // Editing the ticket changes what the model was seen as.
    ticket_actions::edit(
        &mut conn,
        &w.engineer.viewer(),
        w.ticket,
        EditTicket {
            title: Some("Payment page frozen"),
            description: Some("Customers see a frozen payment page."),
            priority: None,
            category: None,
        },
    )
    .await
    .unwrap();
    caught_up(&index, &mut conn).await;
    assert_eq!(
        first(&index, "frozen payment page").as_deref(),
        Some("website-502")
    );
    assert_eq!(first(&index, "basket spinner"), None);

    // A ticket left out of metrics (a game day) lends no words.
    casebook::reports::exclude(&mut conn, &w.engineer.viewer(), w.ticket, "game day")
        .await
        .unwrap();
    caught_up(&index, &mut conn).await;
    assert_eq!(first(&index, "frozen payment page"), None);
    casebook::reports::include(&mut conn, &w.engineer.viewer(), w.ticket)
        .await
        .unwrap();
    caught_up(&index, &mut conn).await;
    assert_eq!(
        first(&index, "frozen payment page").as_deref(),
        Some("website-502")
    );

    // The incremental index equals a rebuild from the database.
    let rebuilt = SearchIndex::in_memory().unwrap();
    let mut writer = indexer::writer(&rebuilt).unwrap();
    indexer::rebuild(
        &rebuilt,
        &mut writer,
        &mut conn,
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(
        indexer::snapshot(&index).unwrap(),
        indexer::snapshot(&rebuilt).unwrap()
    );
}

#[actix_web::test]
async fn the_search_page_never_sees_what_a_model_was_seen_as() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let w = world(&mut conn).await;
    link(&mut conn, &w, "website-502", "resolved").await;
    let search = &app.state.search;
    caught_up(search, &mut conn).await;
    // Triage uses it (so the words are in the index)...
    assert_eq!(
        first(search, "basket spinner").as_deref(),
        Some("website-502")
    );
    // ...the search page does not, for anyone: a word only the ticket holds
    // finds the ticket (for who may see it), never the model.
    for audience in [
        Audience::Staff,
        Audience::Customer {
            organization: w.customer.organization_id,
        },
    ] {
        for q in ["spinner", "wombat", "basket spinner"] {
            let found = query::search_or_ranked(search, &query::parse(q), audience, 0, 10).unwrap();
            assert!(
                found.hits.iter().all(|h| h.kind != "model"),
                "{q}: {:?}",
                found.hits
            );
        }
        // The model found by its own words shows none of the ticket's in
        // its snippet.
        let found =
            query::search_or_ranked(search, &query::parse("gateway"), audience, 0, 10).unwrap();
        let model = found.hits.iter().find(|h| h.key == "website-502");
        let snippet = model.map(|h| h.snippet.as_str().to_owned());
        assert!(
            snippet
                .as_deref()
                .is_some_and(|s| !s.contains("asket") && !s.contains("pinner")),
            "{snippet:?}"
        );
    }
    // Through the real pages, as the customer.
    let browser = app.sign_in(&w.customer).await;
    let page = app.get_as(&browser, "/search?q=spinner").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/models/website-502"), "{}", page.body);
    let page = app.get_as(&browser, "/search?q=gateway").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/models/website-502"), "{}", page.body);
    assert!(!page.body.contains("asket"), "{}", page.body);
    let api = app
        .api_get(
            &fixtures::api_token(&mut conn, &w.customer).await,
            "/api/v1/search?q=spinner",
        )
        .await;
    assert_eq!(api.status, 200);
    assert!(!api.body.contains("website-502"), "{}", api.body);
}
