//! Typed configuration, loaded once in `main` and carried in `AppState`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::db::redact_url;

#[derive(Clone)]
pub struct Config {
    /// Casebook's own directory: the embedded cluster, and later the index.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// An external server; `None` selects the embedded default.
    pub database_url: Option<String>,
    /// Where to find `initdb` and `postgres` for the embedded default.
    pub pg_bin_dir: Option<PathBuf>,
    /// Mark cookies `Secure` (Casebook is served over TLS, directly or by a
    /// proxy in front).
    pub secure_cookies: bool,
    /// How many of a week's triaged tickets are offered for triage review.
    pub triage_sample: usize,
    /// `/metrics` on the main listener answers a request bearing this token;
    /// `None` (and no `metrics_listen`) turns it off.
    pub metrics_token: Option<String>,
    /// A second listener serving only `/metrics`, without a token (bind it
    /// to an address only the monitoring network reaches).
    pub metrics_listen: Option<SocketAddr>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("pg_bin_dir", &self.pg_bin_dir)
            .field("secure_cookies", &self.secure_cookies)
            .field("triage_sample", &self.triage_sample)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_database_password() {
        let config = Config {
            data_dir: "d".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: Some("postgres://u:hunter2@h/db".into()),
            pg_bin_dir: None,
            secure_cookies: false,
            triage_sample: 5,
            metrics_token: Some("scrape-secret".into()),
            metrics_listen: None,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("scrape-secret"), "{shown}");
        assert!(shown.contains("u:***@h/db"), "{shown}");
    }
}
