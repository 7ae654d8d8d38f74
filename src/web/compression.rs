//! Responses are gzip-compressed when the client accepts it (actix's
//! `Compress`), except event streams: a compressor holds bytes back until
//! it has enough to compress, which would delay live journal entries.
//! `Compress` leaves alone a response that already names a
//! `Content-Encoding`, so [`mark_streams`] (inside it) names `identity` on
//! event streams and [`unmark_streams`] (outside it) removes that header
//! again: the client sees a plain, unbuffered stream.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

fn is_event_stream<B>(res: &ServiceResponse<B>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

pub async fn mark_streams(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if is_event_stream(&res) {
        res.headers_mut().insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    Ok(res)
}

pub async fn unmark_streams(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if is_event_stream(&res)
        && res
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v == "identity")
    {
        res.headers_mut().remove(header::CONTENT_ENCODING);
    }
    Ok(res)
}
