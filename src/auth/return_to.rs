//! `return_to`: where a sign-in lands. Only a plain path under our own public path is accepted,
//! so the parameter can never become an open redirect.

/// Longer values are refused (a real path in this app is far shorter).
const MAX_LEN: usize = 512;

/// A checked path under the public URL's prefix, e.g. `/atl/sites`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// The landing page under `prefix`.
    pub fn home(prefix: &str) -> ReturnTo {
        ReturnTo(format!("{prefix}/"))
    }

    /// Accepts `raw` only if it is a same-origin path under `prefix`; `None` otherwise.
    pub fn parse(raw: &str, prefix: &str) -> Option<ReturnTo> {
        if raw.is_empty() || raw.len() > MAX_LEN {
            return None;
        }
        // Control characters (CR/LF header splitting), backslashes (browsers read `/\evil` as
        // `//evil`) and anything non-ASCII are refused outright.
        if raw.chars().any(|c| c.is_control() || c == '\\' || !c.is_ascii() || c == ' ') {
            return None;
        }
        if !raw.starts_with('/') || raw.starts_with("//") {
            return None;
        }
        // Percent-encoded slashes, backslashes or line breaks can be decoded by something
        // downstream into `//host` or a header; a real path of ours never needs them.
        let lower = raw.to_ascii_lowercase();
        if ["%2f", "%5c", "%00", "%0d", "%0a"].iter().any(|bad| lower.contains(bad)) {
            return None;
        }
        if raw.split(['?', '#']).next().is_some_and(|path| path.split('/').any(|seg| seg == ".." || seg == ".")) {
            return None;
        }
        let under_prefix = prefix.is_empty()
            || raw == prefix
            || raw.strip_prefix(prefix).is_some_and(|rest| rest.starts_with(['/', '?', '#']));
        under_prefix.then(|| ReturnTo(raw.to_owned()))
    }

    /// The checked path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_paths_are_accepted() {
        assert_eq!(ReturnTo::parse("/sites", "").unwrap().as_str(), "/sites");
        assert!(ReturnTo::parse("/sites/x/jira/issues?page=abc", "").is_some());
        assert!(ReturnTo::parse("/atl/sites", "/atl").is_some());
        assert!(ReturnTo::parse("/atl", "/atl").is_some());
    }

    #[test]
    fn open_redirects_and_junk_are_refused() {
        let long = format!("/{}", "a".repeat(600));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "\\\\evil",
            "%2F%2Fevil.example",
            "/%2F%2Fevil",
            "/%5cevil",
            "javascript:alert(1)",
            "/ok\r\nSet-Cookie: x=1",
            "/ok\n",
            "",
            "sites",
            long.as_str(),
            "/../etc",
            "/a/./b",
            "/é",
            "/a b",
            "///evil",
        ] {
            assert!(ReturnTo::parse(bad, "").is_none(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn paths_outside_the_prefix_are_refused() {
        assert!(ReturnTo::parse("/other", "/atl").is_none());
        assert!(ReturnTo::parse("/atlantis", "/atl").is_none());
        assert!(ReturnTo::parse("/", "/atl").is_none());
    }
}
