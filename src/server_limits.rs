//! How much of the server one client can hold, and for how long. Each number says why; the
//! HTTP server in `startup.rs` and the `limit_requests` middleware below apply them.
//!
//! actix-http (3.x) buffers up to 128 KiB of an unfinished request head per connection and has no
//! setting for it, so the hard bound on a connection's memory is 128 KiB for at most
//! `HEAD_TIMEOUT`; `MAX_CONNECTIONS_PER_WORKER` bounds how many such connections there can be.
//! Heads over `MAX_HEAD_BYTES` that do fit that buffer are refused here, before any session,
//! Redis or handler work.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse};
use futures_util::Stream;

/// The whole request head must arrive within this (actix answers 408 and closes otherwise).
/// A browser sends its head in one packet; 5 s is generous even on a bad mobile link.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection being closed may take to shut down before it is dropped.
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// An idle keep-alive connection is closed after this (actix's default, written down).
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// The whole request body must arrive within this of the head, or the request is answered 408
/// and the connection closed. Our largest bodies are small forms; at 1 MiB (the API proxy's
/// limit) this still allows 100 KB/s. A proxy in front (nginx) buffers bodies before passing
/// them on, so behind one this never fires for a real client.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Request line plus headers, in bytes. nginx's own default (`large_client_header_buffers 4 8k`)
/// passes at most 32 KiB, so whatever a default nginx accepts we accept too; our own cookie is
/// under 200 bytes, and the rest is room for other applications' cookies on a shared host.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Open connections per worker thread; past it the worker stops accepting until one closes.
/// A proxy keeps a few dozen, a browser six; 512 leaves room for a team of direct users while
/// bounding the worst case (each holding actix's full 128 KiB head buffer) to 64 MiB a worker.
pub const MAX_CONNECTIONS_PER_WORKER: usize = 512;
/// The log filter directive that keeps client mistakes out of ERROR: actix-http's h1 dispatcher
/// logs every malformed or oversized head, and every reset connection, as `ERROR stream error`.
/// Each such request already gets its own line from the request log, at the status it got.
pub const QUIET_CONNECTION_ERRORS: &str = "actix_http::h1::dispatcher=off";

/// Middleware: answers 431 to a head over `MAX_HEAD_BYTES`, and 408 (closing the connection) to
/// a request whose body does not arrive within `BODY_TIMEOUT`. A response sent before its
/// request's body was read to the end closes the connection too (see `Holding`).
pub async fn limit_requests(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if head_size(&req) > MAX_HEAD_BYTES {
        tracing::info!(limit = MAX_HEAD_BYTES, "request head too large");
        let response = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::CONNECTION, HeaderValue::from_static("close")))
            .finish();
        return Ok(req.into_response(response));
    }
    let has_body =
        req.headers().contains_key(header::CONTENT_LENGTH) || req.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let unread: Rc<RefCell<Option<Payload>>> = Rc::default();
    let fired = Rc::new(Cell::new(false));
    let body = Deadline {
        inner: Some(req.take_payload()),
        sleep: Box::pin(tokio::time::sleep(BODY_TIMEOUT)),
        fired: fired.clone(),
        finished: false,
        unread: unread.clone(),
    };
    req.set_payload(Payload::Stream { payload: Box::pin(body) });
    let mut res = next.call(req).await?.map_into_boxed_body();
    if fired.get() {
        // Whatever the handler made of the cut-off body, the client gets a 408.
        tracing::info!(limit_s = BODY_TIMEOUT.as_secs(), "request body too slow; closing the connection");
        let (req, _) = res.into_parts();
        let timeout = HttpResponse::build(StatusCode::REQUEST_TIMEOUT)
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .finish();
        res = ServiceResponse::new(req, timeout);
    }
    let Some(payload) = unread.borrow_mut().take() else {
        return Ok(res);
    };
    Ok(res.map_body(|head, body| {
        head.set_connection_type(ConnectionType::Close);
        BoxBody::new(Holding { body, _payload: payload })
    }))
}

/// The size of the request line and headers as they came, give or take the separators.
fn head_size(req: &ServiceRequest) -> usize {
    let line = req.method().as_str().len() + req.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) + 12;
    let headers: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    line + headers
}

/// A request body that ends in an error once `sleep` has run out. Dropped before its end (the
/// handler did not read it all, or it was cut off), it leaves the body to `unread`.
struct Deadline {
    inner: Option<Payload>,
    sleep: Pin<Box<tokio::time::Sleep>>,
    fired: Rc<Cell<bool>>,
    finished: bool,
    unread: Rc<RefCell<Option<Payload>>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(item) = Pin::new(inner).poll_next(cx) {
            self.finished |= item.is_none();
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.fired.set(true);
            let late = std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body did not arrive in time");
            return Poll::Ready(Some(Err(PayloadError::Io(late))));
        }
        Poll::Pending
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if !self.finished {
            *self.unread.borrow_mut() = self.inner.take();
        }
    }
}

/// A response body that keeps its request's unread body alive until the response is sent.
/// actix closes the connection after a response whose request body is still unread and still
/// held; once that body is dropped it would instead wait, without any timeout, for the client to
/// send the rest of a chunked body (to reuse the connection), which a stalled client never does.
struct Holding {
    body: BoxBody,
    _payload: Payload,
}

impl MessageBody for Holding {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}
