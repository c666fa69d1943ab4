//! `return_to`: where a sign-in lands. Only a plain path under our own public path is accepted,
//! so the parameter can never become an open redirect.

/// Longer values are refused (a real path in this app is far shorter).
const MAX_LEN: usize = 512;
/// Layers of percent-encoding looked through (`%2e`, `%252e`, `%25252e`...). A value still
/// changing after this many decodings is refused: no path of ours is encoded even twice.
const DECODE_ROUNDS: usize = 3;

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
        let path = raw.split(['?', '#']).next().unwrap_or_default();
        // The browser reads `%2e%2e` (any case) as `..`, and a proxy or framework may decode once
        // more (`%252e`): every decoding of the path must still be a plain path under the prefix.
        let mut seen = path.as_bytes().to_vec();
        let mut rounds = 0;
        loop {
            if !plain_path_under(&seen, prefix) {
                return None;
            }
            let decoded: Vec<u8> = percent_encoding::percent_decode(&seen).collect();
            if decoded == seen {
                break;
            }
            rounds += 1;
            if rounds > DECODE_ROUNDS {
                return None;
            }
            seen = decoded;
        }
        // Last, where the browser lands: resolved as a browser resolves a Location (WHATWG URL
        // rules, which also remove dot segments), the path must be exactly the one checked.
        let landed = url::Url::parse("http://threelo.invalid").ok()?.join(raw).ok()?;
        (landed.host_str() == Some("threelo.invalid") && landed.path() == path).then(|| ReturnTo(raw.to_owned()))
    }

    /// The checked path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `path` (one decoding of a return_to's path, as bytes) is `prefix` or lies under it,
/// with no empty, `.` or `..` segment, and no backslash or control byte.
fn plain_path_under(path: &[u8], prefix: &str) -> bool {
    if path.iter().any(|&b| b == b'\\' || b.is_ascii_control()) {
        return false;
    }
    let under = prefix.is_empty()
        || path == prefix.as_bytes()
        || path.strip_prefix(prefix.as_bytes()).is_some_and(|rest| rest.starts_with(b"/"));
    // Splitting `/a/b` gives "", "a", "b": only the first segment may be empty, except for the
    // trailing one of `/a/` (the landing page is `{prefix}/`).
    let segments: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    let last = segments.len().saturating_sub(1);
    let clean = segments.iter().enumerate().all(|(i, seg)| match *seg {
        b"" => i == 0 || i == last,
        b"." | b".." => false,
        _ => true,
    });
    under && clean && path.first() == Some(&b'/')
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

    #[test]
    fn encoded_dots_slashes_and_backslashes_cannot_leave_the_prefix() {
        for bad in [
            // The browser reads `%2e` (any case) as `.`: these land on /evilapp.
            "/atl/%2e%2e/evilapp",
            "/atl/%2E%2E/evilapp",
            "/atl/%2e./evilapp",
            "/atl/.%2E/evilapp",
            "/atl/x/%2e%2e/%2e%2e/evilapp",
            "/atl/%2e%2e?x=1",
            "/atl/%2e%2e#frag",
            "/atl/%2e",
            // Decoded once more by a proxy or framework.
            "/atl/%252e%252e/evilapp",
            "/atl/%252E%252e/evilapp",
            "/atl/%25252e%25252e/evilapp",
            "/atl/%2525252e%2525252e/evilapp",
            "/atl/..%2fevilapp",
            "/atl/..%2Fevilapp",
            "/atl/%2fevilapp",
            "/atl/%252f%252fevil.example",
            "/atl/..%252fevilapp",
            "/atl/%5c%5cevil.example",
            "/atl/%255cevil",
            "/atl/..\\evilapp",
            "/atl\\evil",
            "/atl//evil.example",
            "/atl/x//y",
            "/atl/%2f/evil",
            "/atl/%0d%0aSet-Cookie:x",
            "/atl/%250d%250a",
            "/atl/%2500",
        ] {
            assert!(ReturnTo::parse(bad, "/atl").is_none(), "{bad:?} was accepted under /atl");
            let at_root = bad.strip_prefix("/atl").unwrap_or(bad);
            assert!(
                ReturnTo::parse(at_root, "").is_none() || !at_root.starts_with('/'),
                "{at_root:?} was accepted at /"
            );
        }
    }

    #[test]
    fn ordinary_paths_with_harmless_encodings_are_still_accepted() {
        for good in ["/atl/", "/atl/sites/1f6e/jira/issues/ACME-1", "/atl/sites?page=a%20b", "/atl/a%2ex", "/atl/x/"] {
            assert!(ReturnTo::parse(good, "/atl").is_some(), "{good:?} was refused");
        }
    }
}
