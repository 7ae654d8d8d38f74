//! A small HTTP/1.1 client for webhook calls and `casebook mailgate`. It
//! resolves the host itself, checks every address against the allow-list
//! when asked to (webhooks), and connects to the address it checked, so a
//! second DNS answer cannot point the request elsewhere. The whole
//! exchange has one deadline.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::Cidr;

/// The most of a response body kept (for the delivery log and messages).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Url(String),
    /// The target is not allowed (a permanent failure).
    #[error("{0}")]
    Refused(String),
    #[error("could not connect to {0}: {1}")]
    Connect(String, String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Protocol(String),
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared (CGNAT), multicast, unspecified or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Whether a webhook may reach `ip`.
pub fn allowed(ip: IpAddr, allow: &[Cidr]) -> bool {
    is_public(ip) || allow.iter().any(|c| c.contains(ip))
}

struct Target {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

fn target(url: &str) -> Result<Target, HttpError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| HttpError::Url(format!("{url:?} is not a URL")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => {
            return Err(HttpError::Url(format!(
                "{url:?}: only http:// and https:// URLs are supported"
            )));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| HttpError::Url(format!("{url:?} names no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    Ok(Target {
        https,
        host,
        port,
        path,
    })
}

/// Checks a URL's form, and, with an allow-list, that its host resolves
/// only to addresses a webhook may reach.
pub async fn check_url(url: &str, allow: Option<&[Cidr]>) -> Result<(), HttpError> {
    let t = target(url)?;
    if let Some(allow) = allow {
        resolve(&t, allow).await?;
    }
    Ok(())
}

async fn resolve(t: &Target, allow: &[Cidr]) -> Result<SocketAddr, HttpError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port))
        .await
        .map_err(|e| HttpError::Connect(t.host.clone(), e.to_string()))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| HttpError::Connect(t.host.clone(), "no address".to_owned()))?;
    // Every address must pass: a name with one public and one internal
    // address could otherwise be used to reach the internal one.
    if let Some(bad) = addrs.iter().find(|a| !allowed(a.ip(), allow)) {
        return Err(HttpError::Refused(format!(
            "{} resolves to {}, an internal address; an admin may allow its range \
             (--webhook-allow)",
            t.host,
            bad.ip()
        )));
    }
    Ok(first)
}

/// POSTs `body` to `url`. With `allow`, the target must pass the
/// allow-list (webhooks); without it any address is fine (`mailgate`,
/// which an operator points at their own Casebook).
pub async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    timeout: Duration,
    allow: Option<&[Cidr]>,
) -> Result<Response, HttpError> {
    let t = target(url)?;
    tokio::time::timeout(timeout, async {
        let addr = match allow {
            Some(allow) => resolve(&t, allow).await?,
            None => tokio::net::lookup_host((t.host.as_str(), t.port))
                .await
                .map_err(|e| HttpError::Connect(t.host.clone(), e.to_string()))?
                .next()
                .ok_or_else(|| HttpError::Connect(t.host.clone(), "no address".to_owned()))?,
        };
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| HttpError::Connect(addr.to_string(), e.to_string()))?;
        let mut request = hyper::Request::post(t.path.as_str())
            .header(hyper::header::HOST, host_header(&t))
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .header(hyper::header::USER_AGENT, "Casebook");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        if t.https {
            let connector = tokio_native_tls::native_tls::TlsConnector::new()
                .map_err(|e| HttpError::Protocol(e.to_string()))?;
            let tls = tokio_native_tls::TlsConnector::from(connector)
                .connect(&t.host, stream)
                .await
                .map_err(|e| HttpError::Connect(t.host.clone(), e.to_string()))?;
            exchange(tls, request).await
        } else {
            exchange(stream, request).await
        }
    })
    .await
    .map_err(|_| HttpError::Timeout(timeout))?
}

fn host_header(t: &Target) -> String {
    let default = if t.https { 443 } else { 80 };
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    if t.port == default {
        host
    } else {
        format!("{host}:{}", t.port)
    }
}

async fn exchange<S>(io: S, request: hyper::Request<Full<Bytes>>) -> Result<Response, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| HttpError::Protocol(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| HttpError::Protocol(e.to_string()))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| HttpError::Protocol(e.to_string()))?;
        if let Some(data) = frame.data_ref() {
            let room = MAX_RESPONSE_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
            if kept.len() >= MAX_RESPONSE_BYTES {
                break;
            }
        }
    }
    driver.abort();
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&kept).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        let allow = ["127.0.0.1/32".parse().unwrap()];
        assert!(allowed("127.0.0.1".parse().unwrap(), &allow));
        assert!(!allowed("127.0.0.2".parse().unwrap(), &allow));
    }

    #[test]
    fn urls_are_checked() {
        assert!(target("ftp://x/").is_err());
        assert!(target("not a url").is_err());
        let t = target("https://hooks.example.com/a?b=1").unwrap();
        assert!(t.https && t.port == 443 && t.path == "/a?b=1");
        let t = target("http://[::1]:8080/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
    }
}
