//! A small, lenient JQL subset: `AND`-joined clauses on `assignee`, `resolution`,
//! `project`, `statusCategory` and `key`, text search (`text ~ "words"`, `summary ~ "words"`),
//! plus `ORDER BY`. Enough for what the app sends; anything else is a 400 with Jira's message
//! shape, never a guess. Quoted strings take Jira's escapes (`\"`, `\'`, `\\`, `\n`, `\t`,
//! `\r`, `\uXXXX`); any other backslash, a raw control character or an unclosed quote is an error,
//! so a query that mixed user text into JQL without escaping it fails here as it would in Jira.

use std::cmp::Ordering;

use super::seed::{Issue, SeedUser};

/// Jira's answer to a query without any restriction.
pub(crate) const UNBOUNDED: &str =
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.";

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Func(String),
    Eq,
    Ne,
    Tilde,
    Comma,
}

#[derive(Debug)]
enum Cond {
    /// `assignee = currentUser()` (`None` = `assignee is EMPTY`, `Some(id)` = that account).
    Assignee(Option<Target>, bool),
    /// `resolution = Unresolved` / `is EMPTY` (true) or `is not EMPTY` (false).
    Unresolved(bool),
    Project(String, bool),
    StatusCategory(String, bool),
    Key(String, bool),
    /// `text ~ "words"` (summary and description) or `summary ~ "words"`: every word appears.
    Text {
        words: Vec<String>,
        summary_only: bool,
    },
}

#[derive(Debug)]
enum Target {
    CurrentUser,
    Account(String),
}

#[derive(Debug, Clone, Copy)]
enum SortField {
    Updated,
    Created,
    Key,
    Priority,
}

/// A parsed query: every condition must hold; results sorted by `order`.
#[derive(Debug)]
pub(crate) struct Query {
    conds: Vec<Cond>,
    order: Vec<(SortField, bool)>,
}

fn reserved(c: char, at: usize) -> String {
    format!(
        "Error in the JQL Query: The character '{c}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u{:04x}' instead. (line 1, character {})",
        c as u32,
        at + 1
    )
}

fn tokenize(jql: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = jql.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '=' | ',' | '~' => {
                toks.push(match c {
                    '=' => Tok::Eq,
                    '~' => Tok::Tilde,
                    _ => Tok::Comma,
                });
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Ne);
                i += 2;
            }
            '"' | '\'' => {
                let (text, next) = quoted(&chars, i)?;
                toks.push(Tok::Str(text));
                i = next;
            }
            _ if c.is_alphanumeric() || "_-.:".contains(c) => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_-.:".contains(chars[i])) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(i) == Some(&'(') && chars.get(i + 1) == Some(&')') {
                    toks.push(Tok::Func(word));
                    i += 2;
                } else {
                    toks.push(Tok::Word(word));
                }
            }
            _ => return Err(reserved(c, i)),
        }
    }
    Ok(toks)
}

/// The string whose opening quote is at `start`, unescaped, and the index after its closing quote.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(format!(
                "Error in the JQL Query: The quoted string starting at character {} is not closed.",
                start + 1
            ));
        };
        match c {
            _ if c == quote => return Ok((text, i + 1)),
            '\\' => {
                let escaped = match chars.get(i + 1) {
                    Some('"') => '"',
                    Some('\'') => '\'',
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some(' ') => ' ',
                    Some('u') => {
                        let hex: String = chars.iter().skip(i + 2).take(4).collect();
                        let code = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        match (hex.len(), code) {
                            (4, Some(code)) => {
                                text.push(code);
                                i += 6;
                                continue;
                            }
                            _ => return Err(illegal_escape(i)),
                        }
                    }
                    _ => return Err(illegal_escape(i)),
                };
                text.push(escaped);
                i += 2;
            }
            _ if c.is_control() => {
                return Err(format!(
                    "Error in the JQL Query: The character '\\u{:04x}' is not allowed in a string. (line 1, character {})",
                    c as u32,
                    i + 1
                ));
            }
            _ => {
                text.push(c);
                i += 1;
            }
        }
    }
}

fn illegal_escape(at: usize) -> String {
    format!(
        "Error in the JQL Query: '\\' is an illegal JQL escape sequence. The valid escape sequences are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX. (line 1, character {})",
        at + 1
    )
}

/// The lower-case words of `text`, as a text search compares them.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn show(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => w.clone(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Func(f) => format!("{f}()"),
        Tok::Eq => "=".to_owned(),
        Tok::Ne => "!=".to_owned(),
        Tok::Tilde => "~".to_owned(),
        Tok::Comma => ",".to_owned(),
    }
}

fn is_kw(tok: Option<&Tok>, kw: &str) -> bool {
    matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn unsupported(what: &str) -> String {
    format!(
        "Error in the JQL Query: the emulator cannot evaluate '{what}'. Supported: assignee, resolution, project, statusCategory, key joined by AND, and ORDER BY."
    )
}

/// Parses `jql`; `Err` carries the message for Jira's `errorMessages`.
pub(crate) fn parse(jql: &str) -> Result<Query, String> {
    let toks = tokenize(jql)?;
    let mut pos = 0;
    let mut conds = Vec::new();
    while pos < toks.len() && !is_kw(toks.get(pos), "order") {
        if !conds.is_empty() {
            if !is_kw(toks.get(pos), "and") {
                return Err(unsupported(&show(&toks[pos])));
            }
            pos += 1;
        }
        let Some(Tok::Word(field)) = toks.get(pos) else {
            return Err("Error in the JQL Query: Expecting a field name.".to_owned());
        };
        let field = field.to_ascii_lowercase();
        pos += 1;
        if toks.get(pos) == Some(&Tok::Tilde) {
            let Some(Tok::Str(value)) = toks.get(pos + 1) else {
                return Err(format!("Error in the JQL Query: Expecting a quoted string after '{field} ~'."));
            };
            let summary_only = match field.as_str() {
                "text" => false,
                "summary" => true,
                _ => return Err(unsupported(&format!("{field} ~"))),
            };
            conds.push(Cond::Text { words: words(value), summary_only });
            pos += 2;
            continue;
        }
        let (eq, empty_test) = match toks.get(pos) {
            Some(Tok::Eq) => (true, false),
            Some(Tok::Ne) => (false, false),
            _ if is_kw(toks.get(pos), "is") && is_kw(toks.get(pos + 1), "not") => {
                pos += 1;
                (false, true)
            }
            _ if is_kw(toks.get(pos), "is") => (true, true),
            _ => {
                return Err(format!("Error in the JQL Query: Expecting operator after '{field}'."));
            }
        };
        pos += 1;
        let value = match toks.get(pos) {
            Some(Tok::Word(w) | Tok::Str(w)) => w.clone(),
            Some(Tok::Func(f)) => format!("{f}()"),
            _ => {
                return Err(format!("Error in the JQL Query: Expecting a value after '{field}'."));
            }
        };
        pos += 1;
        let empty = value.eq_ignore_ascii_case("empty") || value.eq_ignore_ascii_case("null");
        if empty_test != empty {
            return Err(format!("Error in the JQL Query: 'is' only compares with EMPTY (near '{field}')."));
        }
        conds.push(match field.as_str() {
            "assignee" if empty => Cond::Assignee(None, eq),
            "assignee" if value.eq_ignore_ascii_case("currentuser()") => Cond::Assignee(Some(Target::CurrentUser), eq),
            "assignee" => Cond::Assignee(Some(Target::Account(value)), eq),
            "resolution" if empty || value.eq_ignore_ascii_case("unresolved") => Cond::Unresolved(eq),
            "project" => Cond::Project(value, eq),
            "statuscategory" => Cond::StatusCategory(value, eq),
            "key" | "issuekey" => Cond::Key(value, eq),
            _ => return Err(unsupported(&format!("{field} {value}"))),
        });
    }
    let order = parse_order(&toks[pos..])?;
    if conds.is_empty() {
        return Err(UNBOUNDED.to_owned());
    }
    Ok(Query { conds, order })
}

fn parse_order(toks: &[Tok]) -> Result<Vec<(SortField, bool)>, String> {
    if toks.is_empty() {
        // Jira's default order when none is given.
        return Ok(vec![(SortField::Key, true)]);
    }
    if !is_kw(toks.get(1), "by") {
        return Err("Error in the JQL Query: Expecting 'BY' after 'ORDER'.".to_owned());
    }
    let mut order = Vec::new();
    for part in toks[2..].split(|t| *t == Tok::Comma) {
        let (field, desc) = match part {
            [Tok::Word(f)] => (f, false),
            [Tok::Word(f), Tok::Word(dir)] if dir.eq_ignore_ascii_case("asc") => (f, false),
            [Tok::Word(f), Tok::Word(dir)] if dir.eq_ignore_ascii_case("desc") => (f, true),
            _ => return Err("Error in the JQL Query: Expecting a field and ASC or DESC after 'ORDER BY'.".to_owned()),
        };
        let field = match field.to_ascii_lowercase().as_str() {
            "updated" | "updateddate" => SortField::Updated,
            "created" | "createddate" => SortField::Created,
            "key" | "issuekey" | "id" => SortField::Key,
            "priority" => SortField::Priority,
            other => return Err(unsupported(&format!("ORDER BY {other}"))),
        };
        order.push((field, desc));
    }
    Ok(order)
}

impl Query {
    /// Whether `issue` satisfies every condition for `me`.
    pub(crate) fn matches(&self, issue: &Issue, me: &SeedUser) -> bool {
        self.conds.iter().all(|cond| match cond {
            Cond::Assignee(target, eq) => {
                let hit = match (target, issue.assignee) {
                    (None, assignee) => assignee.is_none(),
                    (Some(_), None) => false,
                    (Some(Target::CurrentUser), Some(login)) => login == me.login,
                    (Some(Target::Account(id)), Some(login)) => {
                        super::seed::user(login).is_some_and(|u| u.account_id == id)
                    }
                };
                hit == *eq
            }
            Cond::Unresolved(eq) => issue.resolved() != *eq,
            Cond::Project(key, eq) => {
                let hit = issue.project.key.eq_ignore_ascii_case(key) || issue.project.id == key;
                hit == *eq
            }
            Cond::StatusCategory(cat, eq) => {
                let hit = issue.status.category_name.eq_ignore_ascii_case(cat)
                    || issue.status.category_key.eq_ignore_ascii_case(cat);
                hit == *eq
            }
            Cond::Key(key, eq) => issue.key.eq_ignore_ascii_case(key) == *eq,
            Cond::Text { words: wanted, summary_only } => {
                let mut haystack = words(&issue.summary);
                if !summary_only && let Some(description) = &issue.description {
                    adf_words(description, &mut haystack);
                }
                !wanted.is_empty() && wanted.iter().all(|w| haystack.iter().any(|h| h.starts_with(w.as_str())))
            }
        })
    }

    /// Whether the query searches text (Jira then orders by relevance; the emulator keeps its order).
    #[cfg(test)]
    fn searches_text(&self) -> bool {
        self.conds.iter().any(|c| matches!(c, Cond::Text { .. }))
    }

    /// Orders two issues as the query's `ORDER BY` asks, ties broken by id.
    pub(crate) fn compare(&self, a: &Issue, b: &Issue) -> Ordering {
        for (field, desc) in &self.order {
            let ord = match field {
                SortField::Updated => a.updated.cmp(&b.updated),
                SortField::Created => a.created.cmp(&b.created),
                SortField::Key => a.id.cmp(&b.id),
                // Priority ids run from Highest (1) down, so higher priority sorts first when DESC.
                SortField::Priority => b.priority.1.cmp(a.priority.1),
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    }
}

/// Appends the words of every text node of an ADF document.
pub(crate) fn adf_words(node: &serde_json::Value, out: &mut Vec<String>) {
    if let Some(text) = node.get("text").and_then(serde_json::Value::as_str) {
        out.extend(words(text));
    }
    if let Some(children) = node.get("content").and_then(serde_json::Value::as_array) {
        for child in children {
            adf_words(child, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_query_parses_and_sloppy_spacing_is_accepted() {
        assert!(parse("assignee = currentUser() AND resolution = Unresolved ORDER BY updated DESC").is_ok());
        assert!(parse("assignee=currentUser() and resolution is EMPTY order by updated desc, key asc").is_ok());
    }

    #[test]
    fn empty_or_order_only_queries_are_unbounded() {
        assert_eq!(parse("").unwrap_err(), UNBOUNDED);
        assert_eq!(parse("  ORDER BY updated DESC").unwrap_err(), UNBOUNDED);
    }

    #[test]
    fn garbage_and_unsupported_clauses_are_errors() {
        assert!(parse("assignee = currentUser() OR project = ACME").is_err());
        assert!(parse("summary ! \"x\"").unwrap_err().contains("reserved JQL character"));
        assert!(parse("status = Open").is_err());
        assert!(parse("project = \"ACME").is_err());
        assert!(parse("project = ACME ORDER updated").is_err());
    }

    #[test]
    fn text_search_takes_escaped_strings_and_refuses_broken_ones() {
        let query = parse(r#"text ~ "say \"hi\" \\ now" ORDER BY updated DESC"#).unwrap();
        assert!(query.searches_text());
        assert!(parse(r#"text ~ "a" b""#).is_err(), "a stray quote ends the string early");
        assert!(parse(r#"text ~ "a\q""#).unwrap_err().contains("illegal JQL escape"));
        assert!(parse("text ~ \"line\nbreak\"").unwrap_err().contains("not allowed in a string"));
        assert!(parse(r#"text ~ "unclosed\""#).unwrap_err().contains("not closed"));
        assert!(parse(r#"labels ~ "x""#).is_err());
    }
}
