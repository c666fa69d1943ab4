//! What a person typed into the search box, checked once at the boundary, and the only way it
//! reaches a query language: as one quoted JQL or CQL string with `"` and `\` escaped.
//!
//! The rules, and why:
//! - Control characters (a pasted newline or tab, a NUL) become spaces and runs of whitespace
//!   collapse to one: they mean nothing to a text search, and JQL/CQL strings refuse some of them.
//! - Empty after that: [`SearchTextError::Empty`], no call to Atlassian.
//! - Longer than [`MAX_CHARS`] characters: [`SearchTextError::TooLong`], no call. Atlassian's own
//!   search boxes stop far below Jira's JQL limit, and a bound keeps one query cheap.
//! - In the query, the text sits between double quotes with `\` written `\\` and `"` written
//!   `\"`, backslashes first, so nothing the person types can end the string or add a clause.
//!   Everything else (`'`, `~`, `*`, `AND`, non-ASCII) is inert inside a quoted string.

/// The longest search text accepted, in characters.
pub const MAX_CHARS: usize = 200;

/// Why a search text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchTextError {
    Empty,
    TooLong,
}

/// Search text that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    /// Normalises and checks what was typed (see the module doc).
    pub fn parse(raw: &str) -> Result<SearchText, SearchTextError> {
        let spaced: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let text = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            Err(SearchTextError::Empty)
        } else if text.chars().count() > MAX_CHARS {
            Err(SearchTextError::TooLong)
        } else {
            Ok(SearchText(text))
        }
    }

    /// The text as normalised, to show back in the search box.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text as one quoted JQL/CQL string: `"` + escaped text + `"`.
    pub fn quoted(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 2);
        out.push('"');
        for c in self.0.chars() {
            if c == '\\' || c == '"' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }

    /// The JQL of a text search for issues, newest first.
    pub fn jql(&self) -> String {
        format!("text ~ {} ORDER BY updated DESC", self.quoted())
    }

    /// The CQL of a text search for Confluence pages.
    pub fn cql(&self) -> String {
        format!("type = page AND text ~ {}", self.quoted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(raw: &str) -> String {
        SearchText::parse(raw).unwrap().quoted()
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_backslashes_first() {
        assert_eq!(quoted("plain words"), r#""plain words""#);
        assert_eq!(quoted(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quoted(r"C:\temp"), r#""C:\\temp""#);
        // A trailing backslash must not escape the closing quote.
        assert_eq!(quoted(r"ends with \"), r#""ends with \\""#);
        assert_eq!(quoted(r#"\""#), r#""\\\"""#);
    }

    #[test]
    fn text_that_tries_to_end_the_string_stays_inside_it() {
        let jql = SearchText::parse(r#"x" OR project = SECRET OR text ~ "y"#).unwrap().jql();
        assert_eq!(jql, r#"text ~ "x\" OR project = SECRET OR text ~ \"y" ORDER BY updated DESC"#);
        let cql = SearchText::parse(r#"a\" OR type = blogpost"#).unwrap().cql();
        assert_eq!(cql, r#"type = page AND text ~ "a\\\" OR type = blogpost""#);
    }

    #[test]
    fn control_characters_become_single_spaces() {
        assert_eq!(SearchText::parse("a\nb\t\tc\u{0}d\r\n").unwrap().as_str(), "a b c d");
        assert_eq!(SearchText::parse("  spaced   out ").unwrap().as_str(), "spaced out");
        assert_eq!(quoted("quote\n\"mark"), r#""quote \"mark""#);
    }

    #[test]
    fn empty_and_over_long_texts_are_refused() {
        assert_eq!(SearchText::parse(""), Err(SearchTextError::Empty));
        assert_eq!(SearchText::parse(" \n\t "), Err(SearchTextError::Empty));
        assert!(SearchText::parse(&"é".repeat(MAX_CHARS)).is_ok(), "the limit counts characters, not bytes");
        assert_eq!(SearchText::parse(&"a".repeat(MAX_CHARS + 1)), Err(SearchTextError::TooLong));
    }

    #[test]
    fn other_characters_pass_through_unchanged() {
        assert_eq!(quoted("it's ~ * AND café 🎉"), r#""it's ~ * AND café 🎉""#);
    }
}
