//! `GET /sites/{cloudId}/jira/issues/{key}`: one issue, its description and comments rendered from
//! ADF by our own renderer, and, each when the grant allows it (`write:jira-work`, or the granular
//! scopes of that write: `crate::scopes`), a comment form, the transitions the issue can take and
//! "Assign to me" (the writes are in `issue_actions.rs`). When the operator configured them after
//! the user signed in, the page offers one button to allow them instead; reading keeps working
//! meanwhile. When the operator configured only part of a write's granular set, the page says
//! which scopes are missing.
//!
//! The issue is fetched first (a 404 or 403 there is the page's answer: Jira answers 404 for an
//! issue the user may not see as for one that does not exist, so the page says "not found, or
//! not yours to see"); comments and transitions are fetched together after it, and a failure of
//! either is a notice on the page, not an error.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::atlassian::{Comment, Site, Transition};
use crate::config::Settings;
use crate::error::AppError;
use crate::ids::{CloudId, IssueKey};
use crate::nonce;
use crate::on_behalf::{OnBehalf, Product};
use crate::pages::grant::{Access, Offer, access, off_for_want_of};
use crate::pages::issue_row::short_time;
use crate::pages::{Chrome, html_status};
use crate::rate_limits::Target;
use crate::render::{adf_json_to_html, adf_to_html};
use crate::scopes::Feature;
use crate::urls::Urls;

/// The newest comments shown on the page.
const COMMENTS_SHOWN: u32 = 50;

/// A write that did not go through, as the page explains it.
pub struct Failure {
    pub status: StatusCode,
    /// What happened.
    pub what: String,
    /// What the user can do.
    pub then: String,
    /// The comment as typed, back in the form.
    pub draft: String,
}

/// One comment as the page shows it.
struct CommentView {
    author: String,
    time: String,
    /// Produced by our ADF renderer, which escapes everything: safe to insert as HTML.
    body_html: String,
}

impl CommentView {
    fn new(comment: &Comment) -> Self {
        CommentView {
            author: comment
                .author
                .as_ref()
                .map(|a| a.display_name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "Someone".to_owned()),
            time: short_time(comment.created.as_deref()),
            body_html: comment.body.as_ref().map(adf_to_html).unwrap_or_default(),
        }
    }
}

/// A transition button.
struct TransitionView {
    id: String,
    /// `Start progress → In Progress`.
    label: String,
}

#[derive(Template)]
#[template(path = "issue.html")]
struct IssuePage<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    site: Site,
    key: String,
    summary: String,
    facts: Vec<(&'static str, String)>,
    labels: Vec<String>,
    /// Produced by our ADF renderer, which escapes everything: safe to insert as HTML.
    description_html: String,
    comments: Vec<CommentView>,
    /// Comments older than those shown.
    older_comments: usize,
    /// Set when the comments could not be read.
    comments_notice: Option<&'static str>,
    /// The forms' one-time nonce (each form its own).
    comment_nonce: String,
    can_comment: bool,
    /// Why the comment form is missing, when the configured scopes hold part of its granular set.
    comment_off: Option<String>,
    can_transition: bool,
    transitions: Vec<(TransitionView, String)>,
    transitions_notice: Option<&'static str>,
    /// "Assign to me": its nonce, when the issue is not assigned to the user already.
    assign_nonce: Option<String>,
    /// One button to allow the writes, when the operator configured them after sign-in.
    offer: Option<Offer>,
    failure: Option<Failure>,
    draft: String,
}

/// A write's failure when the issue itself could not be loaded: what happened, the typed text.
#[derive(Template)]
#[template(path = "write_failed.html")]
struct WriteFailed<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    site: Site,
    key: &'a str,
    failure: Failure,
}

/// The issue page; `failure` explains a write that did not go through (status, message, draft).
pub async fn render(
    user: &OnBehalf,
    urls: &Urls,
    settings: &Settings,
    site: Site,
    cloud_id: &CloudId,
    key: &IssueKey,
    failure: Option<Failure>,
) -> Result<HttpResponse, AppError> {
    let (id, key_text) = (cloud_id.as_str(), key.as_str());
    let jira = Target { product: Product::Jira, site: id };
    let detail = match user.call(jira, |api, token| async move { api.issue(&token, id, key_text).await }).await {
        Err(AppError::NotFound) => {
            // Or the site is gone: its list is read again on a later page (at most once).
            user.recheck_sites()?;
            return Err(AppError::NotVisible);
        }
        // A write's failure is shown, with the text as typed, even when the issue cannot be
        // loaded just now (the same 429 wait, say).
        Err(err) if failure.is_some() && !matches!(err, AppError::GrantEnded(_)) => {
            tracing::info!(error = %err, "the issue could not be loaded to show a write's failure");
            let failure = failure.ok_or(err)?;
            let chrome = Chrome::for_user(user, Some(id));
            return html_status(failure.status, WriteFailed { urls, chrome, site, key: key_text, failure });
        }
        other => other?,
    };
    let granted = user.granted_scopes();
    let [comment, transition, assign] =
        [Feature::Comment, Feature::Transition, Feature::Assign].map(|f| access(&settings.scopes, &granted, f));
    let (can_comment, can_transition) = (comment == Access::Granted, transition == Access::Granted);
    let comments =
        user.call(jira, |api, token| async move { api.comments(&token, id, key_text, COMMENTS_SHOWN).await });
    let transitions = async {
        if can_transition {
            Some(user.call(jira, |api, token| async move { api.transitions(&token, id, key_text).await }).await)
        } else {
            None
        }
    };
    let (comments, transitions) = futures_util::future::join(comments, transitions).await;
    let (comments, older_comments, comments_notice) = match comments {
        Ok((list, total)) => {
            let older = total.saturating_sub(list.len());
            (list.iter().map(CommentView::new).collect(), older, None)
        }
        Err(err @ AppError::GrantEnded(_)) => return Err(err),
        Err(_) => (Vec::new(), 0, Some("The comments could not be loaded just now; reload the page to try again.")),
    };
    let (transitions, transitions_notice): (Vec<Transition>, _) = match transitions {
        None => (Vec::new(), None),
        Some(Ok(list)) => (list, None),
        Some(Err(err @ AppError::GrantEnded(_))) => return Err(err),
        Some(Err(_)) => {
            (Vec::new(), Some("The transitions could not be loaded just now; reload the page to try again."))
        }
    };
    let transitions = transitions
        .into_iter()
        .filter(|t| is_transition_id(&t.id))
        .map(|t| {
            let label = match t.to.as_ref().map(|to| to.name.as_str()).filter(|n| !n.is_empty() && *n != t.name) {
                Some(to) => format!("{} → {to}", t.name),
                None => t.name.clone(),
            };
            (TransitionView { id: t.id, label }, nonce::fresh())
        })
        .collect();

    let fields = detail.fields;
    let account_id = user.session_data().user.account_id;
    let assigned_to_me = fields.assignee.as_ref().is_some_and(|a| a.account_id == account_id);
    let name = |n: Option<String>| n.filter(|s| !s.is_empty()).unwrap_or_else(|| "—".to_owned());
    let facts = vec![
        ("Status", name(fields.status.as_ref().map(|s| s.name.clone()))),
        ("Type", name(fields.issuetype.as_ref().map(|t| t.name.clone()))),
        ("Priority", name(fields.priority.as_ref().map(|p| p.name.clone()))),
        ("Project", name(fields.project.as_ref().map(|p| format!("{} ({})", p.name, p.key)))),
        ("Assignee", name(fields.assignee.as_ref().map(|p| p.display_name.clone()))),
        ("Reporter", name(fields.reporter.as_ref().map(|p| p.display_name.clone()))),
        ("Created", name(Some(short_time(fields.created.as_deref())))),
        ("Updated", name(Some(short_time(fields.updated.as_deref())))),
    ];
    let description_html = fields.description.as_deref().map(|raw| adf_json_to_html(raw.get())).unwrap_or_default();
    let chrome = Chrome::for_user(user, Some(cloud_id.as_str()));
    let offer = [comment, transition, assign].contains(&Access::Offer).then(|| Offer {
        action: urls.consent(),
        return_to: urls.issue(cloud_id.as_str(), key.as_str()),
        csrf: chrome.csrf.clone(),
    });
    let status = failure.as_ref().map_or(StatusCode::OK, |f| f.status);
    let draft = failure.as_ref().map(|f| f.draft.clone()).unwrap_or_default();
    html_status(
        status,
        IssuePage {
            urls,
            chrome,
            site,
            key: detail.key,
            summary: fields.summary.unwrap_or_else(|| "(no summary)".to_owned()),
            facts,
            labels: fields.labels,
            description_html,
            comments,
            older_comments,
            comments_notice,
            comment_nonce: nonce::fresh(),
            can_comment,
            comment_off: off_for_want_of(&settings.scopes, Feature::Comment).map(|missing| {
                format!(
                    "Comments cannot be posted from threelo: the scopes it is set up with lack {}. The people who run threelo can add them to THREELO_SCOPES and to the app in Atlassian's developer console.",
                    missing.join(" ")
                )
            }),
            can_transition,
            transitions,
            transitions_notice,
            assign_nonce: (assign == Access::Granted && !assigned_to_me).then(nonce::fresh),
            offer,
            failure,
            draft,
        },
    )
}

/// Whether `id` looks like a Jira transition id (digits): anything else is not offered as a button.
pub fn is_transition_id(id: &str) -> bool {
    (1..=10).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

#[get("/sites/{cloud_id}/jira/issues/{key}")]
pub async fn issue(
    path: web::Path<(String, String)>,
    user: OnBehalf,
    urls: web::Data<Urls>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let (raw_cloud_id, raw_key) = path.into_inner();
    let (cloud_id, site) = user.site(&raw_cloud_id, Product::Jira).await?;
    let key = IssueKey::parse(&raw_key).ok_or(AppError::NotFound)?;
    render(&user, &urls, &settings, site, &cloud_id, &key, None).await
}
