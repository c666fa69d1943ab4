//! Confluence's v1 search, `GET /ex/confluence/{cloudId}/wiki/rest/api/search?cql=…` (scope
//! `search:confluence`), over the seed pages of the site. A small CQL subset: `AND`-joined
//! `text ~ "…"`, `siteSearch ~ "…"`, `title ~ "…"`, `type = page|blogpost` and `space = KEY`.
//! Strings take `\"` and `\\` escapes (and `\'`); any other backslash, a raw control character or
//! an unclosed quote is a 400, so text pasted into CQL unescaped fails as it would in Confluence.
//! Paging: `limit` (default 25, at most 100) and the opaque `cursor` of `_links.next`.

use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::api::authenticate;
use super::http::{ApiError, Params, decode_cursor, encode_cursor};
use super::jql::words;
use super::scopes::Product;
use super::seed_wiki::{PAGES, Page, SPACES};
use super::state::State;

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Eq,
    Tilde,
}

#[derive(Debug)]
enum Cond {
    /// Words in the title (`title ~`) or in title and body (`text ~`, `siteSearch ~`).
    Text {
        words: Vec<String>,
        title_only: bool,
    },
    Type(String),
    Space(String),
}

fn bad(message: impl Into<String>) -> ApiError {
    // v1's error body differs from v2's; the status and message are what clients read.
    ApiError::Confluence(StatusCode::BAD_REQUEST, "BAD_REQUEST", message.into())
}

fn tokenize(cql: &str) -> Result<Vec<Tok>, ApiError> {
    let chars: Vec<char> = cql.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '=' => {
                toks.push(Tok::Eq);
                i += 1;
            }
            '~' => {
                toks.push(Tok::Tilde);
                i += 1;
            }
            '"' | '\'' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(bad(format!("Could not parse cql : {cql} (unclosed string)"))),
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some('\\') => match chars.get(i + 1) {
                            Some(&e @ ('"' | '\'' | '\\')) => {
                                text.push(e);
                                i += 2;
                            }
                            _ => return Err(bad(format!("Could not parse cql : {cql} (illegal escape)"))),
                        },
                        Some(ch) if ch.is_control() => {
                            return Err(bad(format!("Could not parse cql : {cql} (control character in a string)")));
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                toks.push(Tok::Str(text));
            }
            _ if c.is_alphanumeric() || "_-.".contains(c) => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_-.".contains(chars[i])) {
                    i += 1;
                }
                toks.push(Tok::Word(chars[start..i].iter().collect()));
            }
            _ => return Err(bad(format!("Could not parse cql : {cql} (unexpected '{c}')"))),
        }
    }
    Ok(toks)
}

fn parse(cql: &str) -> Result<Vec<Cond>, ApiError> {
    let toks = tokenize(cql)?;
    let mut conds = Vec::new();
    let mut rest = toks.as_slice();
    while !rest.is_empty() {
        if !conds.is_empty() {
            match rest {
                [Tok::Word(and), tail @ ..] if and.eq_ignore_ascii_case("and") => rest = tail,
                _ => {
                    return Err(bad(format!("Could not parse cql : {cql} (the emulator joins clauses with AND only)")));
                }
            }
        }
        let (cond, tail) = match rest {
            [Tok::Word(field), Tok::Tilde, Tok::Str(value), tail @ ..] => {
                let title_only = match field.as_str() {
                    "text" | "siteSearch" => false,
                    "title" => true,
                    other => return Err(bad(format!("Could not parse cql : {cql} ('{other}' does not support ~)"))),
                };
                (Cond::Text { words: words(value), title_only }, tail)
            }
            [Tok::Word(field), Tok::Eq, Tok::Word(value) | Tok::Str(value), tail @ ..] => match field.as_str() {
                "type" => (Cond::Type(value.to_ascii_lowercase()), tail),
                "space" => (Cond::Space(value.clone()), tail),
                other => return Err(bad(format!("Could not parse cql : {cql} (unsupported field '{other}')"))),
            },
            _ => return Err(bad(format!("Could not parse cql : {cql}"))),
        };
        conds.push(cond);
        rest = tail;
    }
    if conds.is_empty() {
        return Err(bad("CQL was not provided"));
    }
    Ok(conds)
}

/// The text of a storage-format body: tags dropped, entities left as they are.
fn plain_text(storage: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in storage.replace("<![CDATA[", " ").replace("]]>", " ").chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn space_key(page: &Page) -> &'static str {
    SPACES.iter().find(|s| s.id == page.space_id).map_or("", |s| s.key)
}

fn matches(conds: &[Cond], page: &Page) -> bool {
    conds.iter().all(|cond| match cond {
        Cond::Text { words: wanted, title_only } => {
            let mut haystack = words(page.title);
            if !title_only {
                haystack.extend(words(&plain_text(page.body)));
            }
            !wanted.is_empty() && wanted.iter().all(|w| haystack.iter().any(|h| h.starts_with(w.as_str())))
        }
        Cond::Type(kind) => kind == "page",
        Cond::Space(key) => space_key(page).eq_ignore_ascii_case(key),
    })
}

/// An excerpt of the body as Confluence gives it: plain text with the first hit between
/// `@@@hl@@@` and `@@@endhl@@@`.
fn excerpt(conds: &[Cond], page: &Page) -> String {
    let text: String = plain_text(page.body).chars().take(200).collect();
    let first = conds.iter().find_map(|c| match c {
        Cond::Text { words, .. } => words.first().cloned(),
        _ => None,
    });
    let Some(word) = first else { return text };
    let lower = text.to_lowercase();
    match lower.find(&word) {
        // Lower-casing can change byte lengths; highlight only when the offsets agree.
        Some(at) if lower.len() == text.len() && text.is_char_boundary(at + word.len()) => {
            format!("{}@@@hl@@@{}@@@endhl@@@{}", &text[..at], &text[at..at + word.len()], &text[at + word.len()..])
        }
        _ => text,
    }
}

/// `GET wiki/rest/api/search?cql=…&limit=…&cursor=…`.
pub(crate) async fn search(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&req, &state)?;
    caller.require("search:confluence")?;
    let cloud_id = req.match_info().get("cloud_id").unwrap_or_default();
    let site = caller.site(cloud_id, Product::Confluence).ok_or_else(ApiError::wiki_not_found)?;
    let params = Params::query(&req);
    let cql = params.get("cql").unwrap_or_default().to_owned();
    let conds = parse(&cql)?;
    let limit = match params.get("limit") {
        None => 25,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n.min(100),
            _ => return Err(bad(format!("Invalid value for limit: {raw}"))),
        },
    };
    let bind = format!("cql|{}|{}|{}", site.cloud_id, caller.user.login, cql.trim());
    let start = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => decode_cursor(cursor, &bind).ok_or_else(|| bad("Invalid cursor"))?,
    };
    let spaces: Vec<&str> = SPACES.iter().filter(|s| s.site == site.name).map(|s| s.id).collect();
    let hits: Vec<&Page> =
        PAGES.iter().filter(|p| spaces.contains(&p.space_id)).filter(|p| matches(&conds, p)).collect();
    let results: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(limit)
        .map(|page| {
            let webui = format!("/spaces/{}/pages/{}", space_key(page), page.id);
            json!({
                "content": {"id": page.id, "type": "page", "status": "current", "title": page.title,
                            "_links": {"webui": webui}},
                "title": page.title,
                "excerpt": excerpt(&conds, page),
                "url": webui,
                "entityType": "content",
                "lastModified": page.created_at,
            })
        })
        .collect();
    let end = start.saturating_add(limit);
    let mut links = json!({"base": format!("{}/wiki", site.url), "context": "/wiki"});
    if let (true, Some(map)) = (end < hits.len(), links.as_object_mut()) {
        let cql_param: String = url::form_urlencoded::byte_serialize(cql.as_bytes()).collect();
        let next =
            format!("/rest/api/search?next=true&cursor={}&limit={limit}&cql={cql_param}", encode_cursor(end, &bind));
        map.insert("next".to_owned(), json!(next));
    }
    Ok(HttpResponse::Ok().json(json!({
        "results": results, "start": start, "limit": limit, "size": results.len(),
        "totalSize": hits.len(), "cqlQuery": cql, "_links": links,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cql_takes_escaped_text_and_refuses_what_was_not_escaped() {
        assert!(parse(r#"type = page AND text ~ "say \"hi\" \\ now""#).is_ok());
        assert!(parse(r#"text ~ "a" b""#).is_err());
        assert!(parse(r#"text ~ "a\q""#).is_err());
        assert!(parse("text ~ \"tab\there\"").is_err());
        assert!(parse("").is_err());
        assert!(parse(r#"text ~ "x" OR title ~ "y""#).is_err());
    }

    #[test]
    fn storage_bodies_search_as_plain_text() {
        assert_eq!(plain_text("<p>Hello <b>world</b></p><![CDATA[x]]>"), "Hello world x");
    }
}
