//! HEAD requests are answered like GET without the body, so load balancers and uptime checks that
//! probe with HEAD (on `/healthz`, `/readyz` or any page) get the real status.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// Middleware: routes HEAD as GET and drops the body of the answer.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
    }
    let res = next.call(req).await?.map_into_boxed_body();
    Ok(if head { res.map_body(|_, _| BoxBody::new(())) } else { res })
}
