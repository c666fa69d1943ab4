//! Atlassian Document Format (the JSON rich text of Jira v3) to HTML, rendered by hand so that
//! every tag and attribute in the output is one we chose. Text is escaped; the only attribute
//! values taken from the document (heading level, list start, code language, link target) are
//! checked against a closed set first; and a node we do not know shows its text, never its markup.
//!
//! A hostile document cannot exhaust the stack or memory: past `MAX_DEPTH` a subtree is flattened
//! to text by an iterative walk, and output stops near `MAX_OUTPUT` bytes with every open tag closed.
//! Decoding (`adf_json_to_html`) is bounded too: nesting past `MAX_JSON_DEPTH` is not decoded at
//! all, and below it the decoder's recursion runs on a stack grown on the heap.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// Nesting past this renders as plain text. Real descriptions stay far below it, and Jira's own
/// editor refuses lists nested more than a few levels.
const MAX_DEPTH: usize = 64;
/// Upper bound on the returned HTML, closing tags included.
const MAX_OUTPUT: usize = 1 << 20;
/// Room kept for closing tags once the cap is hit: at most 16 bytes (`</tbody></table>`) for
/// each open level, plus the closing tags of one text node's marks.
const CLOSE_RESERVE: usize = MAX_DEPTH * 16 + 64;

/// JSON nesting past this is not decoded: the description shows a notice instead. Far beyond any
/// real document (the renderer flattens past `MAX_DEPTH`, about 128 JSON levels, anyway), and it
/// bounds what decoding one description may take: one heap-grown stack frame chain per level.
const MAX_JSON_DEPTH: usize = 2_000;
/// What a description nested past `MAX_JSON_DEPTH` shows.
const TOO_DEEP: &str = "<p>(This description is nested too deeply to show.)</p>";

/// Decodes a Jira v3 rich-text field from its JSON text and renders it as [`adf_to_html`] does.
/// Any nesting depth is safe: serde_json's recursion limit (128, which a description of 31 nested
/// lists already exceeds) is lifted, the decoder's recursion grows its stack on the heap
/// (`serde_stacker`) instead of overflowing a worker's, and the decoded tree is freed without
/// recursion. JSON that does not decode renders as nothing.
pub fn adf_json_to_html(json: &str) -> String {
    if nesting_depth(json, MAX_JSON_DEPTH) > MAX_JSON_DEPTH {
        return TOO_DEEP.to_owned();
    }
    let mut de = serde_json::Deserializer::from_str(json);
    de.disable_recursion_limit();
    let Ok(doc) = Value::deserialize(serde_stacker::Deserializer::new(&mut de)) else {
        return String::new();
    };
    let html = adf_to_html(&doc);
    drop_without_recursion(doc);
    html
}

/// The deepest nesting of arrays and objects in `json`, counting no further than just past
/// `limit`. One pass, no recursion; strings (with their escapes) are skipped, so brackets inside
/// text do not count. Meant for JSON already known to be valid.
fn nesting_depth(json: &str, limit: usize) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Frees a decoded document level by level: `Value`'s own drop recurses once per level.
fn drop_without_recursion(doc: Value) {
    let mut pending = vec![doc];
    while let Some(mut value) = pending.pop() {
        match &mut value {
            Value::Array(items) => pending.append(items),
            Value::Object(map) => pending.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Renders a Jira v3 rich-text field to HTML that can go into a page without further escaping.
///
/// `doc` is normally `{"type":"doc","version":1,"content":[…]}`. A bare string (what Jira v2
/// and some custom fields return) renders as escaped text; `null` and other garbage render as
/// little as can be made sense of. Never panics. Put the result inside a block container such
/// as a `<div>`: it is a sequence of block elements.
pub fn adf_to_html(doc: &Value) -> String {
    let mut html = Html::default();
    match doc {
        Value::String(s) => html.text(s),
        Value::Object(_) => html.node(doc, Parent::Flow, 0),
        _ => {}
    }
    html.out
}

/// What the enclosing element accepts. `<li>`, `<tr>` and `<td>` are only emitted inside the list,
/// table or row we opened ourselves: a stray one would make the browser close an element of the
/// surrounding page (a `<td>` ends the page's table cell) and pull our content out of its box.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parent {
    Flow,
    List,
    Table,
    Row,
}

/// The output buffer and its size cap.
#[derive(Default)]
struct Html {
    out: String,
    /// Set once the cap is reached: nothing more is opened or written, only closed.
    full: bool,
}

impl Html {
    fn node(&mut self, node: &Value, parent: Parent, depth: usize) {
        if self.full {
            return;
        }
        if depth >= MAX_DEPTH {
            return self.plain(node);
        }
        let attr = |key: &str| node.get("attrs").and_then(|a| a.get(key));
        match node_type(node) {
            "doc" => self.children(node, Parent::Flow, depth),
            "paragraph" => self.wrap("<p>", "</p>", node, Parent::Flow, depth),
            "heading" => {
                let (open, close) = heading_tags(attr("level"));
                self.wrap(open, close, node, Parent::Flow, depth);
            }
            "bulletList" => self.wrap("<ul>", "</ul>", node, Parent::List, depth),
            "orderedList" => match attr("order").and_then(Value::as_u64).filter(|&n| n > 0) {
                Some(n) => self.wrap(&format!("<ol start=\"{n}\">"), "</ol>", node, Parent::List, depth),
                None => self.wrap("<ol>", "</ol>", node, Parent::List, depth),
            },
            "listItem" if parent == Parent::List => self.wrap("<li>", "</li>", node, Parent::Flow, depth),
            "table" => self.wrap("<table><tbody>", "</tbody></table>", node, Parent::Table, depth),
            "tableRow" if parent == Parent::Table => self.wrap("<tr>", "</tr>", node, Parent::Row, depth),
            "tableHeader" if parent == Parent::Row => self.wrap("<th>", "</th>", node, Parent::Flow, depth),
            "tableCell" if parent == Parent::Row => self.wrap("<td>", "</td>", node, Parent::Flow, depth),
            // Out of place: keep the content, drop the element (see `Parent`).
            "listItem" | "tableRow" | "tableHeader" | "tableCell" => self.children(node, Parent::Flow, depth),
            "blockquote" => self.wrap("<blockquote>", "</blockquote>", node, Parent::Flow, depth),
            // panelType picks a colour and icon in Jira; a plain box is enough and needs no attribute.
            "panel" => self.wrap("<div class=\"panel\">", "</div>", node, Parent::Flow, depth),
            "codeBlock" => {
                let open = match attr("language").and_then(Value::as_str).filter(|l| is_language(l)) {
                    Some(lang) => Cow::Owned(format!("<pre><code class=\"language-{lang}\">")),
                    None => Cow::Borrowed("<pre><code>"),
                };
                if self.open(&open) {
                    // Code is text only: marks and nested nodes are not allowed in it by the schema.
                    content(node).iter().for_each(|child| self.plain(child));
                    self.close("</code></pre>");
                }
            }
            "rule" => {
                self.open("<hr>");
            }
            "hardBreak" => {
                self.open("<br>");
            }
            "text" => self.text_node(node),
            "mention" => {
                let label = match (attr("text").and_then(Value::as_str), attr("id").and_then(Value::as_str)) {
                    (Some(text), _) if text.starts_with('@') => text.to_owned(),
                    (Some(text), _) if !text.is_empty() => format!("@{text}"),
                    (_, Some(id)) => format!("@{id}"),
                    _ => "@".to_owned(),
                };
                if self.open("<span class=\"mention\">") {
                    self.text(&label);
                    self.close("</span>");
                }
            }
            "emoji" => {
                if let Some(s) = attr("text").or_else(|| attr("shortName")).and_then(Value::as_str) {
                    self.text(s);
                }
            }
            // media*, inlineCard, status, date, extensions and whatever Atlassian adds next.
            _ => self.plain(node),
        }
    }

    fn wrap(&mut self, open: &str, close: &'static str, node: &Value, inner: Parent, depth: usize) {
        if self.open(open) {
            self.children(node, inner, depth);
            self.close(close);
        }
    }

    fn children(&mut self, node: &Value, inner: Parent, depth: usize) {
        for child in content(node) {
            if self.full {
                break;
            }
            self.node(child, inner, depth + 1);
        }
    }

    /// A text node with its marks. Each kind of mark applies once at most, so a node with
    /// thousands of marks costs no more than one with seven, and links never nest.
    fn text_node(&mut self, node: &Value) {
        let Some(text) = node.get("text").and_then(Value::as_str) else {
            return;
        };
        let mut marks: Vec<(Cow<'static, str>, &'static str)> = Vec::new();
        for mark in node.get("marks").and_then(Value::as_array).into_iter().flatten() {
            if let Some(tags) = mark_tags(mark).filter(|(_, close)| marks.iter().all(|(_, c)| c != close)) {
                marks.push(tags);
            }
        }
        let mut opened = Vec::with_capacity(marks.len());
        for (open, close) in &marks {
            if !self.open(open) {
                break;
            }
            opened.push(*close);
        }
        if opened.len() == marks.len() {
            self.text(text);
        }
        opened.iter().rev().for_each(|close| self.close(close));
    }

    /// Appends the text of `node` and everything under it, escaped, with no markup at all.
    /// Iterative on purpose: this is how subtrees of any depth are shown.
    fn plain(&mut self, node: &Value) {
        enum Step<'a> {
            Node(&'a Value),
            /// End of a block: the next text, if any, goes on a new line.
            Break,
        }
        let start = self.out.len();
        let mut new_line = false;
        let mut stack = vec![Step::Node(node)];
        while let Some(step) = stack.pop() {
            let node = match step {
                Step::Node(node) => node,
                Step::Break => {
                    new_line |= self.out.len() > start && !self.out.ends_with('\n');
                    continue;
                }
            };
            let attr = |key: &str| node.get("attrs").and_then(|a| a.get(key));
            let piece = match node_type(node) {
                "text" => node.get("text").and_then(Value::as_str).map(Cow::Borrowed),
                "hardBreak" => Some(Cow::Borrowed("\n")),
                "date" => date(attr("timestamp")).map(Cow::Owned),
                _ if !content(node).is_empty() => {
                    stack.push(Step::Break);
                    stack.extend(content(node).iter().rev().map(Step::Node));
                    None
                }
                _ => attr("text").or_else(|| attr("url")).and_then(Value::as_str).map(Cow::Borrowed),
            };
            if let Some(piece) = piece.filter(|p| !p.is_empty()) {
                if std::mem::take(&mut new_line) {
                    self.text("\n");
                }
                self.text(&piece);
            }
            if self.full {
                return;
            }
        }
    }

    /// Appends an opening (or void) tag if it fits under the cap; `false` means it was not
    /// written and must not be closed.
    fn open(&mut self, tag: &str) -> bool {
        if self.full || self.out.len() + tag.len() > MAX_OUTPUT - CLOSE_RESERVE {
            self.full = true;
            return false;
        }
        self.out.push_str(tag);
        true
    }

    /// Closing tags are always written, so a truncated document is still well-formed;
    /// `CLOSE_RESERVE` keeps room for them.
    fn close(&mut self, tag: &str) {
        self.out.push_str(tag);
    }

    /// Appends HTML-escaped text, cut at a character boundary when the cap is reached.
    fn text(&mut self, text: &str) {
        let mut buf = [0u8; 4];
        for c in text.chars() {
            let piece = escape_char(c, &mut buf);
            if self.full || self.out.len() + piece.len() > MAX_OUTPUT - CLOSE_RESERVE {
                self.full = true;
                return;
            }
            self.out.push_str(piece);
        }
    }
}

fn node_type(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or_default()
}

fn content(node: &Value) -> &[Value] {
    node.get("content").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// Levels 1 to 6 as such, larger integers clamped to 6, anything else a paragraph.
fn heading_tags(level: Option<&Value>) -> (&'static str, &'static str) {
    match level.and_then(Value::as_u64) {
        Some(1) => ("<h1>", "</h1>"),
        Some(2) => ("<h2>", "</h2>"),
        Some(3) => ("<h3>", "</h3>"),
        Some(4) => ("<h4>", "</h4>"),
        Some(5) => ("<h5>", "</h5>"),
        Some(n) if n >= 6 => ("<h6>", "</h6>"),
        _ => ("<p>", "</p>"),
    }
}

/// A code language we are willing to put into a class name: `[A-Za-z0-9_+-]{1,32}`.
fn is_language(lang: &str) -> bool {
    (1..=32).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
}

/// Opening and closing tag for a mark, or `None` for marks that add nothing (textColor and
/// backgroundColor would need a `style` attribute, which untrusted input never gets).
fn mark_tags(mark: &Value) -> Option<(Cow<'static, str>, &'static str)> {
    let attr = |key: &str| mark.get("attrs").and_then(|a| a.get(key)).and_then(Value::as_str);
    let tags = match mark.get("type")?.as_str()? {
        "strong" => ("<strong>", "</strong>"),
        "em" => ("<em>", "</em>"),
        "code" => ("<code>", "</code>"),
        "strike" => ("<s>", "</s>"),
        "underline" => ("<u>", "</u>"),
        "subsup" if attr("type") == Some("sub") => ("<sub>", "</sub>"),
        "subsup" if attr("type") == Some("sup") => ("<sup>", "</sup>"),
        "link" => {
            let href = safe_href(attr("href")?)?;
            let mut open = String::from("<a href=\"");
            escape_into(&mut open, &href);
            open.push_str("\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
            return Some((Cow::Owned(open), "</a>"));
        }
        _ => return None,
    };
    Some((Cow::Borrowed(tags.0), tags.1))
}

/// The normalised form of an absolute `http:`, `https:` or `mailto:` URL, or `None`.
///
/// Whitespace and control characters are refused outright rather than left to the URL parser,
/// which strips some of them (`java\tscript:` parses as `javascript:`). Relative and
/// protocol-relative URLs fail to parse without a base and are refused with everything else.
fn safe_href(raw: &str) -> Option<String> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    matches!(url.scheme(), "http" | "https" | "mailto").then(|| url.into())
}

/// An ADF date (milliseconds since the epoch, as a string or a number) as `YYYY-MM-DD`.
fn date(timestamp: Option<&Value>) -> Option<String> {
    let millis = match timestamp? {
        Value::String(s) => s.parse::<i64>().ok()?,
        other => other.as_i64()?,
    };
    let at = time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000)).ok()?;
    Some(at.date().to_string())
}

/// Escapes text for a double-quoted attribute value (or element content).
fn escape_into(out: &mut String, s: &str) {
    let mut buf = [0u8; 4];
    s.chars().for_each(|c| out.push_str(escape_char(c, &mut buf)));
}

/// One character as it may appear in element content or a quoted attribute value.
fn escape_char(c: char, buf: &mut [u8; 4]) -> &str {
    match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&#39;",
        _ => c.encode_utf8(buf),
    }
}

#[cfg(test)]
#[path = "adf_tests.rs"]
mod tests;
