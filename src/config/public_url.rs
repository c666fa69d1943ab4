//! The URL people's browsers see. Every link, redirect, cookie path and the OAuth callback come
//! from here, never from request headers.

use url::Url;

/// An absolute http(s) URL with an optional path prefix and no trailing slash, query or fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    prefix: String,
    https: bool,
}

impl PublicUrl {
    /// Parses and normalises `https://host[:port][/prefix][/]`.
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let url = Url::parse(text).map_err(|err| {
            format!("`{text}` is not an absolute URL ({err}); use e.g. https://tools.example.com/atl")
        })?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => {
                return Err(format!("`{text}` is not an http(s) URL; use e.g. https://tools.example.com/atl"));
            }
        };
        if url.host_str().is_none() {
            return Err(format!("`{text}` has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("`{text}` must not carry a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("`{text}` must not carry a user name or password"));
        }
        let prefix = url.path().trim_end_matches('/').to_owned();
        let origin = url.origin().ascii_serialization();
        Ok(PublicUrl { origin, prefix, https })
    }

    /// `scheme://host[:port]`, for Origin checks.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The path prefix: `""` at the root, or like `/atl`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the browser reaches us over https (cookies get `Secure`, responses HSTS).
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The absolute URL of one of our routes.
    pub fn absolute(&self, route: &str) -> String {
        format!("{}{}{}", self.origin, self.prefix, route)
    }

    /// The OAuth redirect URI to register in Atlassian's developer console, byte for byte.
    pub fn callback_url(&self) -> String {
        self.absolute("/auth/callback")
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.origin, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_kept_without_its_trailing_slash() {
        let url = PublicUrl::parse("https://Tools.Example.com/atl/").unwrap();
        assert_eq!(url.prefix(), "/atl");
        assert_eq!(url.callback_url(), "https://tools.example.com/atl/auth/callback");
        assert!(url.is_https());
    }

    #[test]
    fn a_root_url_has_an_empty_prefix_and_keeps_its_port() {
        let url = PublicUrl::parse("http://localhost:8080").unwrap();
        assert_eq!(url.prefix(), "");
        assert_eq!(url.callback_url(), "http://localhost:8080/auth/callback");
        assert_eq!(url.origin(), "http://localhost:8080");
    }

    #[test]
    fn relative_or_odd_urls_are_refused() {
        for bad in ["localhost:8080", "/atl", "ftp://x.example", "https://x.example/?a=1", "https://u:p@x.example"] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
