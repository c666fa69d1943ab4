//! More of Jira behind the gateway, for threelo's `/api` proxy: attachment content, whose large
//! answer is streamed (the proxy must pass it on as it comes).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use super::http::ApiError;
use super::jira::enter;
use super::scopes::jira as need;
use super::seed::ids::{LARGE_ATTACHMENT, LARGE_ATTACHMENT_BYTES, LARGE_ATTACHMENT_STALL_MS};
use super::state::{State, lock};

/// The size of each chunk of a streamed answer.
const CHUNK: usize = 64 * 1024;

/// `GET attachment/content/{id}`: the bytes of an attachment. Only [`LARGE_ATTACHMENT`] exists:
/// [`LARGE_ATTACHMENT_BYTES`] bytes (byte `i` is `i % 251`), sent in chunks with the last one
/// held back a moment, so a test can see the first bytes arrive before the answer is complete.
pub(crate) async fn attachment_content(
    req: HttpRequest,
    state: web::Data<Mutex<State>>,
) -> Result<HttpResponse, ApiError> {
    enter(&req, &state, &need::ATTACHMENT)?;
    if req.match_info().get("id") != Some(LARGE_ATTACHMENT) {
        return Err(ApiError::jira(404, "The attachment with id does not exist."));
    }
    let body = Chunks { sent: 0, stall: None, state: state.into_inner() };
    Ok(HttpResponse::Ok().content_type("application/octet-stream").body(body))
}

/// The large attachment's body, chunk by chunk.
struct Chunks {
    sent: usize,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    state: Arc<Mutex<State>>,
}

impl MessageBody for Chunks {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        // Not announced: the proxy must cope with a body of unknown length (chunked).
        BodySize::Stream
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = &mut *self;
        if this.sent >= LARGE_ATTACHMENT_BYTES {
            return Poll::Ready(None);
        }
        let len = CHUNK.min(LARGE_ATTACHMENT_BYTES - this.sent);
        if this.sent + len == LARGE_ATTACHMENT_BYTES {
            let stall = this
                .stall
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(LARGE_ATTACHMENT_STALL_MS))));
            if stall.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            lock(&this.state).finished_streams += 1;
        }
        let chunk: Vec<u8> = (this.sent..this.sent + len).map(|i| (i % 251) as u8).collect();
        this.sent += len;
        Poll::Ready(Some(Ok(Bytes::from(chunk))))
    }
}
