//! Webhook bodies and signatures. A delivery's body is fixed when the event
//! is queued; each try signs `timestamp + "." + body` with the
//! subscription's secret (HMAC-SHA256, hex), sent as
//! `X-Casebook-Signature: sha256=<hex>` beside `X-Casebook-Timestamp`.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::notice::Event;

pub const SIGNATURE_HEADER: &str = "X-Casebook-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Casebook-Timestamp";
pub const EVENT_HEADER: &str = "X-Casebook-Event";

/// The body as sent: Casebook's JSON envelope, or a Slack-compatible
/// message (`{"text": …}`) for chat channels.
pub fn body(format: &str, event: Event, at: &str, data: &Value) -> String {
    if format == "slack" {
        return json!({ "text": slack_text(event, data) }).to_string();
    }
    json!({ "event": event.as_str(), "occurred_at": at, "data": data }).to_string()
}

fn slack_text(event: Event, data: &Value) -> String {
    let ticket = &data["ticket"];
    let mut text = match (ticket["id"].as_i64(), ticket["title"].as_str()) {
        (Some(id), Some(title)) => format!("[Casebook #{id}] {title}: {}", event.label()),
        _ => format!("Casebook: {}", event.label()),
    };
    if let Some(to) = data["entry"]["data"]["to"].as_str() {
        text.push_str(&format!(" (now {to})"));
    }
    let body = data["entry"]["body"]
        .as_str()
        .or_else(|| data["title"].as_str())
        .unwrap_or("");
    if !body.is_empty() {
        let excerpt: String = body.chars().take(500).collect();
        text.push_str("\n>");
        text.push_str(&excerpt.replace('\n', "\n>"));
    }
    text
}

/// `sha256=<hex of HMAC-SHA256(secret, timestamp "." body)>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Checks a signature the way a receiver would (constant time).
pub fn verify(secret: &str, timestamp: i64, body: &str, signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_catch_tampering() {
        let sig = signature("s3cret", 1_700_000_000, "{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify("s3cret", 1_700_000_000, "{\"a\":1}", &sig));
        assert!(!verify("s3cret", 1_700_000_001, "{\"a\":1}", &sig));
        assert!(!verify("s3cret", 1_700_000_000, "{\"a\":2}", &sig));
        assert!(!verify("other", 1_700_000_000, "{\"a\":1}", &sig));
        assert!(!verify("s3cret", 1_700_000_000, "{\"a\":1}", "sha256=zz"));
    }

    #[test]
    fn the_signature_is_rfc_2104_hmac_over_timestamp_dot_body() {
        assert_eq!(
            signature("key", 1, "body"),
            format!("sha256={}", hmac_reference("key", "1.body"))
        );
    }

    /// RFC 2104 HMAC over SHA-256 written out with the sha2 crate alone.
    fn hmac_reference(key: &str, message: &str) -> String {
        use sha2::Digest;
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key.as_bytes());
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&ipad)
            .chain_update(message)
            .finalize();
        let outer = Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize();
        outer.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn slack_bodies_are_one_text() {
        let data =
            json!({ "ticket": { "id": 4, "title": "DB down" }, "entry": { "body": "on it" } });
        let body: Value =
            serde_json::from_str(&body("slack", Event::PublicEntry, "t", &data)).unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("[Casebook #4] DB down"), "{text}");
        assert!(text.contains(">on it"), "{text}");
        let body: Value = serde_json::from_str(&body_json()).unwrap();
        assert_eq!(body["event"], "entry.public");
    }

    fn body_json() -> String {
        body("json", Event::PublicEntry, "t", &json!({}))
    }
}
