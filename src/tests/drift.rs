//! The search index does not drift under concurrent writers: a 2,000-model
//! `casebook import` (one long transaction) beside four API clients writing
//! tickets and entries, against a real `casebook serve`. When `/readyz`
//! says nothing is pending, every model and every ticket is findable.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use casebook::domain::account::Role;

use crate::support::TestDb;
use crate::support::fixtures;
use crate::support::process::{Serve, api_get, api_post, casebook, data_dir, http_get};

const MODELS: usize = 2000;
const WRITERS: usize = 4;

/// A word no model and no other ticket holds: the number's digits as
/// consonants between fixed ends, so neither the identifier splitter nor
/// the stemmer changes it.
fn word(prefix: &str, n: usize) -> String {
    const DIGITS: &[u8; 10] = b"bcdfghkmpr";
    let digits: String = n
        .to_string()
        .bytes()
        .map(|d| char::from(DIGITS[usize::from(d - b'0')]))
        .collect();
    format!("{prefix}{digits}zq")
}

fn pending(serve: &Serve) -> Option<i64> {
    let (status, body) = http_get(serve.addr, "/readyz")?;
    if status != 200 {
        return None;
    }
    serde_json::from_str::<Value>(&body).ok()?["search"]["pending"].as_i64()
}

#[test]
fn an_import_beside_writing_clients_leaves_nothing_missing_from_search() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let token = runtime.block_on(async {
        let mut conn = db.conn().await;
        let engineer = fixtures::user()
            .role(Role::Engineer)
            .create(&mut conn)
            .await;
        fixtures::api_token(&mut conn, &engineer).await
    });
    let models = tempfile::tempdir().unwrap();
    casebook::commands::models::generate(models.path(), MODELS, 11).unwrap();
    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    serve.wait_ready();

    let mut import = casebook()
        .arg("import")
        .arg(models.path())
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let importing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (addr, token, importing) = (serve.addr, token.clone(), importing.clone());
            std::thread::spawn(move || {
                let mut titles = Vec::new();
                let mut n = 0;
                // Write for as long as the import runs, and at least a few.
                while n < 5 || (importing.load(Ordering::Acquire) && n < 400) {
                    let title = word("zqticket", w * 1000 + n);
                    let note = word("zqnote", w * 1000 + n);
                    let (status, body) = api_post(
                        addr,
                        &token,
                        "/api/v1/tickets",
                        &json!({ "title": title, "description": "concurrent" }),
                    );
                    assert_eq!(status, 201, "{body}");
                    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
                        .as_i64()
                        .unwrap();
                    let (status, body) = api_post(
                        addr,
                        &token,
                        &format!("/api/v1/tickets/{id}/entries"),
                        &json!({ "body": note, "visibility": "internal" }),
                    );
                    assert_eq!(status, 201, "{body}");
                    titles.push((title, note));
                    n += 1;
                }
                titles
            })
        })
        .collect();
    let status = import.wait().unwrap();
    importing.store(false, Ordering::Release);
    assert!(status.success(), "the import failed");
    let written: Vec<(String, String)> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();

    // Wait for the index to say it has caught up; then it must have.
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(120) {
        last = pending(&serve);
        if last == Some(0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(last, Some(0), "the index never caught up");
    println!(
        "{} tickets written beside the import; caught up {:.1} s after it ended",
        written.len(),
        started.elapsed().as_secs_f64()
    );
    let total = |q: &str| {
        let (status, body) = api_get(
            serve.addr,
            &token,
            &format!("/api/v1/search?q={}", casebook::web::auth::urlencode(q)),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(models.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let key = name.trim_end_matches(".md");
        if total(&format!("key:{key}")) != 1 {
            missing.push(key.to_owned());
        }
    }
    for (title, note) in &written {
        if total(title) != 1 || total(note) != 1 {
            missing.push(title.clone());
        }
    }
    assert!(missing.is_empty(), "missing from search: {missing:?}");
    drop(serve);
}
