//! The issue page's writes: `POST …/issues/{key}/comments` (form: `body`, `csrf`, `nonce`),
//! `POST …/issues/{key}/transitions` (form: `transition`, `csrf`, `nonce`) and
//! `POST …/issues/{key}/assignee` (form: `csrf`, `nonce`: assigns the issue to the user).
//!
//! Each one, in this order: the CSRF checks (`CsrfForm`); the site and key; the form's own checks
//! (nothing typed: no call); the grant must allow the write (`write:jira-work` or its granular
//! scopes, `crate::scopes`; else the page says what is missing, or offers to allow it; no call);
//! the account's budget of writes (`nonce::WRITES`); the nonce is claimed (`nonce.rs`: a nonce
//! seen before answers the same 303 with no call at all, a form past its life is shown again);
//! then exactly one write to Jira, never repeated. Success is a 303 back to the
//! issue. A refusal re-renders the issue page with what happened, what to do, and the comment as
//! typed, under a 4xx/5xx status and without a redirect (a redirect would lose the text).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::atlassian::{Site, WriteRefusal, WriteResult};
use crate::clock::unix_now;
use crate::config::Settings;
use crate::error::AppError;
use crate::ids::{CloudId, IssueKey};
use crate::nonce::{Claim, FORM_LIFE, Nonces, WRITES};
use crate::on_behalf::{OnBehalf, Product};
use crate::pages::grant::{Access, access};
use crate::pages::issue::{Failure, is_transition_id, render};
use crate::rate_limits::{DEFAULT_WAIT_SECS, Target};
use crate::scopes::Feature;
use crate::session::CsrfForm;
use crate::store::Kv;
use crate::urls::Urls;

/// The longest comment accepted, in characters (Jira's limit is 32,767).
pub const MAX_COMMENT_CHARS: usize = 32_000;

/// The comment form.
#[derive(Deserialize)]
pub struct CommentForm {
    body: Option<String>,
    nonce: Option<String>,
}

/// A transition button's form.
#[derive(Deserialize)]
pub struct TransitionForm {
    transition: Option<String>,
    nonce: Option<String>,
}

/// "Assign to me": only the nonce (and the CSRF token).
#[derive(Deserialize)]
pub struct AssignForm {
    nonce: Option<String>,
}

/// Plain text to an ADF document: paragraphs at blank lines, a hard break at each other line
/// break, control characters other than line breaks and tabs dropped. `None` when nothing is left.
pub fn text_to_adf(text: &str) -> Option<Value> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let clean: String = text.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect();
    let paragraphs: Vec<Value> = clean
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut content = Vec::new();
            for (i, line) in p.split('\n').enumerate() {
                if i > 0 {
                    content.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    content.push(json!({"type": "text", "text": line}));
                }
            }
            json!({"type": "paragraph", "content": content})
        })
        .collect();
    (!paragraphs.is_empty()).then(|| json!({"type": "doc", "version": 1, "content": paragraphs}))
}

/// Everything a write handler needs, checked.
struct Subject {
    user: OnBehalf,
    site: Site,
    cloud_id: CloudId,
    key: IssueKey,
}

async fn target(
    req: &HttpRequest,
    posted_signed_in: crate::session::SignedIn,
    path: (String, String),
) -> Result<Subject, AppError> {
    let user = OnBehalf::new(posted_signed_in, req)?;
    let (cloud_id, site) = user.site(&path.0, Product::Jira).await?;
    let key = IssueKey::parse(&path.1).ok_or(AppError::NotFound)?;
    Ok(Subject { user, site, cloud_id, key })
}

impl Subject {
    /// The issue page again, explaining `failure` (with the text as typed).
    async fn show(&self, urls: &Urls, settings: &Settings, failure: Failure) -> Result<HttpResponse, AppError> {
        render(&self.user, urls, settings, self.site.clone(), &self.cloud_id, &self.key, Some(failure)).await
    }
}

/// One kind of write: the feature it belongs to, and the words for its failure ("Your comment was
/// not posted", …).
#[derive(Clone, Copy)]
struct Action {
    feature: Feature,
    what: &'static str,
}

/// Which scopes the grant lacks for `action`. When the grant seems to hold them all and Atlassian
/// still said "scope does not match", the scopes the feature's endpoints accept.
fn missing(action: Action, granted: &[String]) -> String {
    let lacking = action.feature.lacking(granted);
    if lacking.is_empty() {
        let needs: Vec<String> = action.feature.needs().iter().map(ToString::to_string).collect();
        format!("Atlassian wants {}", needs.join("; "))
    } else {
        format!("{} is missing", lacking.join(" "))
    }
}

/// How the page explains a refusal of `action`; `granted` are the grant's scopes.
fn explain(refusal: &WriteRefusal, action: Action, granted: &[String], draft: String) -> Failure {
    let what = action.what;
    let (status, what, then) = match refusal {
        WriteRefusal::RateLimited { retry_after, per_issue: true } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("{what}: Jira limits how often one issue can be changed, and this issue has just had many changes."),
            format!("Nothing was changed. Wait {} seconds, then send it again.", retry_after.unwrap_or(DEFAULT_WAIT_SECS)),
        ),
        WriteRefusal::RateLimited { retry_after, per_issue: false } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("{what}: Atlassian asked threelo to slow down."),
            format!("Nothing was changed. Wait {} seconds, then send it again.", retry_after.unwrap_or(DEFAULT_WAIT_SECS)),
        ),
        WriteRefusal::ScopeMissing => (
            StatusCode::FORBIDDEN,
            format!("{what}: Atlassian has not given threelo permission for this ({}).", missing(action, granted)),
            "Nothing was changed. Allow it with the button on this page, or ask the people who run threelo to add the permission.".to_owned(),
        ),
        WriteRefusal::Forbidden => (
            StatusCode::FORBIDDEN,
            format!("{what}: Jira says your account may not do this on this issue."),
            "Nothing was changed. Ask the project's administrators for the permission.".to_owned(),
        ),
        WriteRefusal::NotFound => (
            StatusCode::NOT_FOUND,
            format!("{what}: Jira says this issue does not exist, or you can no longer see it."),
            "Nothing was changed.".to_owned(),
        ),
        WriteRefusal::Rejected(_) => (
            StatusCode::BAD_REQUEST,
            format!("{what}: Jira refused it as it was sent (the issue may have changed meanwhile)."),
            "Nothing was changed. Check the issue below and try again.".to_owned(),
        ),
        WriteRefusal::Failed(code) => (
            StatusCode::BAD_GATEWAY,
            format!("{what}: Atlassian failed while handling it (it answered {}).", code.as_u16()),
            "It may or may not have been made: look at the issue below before you send it again.".to_owned(),
        ),
        WriteRefusal::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("{what}: Atlassian did not answer in time."),
            "It may or may not have been made: look at the issue below before you send it again.".to_owned(),
        ),
        WriteRefusal::Unreachable(_) => (
            StatusCode::BAD_GATEWAY,
            format!("{what}: threelo could not reach Atlassian."),
            "Nothing was changed. Try again in a moment.".to_owned(),
        ),
    };
    Failure { status, what, then, draft }
}

/// Claims the nonce, makes the write once, and answers: 303 back to the issue on success or
/// when the nonce was used before; the issue page explaining a refusal otherwise.
#[allow(clippy::too_many_arguments)]
async fn write_once<F, Fut>(
    t: &Subject,
    nonce: Option<String>,
    action: Action,
    draft: String,
    kv: &Kv,
    settings: &Settings,
    urls: &Urls,
    write: F,
) -> Result<HttpResponse, AppError>
where
    F: Fn(web::Data<crate::atlassian::Atlassian>, secrecy::SecretString) -> Fut,
    Fut: Future<Output = WriteResult>,
{
    let back = urls.issue(t.cloud_id.as_str(), t.key.as_str());
    let granted = t.user.granted_scopes();
    if access(&settings.scopes, &granted, action.feature) != Access::Granted {
        let failure = explain(&WriteRefusal::ScopeMissing, action, &granted, draft);
        return t.show(urls, settings, failure).await;
    }
    let nonce = nonce.ok_or(AppError::BadRequest("the form has no nonce"))?;
    let nonces = Nonces::new(kv);
    let account_id = t.user.session_data().user.account_id;
    let (now, what) = (unix_now(), action.what);
    // Before the claim, so a script of POSTs cannot store more than the budget's nonce keys.
    if let Some(wait) = WRITES.spend(kv, &account_id, now).await? {
        let failure = Failure {
            status: StatusCode::TOO_MANY_REQUESTS,
            what: format!(
                "{what}: you have sent {} changes in the last minute, the most threelo sends for one account.",
                WRITES.calls
            ),
            then: format!("Nothing was changed. Wait {wait} seconds, then send it again."),
            draft,
        };
        return t.show(urls, settings, failure).await;
    }
    match nonces.claim(&account_id, &nonce, now).await? {
        Claim::First => {}
        Claim::Again => {
            tracing::info!(account = %account_id, "a form was sent again; answered without a second write");
            return Ok(urls.see_other(&back));
        }
        Claim::Aged => {
            let failure = Failure {
                status: StatusCode::CONFLICT,
                what: format!(
                    "{what}: the page was open for more than {} hours (or from before threelo was updated), so its form has expired.",
                    FORM_LIFE.as_secs() / 3600
                ),
                then: "Nothing was changed. Check the issue below (it may have changed meanwhile) and send it again."
                    .to_owned(),
                draft,
            };
            return t.show(urls, settings, failure).await;
        }
    }
    let jira = Target { product: Product::Jira, site: t.cloud_id.as_str() };
    let outcome = match t.user.call(jira, write).await {
        Ok(outcome) => outcome,
        // Atlassian asked to wait already (this or another request, any instance): nothing sent.
        Err(AppError::RateLimited(secs)) => {
            let _ = nonces.release(&account_id, &nonce).await;
            let failure = explain(
                &WriteRefusal::RateLimited { retry_after: Some(secs), per_issue: false },
                action,
                &granted,
                draft,
            );
            return t.show(urls, settings, failure).await;
        }
        Err(err) => {
            // The write was never made (the refresh before it, or the only try, failed).
            let _ = nonces.release(&account_id, &nonce).await;
            return Err(err);
        }
    };
    match outcome {
        Ok(()) => Ok(urls.see_other(&back)),
        Err(refusal) => {
            tracing::info!(account = %account_id, error = %refusal, "a write to Jira did not go through");
            if let WriteRefusal::RateLimited { retry_after, per_issue: false } = refusal {
                // The site's limit, not one issue's: every page and instance waits too.
                t.user.note_wait(jira, retry_after.unwrap_or(DEFAULT_WAIT_SECS)).await;
            }
            if refusal.nothing_changed() {
                nonces.release(&account_id, &nonce).await?;
            }
            let failure = explain(&refusal, action, &granted, draft);
            t.show(urls, settings, failure).await
        }
    }
}

#[post("/sites/{cloud_id}/jira/issues/{key}/comments")]
pub async fn add_comment(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    posted: CsrfForm<CommentForm>,
    kv: web::Data<Kv>,
    settings: web::Data<Settings>,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { signed_in, form } = posted;
    let t = target(&req, signed_in, path.into_inner()).await?;
    let draft = form.body.unwrap_or_default();
    const WHAT: &str = "Your comment was not posted";
    let action = Action { feature: Feature::Comment, what: WHAT };
    let refuse = |message: &str| Failure {
        status: StatusCode::BAD_REQUEST,
        what: format!("{WHAT}: {message}"),
        then: "Nothing was sent to Jira.".to_owned(),
        draft: draft.clone(),
    };
    if draft.chars().count() > MAX_COMMENT_CHARS {
        let failure = refuse(&format!("it is longer than {MAX_COMMENT_CHARS} characters; shorten it."));
        return t.show(&urls, &settings, failure).await;
    }
    let Some(adf) = text_to_adf(&draft) else {
        let failure = refuse("it is empty; write something first.");
        return t.show(&urls, &settings, failure).await;
    };
    let (cloud_id, key, adf) = (t.cloud_id.as_str(), t.key.as_str(), &adf);
    write_once(&t, form.nonce, action, draft.clone(), &kv, &settings, &urls, |api, token| async move {
        api.add_comment(&token, cloud_id, key, adf).await
    })
    .await
}

#[post("/sites/{cloud_id}/jira/issues/{key}/transitions")]
pub async fn transition(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    posted: CsrfForm<TransitionForm>,
    kv: web::Data<Kv>,
    settings: web::Data<Settings>,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { signed_in, form } = posted;
    let t = target(&req, signed_in, path.into_inner()).await?;
    let id =
        form.transition.filter(|id| is_transition_id(id)).ok_or(AppError::BadRequest("no transition was named"))?;
    let (cloud_id, key, id) = (t.cloud_id.as_str(), t.key.as_str(), id.as_str());
    let action = Action { feature: Feature::Transition, what: "The issue was not moved" };
    write_once(&t, form.nonce, action, String::new(), &kv, &settings, &urls, |api, token| async move {
        api.transition(&token, cloud_id, key, id).await
    })
    .await
}

#[post("/sites/{cloud_id}/jira/issues/{key}/assignee")]
pub async fn assign_to_me(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    posted: CsrfForm<AssignForm>,
    kv: web::Data<Kv>,
    settings: web::Data<Settings>,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    let CsrfForm { signed_in, form } = posted;
    let account_id = signed_in.account_id().to_owned();
    let t = target(&req, signed_in, path.into_inner()).await?;
    let (cloud_id, key, account_id) = (t.cloud_id.as_str(), t.key.as_str(), account_id.as_str());
    let action = Action { feature: Feature::Assign, what: "The issue was not assigned to you" };
    write_once(&t, form.nonce, action, String::new(), &kv, &settings, &urls, |api, token| async move {
        api.assign(&token, cloud_id, key, account_id).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_becomes_paragraphs_and_hard_breaks() {
        let doc = text_to_adf("First line\r\nsecond line\r\n\r\n\r\nNew paragraph\u{7}").unwrap();
        let expected = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [
                {"type": "text", "text": "First line"}, {"type": "hardBreak"}, {"type": "text", "text": "second line"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "New paragraph"}]},
        ]});
        assert_eq!(doc, expected);
    }

    #[test]
    fn a_scope_refusal_names_what_is_missing_or_what_atlassian_accepts() {
        let comment = Action { feature: Feature::Comment, what: "Your comment was not posted" };
        let none: Vec<String> = vec!["read:jira-work".to_owned()];
        assert_eq!(missing(comment, &none), "write:jira-work is missing");
        // Held, yet refused: name the scopes Atlassian accepts, never "( is missing)".
        let all: Vec<String> = vec!["read:jira-work".to_owned(), "write:jira-work".to_owned()];
        let said = missing(comment, &all);
        assert!(said.starts_with("Atlassian wants write:jira-work"), "{said}");
    }

    #[test]
    fn text_with_nothing_in_it_is_no_comment() {
        assert_eq!(text_to_adf(""), None);
        assert_eq!(text_to_adf(" \r\n\n \u{0} "), None);
    }

    #[test]
    fn markup_stays_text() {
        let doc = text_to_adf("<b>bold</b> & \"quoted\"").unwrap();
        assert_eq!(doc["content"][0]["content"][0]["text"], "<b>bold</b> & \"quoted\"");
    }
}
