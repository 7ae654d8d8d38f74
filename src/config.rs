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
    /// Mail out, webhooks and mail in.
    pub delivery: Delivery,
    /// The zone (IANA name) times are shown in and report days counted in
    /// for a person who has not chosen their own.
    pub time_zone: chrono_tz::Tz,
}

/// How the SMTP relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" | "smtps" => Ok(Self::Tls),
            other => Err(format!(
                "unknown SMTP TLS mode {other:?}: use none, starttls or tls"
            )),
        }
    }
}

#[derive(Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An address range webhooks may reach although it is not public
/// (`10.0.0.0/8`, `127.0.0.1/32`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
        let addr: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address range like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?
        };
        Ok(Self { addr, prefix })
    }
}

/// Mail out, webhooks and mail in.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The relay; `None`: mail is queued but not sent (the worker says so).
    pub smtp: Option<Smtp>,
    /// The From of every notification, e.g. `Casebook <casebook@example.com>`;
    /// its domain is the right-hand side of our Message-IDs.
    pub from: String,
    /// Where people reach Casebook, for links in mail (no trailing slash).
    pub public_url: String,
    /// The first retry waits this long; each further one twice as long.
    pub retry_base: std::time::Duration,
    /// The longest wait between two tries.
    pub retry_max: std::time::Duration,
    /// Tries before a delivery is marked failed.
    pub max_attempts: i32,
    /// How long one SMTP conversation or webhook call may take.
    pub timeout: std::time::Duration,
    /// Non-public ranges webhooks may reach anyway.
    pub webhook_allow: Vec<Cidr>,
    /// The largest message `POST /api/v1/mail` takes.
    pub max_message_bytes: usize,
    /// The largest single attachment kept.
    pub max_attachment_bytes: usize,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            smtp: None,
            from: "Casebook <casebook@localhost>".to_owned(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            retry_base: std::time::Duration::from_secs(30),
            retry_max: std::time::Duration::from_secs(3600),
            max_attempts: 12,
            timeout: std::time::Duration::from_secs(30),
            webhook_allow: Vec::new(),
            max_message_bytes: 10 * 1024 * 1024,
            max_attachment_bytes: 5 * 1024 * 1024,
        }
    }
}

impl Delivery {
    /// The domain of the From address (`localhost` when it has none).
    pub fn domain(&self) -> String {
        let address = self
            .from
            .rsplit_once('<')
            .map_or(self.from.as_str(), |(_, a)| a.trim_end_matches('>'));
        address
            .rsplit_once('@')
            .map(|(_, d)| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    }
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
            .field("delivery", &self.delivery)
            .field("time_zone", &self.time_zone.name())
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
            delivery: Delivery {
                smtp: Some(Smtp {
                    host: "relay".into(),
                    port: 587,
                    tls: SmtpTls::StartTls,
                    user: Some("casebook".into()),
                    password: Some("s3cret-relay".into()),
                }),
                ..Delivery::default()
            },
            time_zone: chrono_tz::Tz::UTC,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("scrape-secret"), "{shown}");
        assert!(shown.contains("u:***@h/db"), "{shown}");
        assert!(!shown.contains("s3cret-relay"), "{shown}");
    }

    #[test]
    fn address_ranges_parse_and_match() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.200.1.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            "::1/128"
                .parse::<Cidr>()
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }

    #[test]
    fn the_message_id_domain_is_the_from_addresss() {
        let d = Delivery {
            from: "Ops Desk <Desk@Example.COM>".into(),
            ..Delivery::default()
        };
        assert_eq!(d.domain(), "example.com");
    }
}
