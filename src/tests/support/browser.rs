//! Headless Chromium for the browser tests: Debian's `chromium`, driven
//! through `chromedriver` (WebDriver) with fantoccini.
//!
//! Missing either program is a failure that names the packages, never a
//! skip: CI installs them (`.ci/run`).
//!
//! - One chromedriver hosts every session; each session is its own Chromium
//!   with a fresh profile directory, so cookies never leak between the
//!   people a test plays.
//! - chromedriver runs in its own process group, and dropping the
//!   [`Driver`] kills the group: the Chromiums of a failed test go with it.
//!   The profiles are removed once every one of them has exited (Chromium
//!   writes its profile while it exits).
//! - Waiting is polling a condition with a deadline, never a fixed sleep.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str = "install Debian's chromium and chromium-driver packages \
     (apt-get install chromium chromium-driver; .ci/run does this)";

/// The longest single pause while polling the page.
const POLL: Duration = Duration::from_millis(25);

/// Flags for every Chromium; each session adds its own `--user-data-dir`.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    // Tests run as root in CI containers, where the sandbox cannot start.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// A running chromedriver, killed with its Chromiums when dropped.
pub struct Driver {
    child: Child,
    url: String,
    /// One directory per session's profile.
    profiles: tempfile::TempDir,
    sessions: AtomicU32,
}

impl Driver {
    /// Starts chromedriver on a port of its choosing and waits for the
    /// line that says it is listening.
    pub fn start() -> Self {
        for program in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: {INSTALL}"
            );
        }
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}; {INSTALL}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads the port, then keeps draining so chromedriver never blocks on
        // a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|p| p.trim_end_matches('.').parse::<u16>().ok());
                if let Some(port) = port {
                    let _ = tx.send(port);
                }
            }
        });
        let mut driver = Self {
            child,
            url: String::new(),
            profiles: tempfile::Builder::new()
                .prefix("cb-chromium-")
                .tempdir()
                .unwrap(),
            sessions: AtomicU32::new(0),
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(port) => driver.url = format!("http://127.0.0.1:{port}"),
            Err(_) => {
                let status = driver.child.try_wait().ok().flatten();
                panic!("{CHROMEDRIVER} did not start within 20s (exit status: {status:?})");
            }
        }
        driver
    }

    /// A new Chromium window with a profile of its own.
    pub async fn session(&self) -> Browser {
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
        let profile = self.profiles.path().join(n.to_string());
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }) else {
            unreachable!("a JSON object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start {CHROMIUM}: {e}"));
        Browser { client }
    }
}

impl Drop for Driver {
    /// Kills chromedriver and every Chromium it started, then waits until
    /// they are gone; `profiles` is removed after this.
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while group_is_running(group) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether a process of the group still runs. Zombies (exited, waiting to
/// be reaped by whoever inherited them) write nothing and do not count.
fn group_is_running(group: i32) -> bool {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return false;
    };
    processes.flatten().any(|process| {
        let Ok(stat) = std::fs::read_to_string(process.path().join("stat")) else {
            return false;
        };
        // `pid (command) state ppid pgrp …`; the command may hold anything.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.first() != Some(&"Z") && fields.get(2) == Some(&group.to_string().as_str())
    })
}

/// One Chromium window (a WebDriver session). Call [`Browser::close`] at
/// the end.
pub struct Browser {
    client: Client,
}

impl Browser {
    /// Navigates and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Opens a new tab of this window (same profile, so the same cookies
    /// and connection pool) and switches to it; returns its handle.
    pub async fn new_tab(&self) -> fantoccini::wd::WindowHandle {
        let tab = self.client.new_window(true).await.unwrap().handle;
        self.switch_to(&tab).await;
        tab
    }

    /// Makes `tab` the one commands go to.
    pub async fn switch_to(&self, tab: &fantoccini::wd::WindowHandle) {
        self.client
            .switch_to_window(tab.clone())
            .await
            .unwrap_or_else(|e| panic!("switch to tab: {e}"));
    }

    /// Closes the current tab (switch to another one afterwards).
    pub async fn close_tab(&self) {
        self.client
            .close_window()
            .await
            .unwrap_or_else(|e| panic!("close tab: {e}"));
    }

    /// The tab commands go to now.
    pub async fn current_tab(&self) -> fantoccini::wd::WindowHandle {
        self.client.window().await.unwrap()
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Sets a cookie for the site of the page currently open (WebDriver
    /// only sets cookies for that one).
    pub async fn set_cookie(&self, name: &str, value: &str) {
        let url = self.client.current_url().await.unwrap();
        let host = url.host_str().unwrap_or_default();
        // Explicit domain and SameSite: chromedriver refuses a null domain,
        // and fantoccini's default SameSite=None would need Secure.
        let cookie = Cookie::parse(format!(
            "{name}={value}; Path=/; Domain={host}; HttpOnly; SameSite=Lax"
        ))
        .unwrap();
        self.client
            .add_cookie(cookie.into_owned())
            .await
            .unwrap_or_else(|e| panic!("set cookie {name}: {e}"));
    }

    /// Types `text` into an empty input or textarea (real key events).
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.unwrap();
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// Sets the window to `width` × `height` CSS pixels (headless: the
    /// viewport).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize to {width}x{height}: {e}"));
    }

    /// Sends real key events to the first element matching `css`;
    /// WebDriver key codes (`\u{E009}` Control, `\u{E007}` Enter) hold
    /// modifiers down until the end.
    pub async fn press(&self, css: &str, keys: &str) {
        self.find(css)
            .await
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("press keys in `{css}`: {e}"));
    }

    /// Clicks the first element matching `css`; when that submits a form,
    /// returns once the next page has loaded.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("find `{css}` on {}: {e}", self.current_url().await),
        }
    }

    /// Runs `script` in the page (as a function body; `arguments[i]` are
    /// `args`) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// `textContent` of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let found = self
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent);",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(found).unwrap()
    }

    /// Waits until an element matching `css` has `text` in its
    /// `textContent` (an empty `text`: until one exists); returns how long
    /// that took. Panics after `limit` with what the page had.
    pub async fn wait_for(&self, css: &str, text: &str, limit: Duration) -> Duration {
        self.poll(
            &format!("`{css}` containing {text:?}"),
            "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent);",
            vec![json!(css)],
            limit,
            |found| {
                found.as_array().is_some_and(|all| {
                    all.iter()
                        .any(|t| t.as_str().is_some_and(|t| t.contains(text)))
                })
            },
        )
        .await
    }

    /// Waits until the JavaScript expression `condition` is true.
    pub async fn wait_until(&self, condition: &str, limit: Duration) -> Duration {
        self.poll(
            condition,
            &format!("return Boolean({condition});"),
            Vec::new(),
            limit,
            |value| value == &Value::Bool(true),
        )
        .await
    }

    /// Runs `script` until `done` accepts what it returns, for at most `limit`.
    async fn poll(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Duration {
        let start = Instant::now();
        let mut last = Value::Null;
        loop {
            match self.client.execute(script, args.clone()).await {
                Ok(value) if done(&value) => return start.elapsed(),
                Ok(value) => last = value,
                Err(e) if e.is_invalid_session_id() || e.is_no_such_window() => {
                    panic!("waiting for {what}: {e}");
                }
                // A page being replaced cannot run scripts for a moment.
                Err(_) => {}
            }
            let waited = start.elapsed();
            assert!(
                waited < limit,
                "waited {waited:?} for {what} on {}; last seen: {last}",
                self.current_url().await
            );
            tokio::time::sleep(POLL.min(limit - waited)).await;
        }
    }

    /// The document as it is now, changes made by scripts included.
    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Ends the session: Chromium exits.
    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}
