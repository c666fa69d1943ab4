//! Confluence storage format (XHTML plus `ac:`/`ri:` macro elements) made safe to show.
//!
//! ammonia does the work, with an allow-list of plain document tags and almost no attributes:
//! no `style`, no `class`, no event handlers, and URLs only with `http`, `https` or `mailto`.
//! Macro elements are not on the list, so their tags go and their text stays, which shows the
//! body of panels, notes and code blocks without running or styling anything.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};

/// Elements kept (without attributes unless `ATTRIBUTES` lists some).
#[rustfmt::skip]
const TAGS: &[&str] = &[
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "br", "hr", "div", "span",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "a", "img", "strong", "em", "b", "i", "u", "s",
];

/// The only attributes that survive. URL attributes (`href`, `src`) are further held to `SCHEMES`.
/// `colspan`/`rowspan` keep Confluence tables readable; browsers clamp silly values.
const ATTRIBUTES: &[(&str, &[&str])] =
    &[("a", &["href"]), ("img", &["src", "alt"]), ("th", &["colspan", "rowspan"]), ("td", &["colspan", "rowspan"])];

const SCHEMES: &[&str] = &["http", "https", "mailto"];

/// Elements removed together with everything inside them. Scripts and styles for safety (their
/// text would otherwise show as page content); embedded documents and form controls because their
/// text is not meant to be read; macro parameters and task metadata because they are settings
/// (`yaml`, `incomplete`) that would read as stray words in the page.
#[rustfmt::skip]
const DROP_WITH_CONTENT: &[&str] = &[
    "script", "style", "svg", "math", "iframe", "frame", "object", "embed",
    "noscript", "noembed", "noframes", "template", "textarea", "select", "title", "xmp",
    "ac:parameter", "ac:placeholder", "ac:task-id", "ac:task-status",
];

/// Built once: the allow-list never changes at run time.
static CLEANER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let attributes: HashMap<&str, HashSet<&str>> =
        ATTRIBUTES.iter().map(|(tag, attrs)| (*tag, attrs.iter().copied().collect())).collect();
    let mut builder = Builder::empty();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROP_WITH_CONTENT.iter().copied().collect())
        .tag_attributes(attributes)
        .generic_attributes(HashSet::new())
        .url_schemes(SCHEMES.iter().copied().collect())
        // A relative link would resolve against threelo, not Confluence: it could only mislead.
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true)
        // A code block wider than the page scrolls; tabindex lets a keyboard scroll it too.
        .set_tag_attribute_value("pre", "tabindex", "0");
    builder
});

/// Nesting deeper than this is shown as text. html5ever walks the stack of open elements on
/// many start tags, so parse time grows with the square of the depth: 80,000 nested `<div>`s
/// (720 KB) take 20 s of CPU in a release build. Real pages stay within a few dozen levels.
const MAX_NESTING: usize = 256;

/// Formatting elements: when an enclosing end tag closes them implicitly, the HTML parser reopens
/// them at the next text, so for depth they count as still open.
const FORMATTING: &[&str] =
    &["a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"];

/// Elements that never have content, so never add depth.
const VOID: &[&str] =
    &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];

/// Sanitises a Confluence page body in storage format (`body-format=storage`) into HTML that can
/// go into a page without further escaping. Put the result inside a `<div>`.
///
/// A body nested deeper than any real page comes back as one paragraph of its text.
pub fn sanitize_storage(html: &str) -> String {
    let html = prepare(html);
    if nesting_exceeds(&html, MAX_NESTING) {
        return text_only(&html);
    }
    CLEANER.clean(&html).to_string()
}

/// Whether the elements in `html` may nest deeper than `limit`, estimated in one pass without
/// building a tree: start tags push, end tags pop back to their match (an end tag with no match
/// is ignored, as the parser ignores it). Errs on the deep side; the stack never exceeds `limit`,
/// so the pass stays linear in the input.
fn nesting_exceeds(html: &str, limit: usize) -> bool {
    let is = |set: &[&str], name: &str| set.iter().any(|s| s.eq_ignore_ascii_case(name));
    let mut open: Vec<&str> = Vec::new();
    for tag in html.split('<').skip(1) {
        let (closing, tag) = tag.strip_prefix('/').map_or((false, tag), |t| (true, t));
        let len = tag.find(|c: char| !(c.is_ascii_alphanumeric() || ":-_".contains(c))).unwrap_or(tag.len());
        let name = &tag[..len];
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        if !closing {
            if !is(VOID, name) {
                open.push(name);
                if open.len() > limit {
                    return true;
                }
            }
        } else if let Some(at) = open.iter().rposition(|n| n.eq_ignore_ascii_case(name)) {
            let mut kept = at;
            for i in at + 1..open.len() {
                if is(FORMATTING, open[i]) {
                    open[kept] = open[i];
                    kept += 1;
                }
            }
            open.truncate(kept);
        }
    }
    false
}

/// The text of `html` with every tag removed, fully escaped: the fallback for markup too deep
/// to parse cheaply. Crude on purpose, and safe for the same reason: nothing in it is markup.
fn text_only(html: &str) -> String {
    let mut text = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    format!("<p>{}</p>", ammonia::clean_text(&text))
}

/// Macro elements that have a plain HTML equivalent, renamed before cleaning so that code keeps
/// its line breaks and task lists stay lists. Only the bare tags Confluence writes are matched;
/// anything else is left to ammonia, which drops the tag and keeps the text.
const RENAMES: &[(&str, &str)] = &[
    ("<ac:plain-text-body>", "<pre>"),
    ("</ac:plain-text-body>", "</pre>"),
    ("<ac:task-list>", "<ul>"),
    ("</ac:task-list>", "</ul>"),
    ("<ac:task>", "<li>"),
    ("</ac:task>", "</li>"),
];

/// Rewrites storage-format constructs an HTML parser would mangle. `<![CDATA[…]]>` (how code
/// macro bodies are stored) becomes escaped text: HTML reads it as a comment, which would be
/// stripped and take the code with it. Then `RENAMES` applies.
///
/// Safe by construction: ammonia cleans the result, so whatever this produces is held to the
/// same allow-list as the original input.
fn prepare(html: &str) -> Cow<'_, str> {
    const OPEN: &str = "<![CDATA[";
    if !html.contains(OPEN) && !html.contains("<ac:") {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut rest = html;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let body = &rest[start + OPEN.len()..];
        // An unterminated section runs to the end, as in XML.
        let (text, tail) = body.split_once("]]>").unwrap_or((body, ""));
        out.push_str(&ammonia::clean_text(text));
        rest = tail;
    }
    out.push_str(rest);
    for (from, to) in RENAMES {
        if out.contains(from) {
            out = out.replace(from, to);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
