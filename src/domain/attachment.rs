//! The rules for files kept with a ticket, whichever way they came (mail,
//! the ticket page, the API): a file name that is only a name, a content
//! type that is well-formed (and what the bytes say when they are a
//! format we know), and how sizes read.

/// The longest file name kept (in characters).
pub const MAX_NAME_CHARS: usize = 200;

/// The most files one upload may carry.
pub const MAX_FILES: usize = 20;

/// A file name as a browser or mail client sent it, made safe to keep and
/// show: the last path component only (browsers on Windows may send
/// `C:\Users\…\report.log`), no control characters, no quotes, no leading
/// dots (no hidden or `..` names), at most [`MAX_NAME_CHARS`]; `fallback`
/// when nothing is left.
pub fn safe_filename(sent: &str, fallback: &str) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '<' | '>' | '`' | '\u{2028}' | '\u{2029}') {
                '_'
            } else {
                c
            }
        })
        .take(MAX_NAME_CHARS)
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '_') {
        fallback.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The content type to keep: what the first bytes say when they are a
/// format we recognise (a declared type can lie), else the declared one
/// when it is a well-formed `type/subtype` (lower-cased, parameters
/// dropped), else `application/octet-stream`. Files are always served as
/// downloads, never rendered (see `web::tickets::attachment`); the type is
/// what the page tells the reader.
pub fn content_type(declared: Option<&str>, data: &[u8]) -> String {
    if let Some(sniffed) = sniff(data) {
        return sniffed.to_owned();
    }
    declared
        .and_then(well_formed)
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

fn sniff(data: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 7] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
    ];
    MAGIC
        .iter()
        .find(|(magic, _)| data.starts_with(magic))
        .map(|(_, ctype)| *ctype)
}

fn well_formed(declared: &str) -> Option<String> {
    let essence = declared.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(kind) && token(sub)).then_some(essence)
}

/// "1.2 MiB", "340.0 KiB", "17 bytes" (binary units, as the limits are
/// configured).
pub fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = KIB * 1024;
    match bytes {
        0..KIB => format!("{bytes} bytes"),
        KIB..MIB => format!("{:.1} KiB", bytes as f64 / KIB as f64),
        _ => format!("{:.1} MiB", bytes as f64 / MIB as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_only_names() {
        assert_eq!(safe_filename("report.log", "f"), "report.log");
        assert_eq!(
            safe_filename("C:\\Users\\ann\\Desktop\\trace.txt", "f"),
            "trace.txt"
        );
        assert_eq!(safe_filename("../../etc/passwd", "f"), "passwd");
        assert_eq!(safe_filename("..", "f"), "f");
        assert_eq!(safe_filename(".bashrc", "f"), "bashrc");
        assert_eq!(safe_filename("a\"b\r\nc.txt", "f"), "a_b__c.txt");
        assert_eq!(safe_filename("  ", "file-1"), "file-1");
        assert_eq!(safe_filename("dir/", "file-1"), "file-1");
        assert_eq!(
            safe_filename("Überweisung März.pdf", "f"),
            "Überweisung März.pdf"
        );
        assert_eq!(
            safe_filename(&"x".repeat(500), "f").chars().count(),
            MAX_NAME_CHARS
        );
        assert_eq!(safe_filename("\0\0", "f"), "f");
    }

    #[test]
    fn content_types_are_sniffed_or_well_formed_or_octet_stream() {
        assert_eq!(
            content_type(Some("text/plain"), b"\x89PNG\r\n\x1a\nrest"),
            "image/png"
        );
        assert_eq!(
            content_type(Some("Text/Plain; charset=utf-8"), b"hi"),
            "text/plain"
        );
        assert_eq!(content_type(Some("text/html"), b"<p>"), "text/html");
        assert_eq!(
            content_type(Some("nonsense"), b"hi"),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(Some("a/b\r\nX-Evil: 1"), b"hi"),
            "application/octet-stream"
        );
        assert_eq!(content_type(None, b"%PDF-1.7"), "application/pdf");
        assert_eq!(content_type(None, b""), "application/octet-stream");
    }

    #[test]
    fn sizes_read_like_a_person_writes_them() {
        assert_eq!(human_size(17), "17 bytes");
        assert_eq!(human_size(1_234), "1.2 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
