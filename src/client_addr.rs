//! Who the client is, as seen through reverse proxies. Forwarding headers are believed only from
//! peers listed in `THREELO_TRUSTED_PROXIES`; from anyone else they are ignored (deny by default).

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::Cidr;

/// The client's address: the peer itself, or, when the peer is a trusted proxy, the nearest
/// address in its forwarding chain that is not a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    // A header may come as several lines (each proxy may add one): join them in order.
    let joined = |name: &str| -> Option<String> {
        let lines: Vec<&str> = req.headers().get_all(name).filter_map(|v| v.to_str().ok()).collect();
        (!lines.is_empty()).then(|| lines.join(","))
    };
    Some(resolve(peer, joined("forwarded").as_deref(), joined("x-forwarded-for").as_deref(), trusted))
}

/// Whether the request came straight from a trusted proxy.
pub fn peer_is_trusted(req: &HttpRequest, trusted: &[Cidr]) -> bool {
    req.peer_addr().is_some_and(|peer| is_trusted(peer.ip(), trusted))
}

fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|cidr| cidr.contains(ip))
}

/// The pure part of [`client_ip`].
fn resolve(peer: IpAddr, forwarded: Option<&str>, x_forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    // X-Forwarded-For wins when both are present: nginx, Caddy, Traefik and HAProxy all append
    // to it, while most of them pass a client's own `Forwarded` header through untouched.
    let chain: Option<Vec<IpAddr>> = match (x_forwarded_for, forwarded) {
        (Some(xff), _) => xff.split(',').map(|part| parse_ip(part.trim())).collect(),
        (None, Some(forwarded)) => forwarded.split(',').map(forwarded_for).collect(),
        (None, None) => None,
    };
    let Some(chain) = chain else {
        // Unparseable chains are not guessed at: the peer is what we know for sure.
        return peer;
    };
    // Walk from the nearest hop outwards; the first address we do not trust is the client.
    let mut client = peer;
    for ip in chain.into_iter().rev() {
        client = ip;
        if !is_trusted(ip, trusted) {
            break;
        }
    }
    client
}

/// The `for=` address of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.eq_ignore_ascii_case("for").then(|| parse_ip(value.trim().trim_matches('"')))?
    })
}

/// An address with an optional port: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`, `2001:db8::1`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted() -> Vec<Cidr> {
        vec![Cidr::parse("10.0.0.0/8").unwrap()]
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let got = resolve(ip("203.0.113.9"), Some("for=1.2.3.4"), Some("5.6.7.8"), &trusted());
        assert_eq!(got, ip("203.0.113.9"));
        // A client's own Forwarded header passed through by a proxy that appends to XFF.
        let got = resolve(ip("10.0.0.2"), Some("for=1.2.3.4"), Some("198.51.100.7"), &trusted());
        assert_eq!(got, ip("198.51.100.7"));
        let got = resolve(ip("203.0.113.9"), Some("for=1.2.3.4"), Some("5.6.7.8"), &trusted());
        assert_eq!(got, ip("203.0.113.9"));
        assert_eq!(resolve(ip("10.0.0.2"), None, Some("5.6.7.8"), &[]), ip("10.0.0.2"));
    }

    #[test]
    fn a_trusted_proxy_is_believed_and_spoofed_left_entries_are_not() {
        // The client sent "X-Forwarded-For: 6.6.6.6" itself; the proxy appended the real address.
        let got = resolve(ip("10.0.0.2"), None, Some("6.6.6.6, 198.51.100.7"), &trusted());
        assert_eq!(got, ip("198.51.100.7"));
        let got = resolve(ip("10.0.0.2"), None, Some("198.51.100.7, 10.1.1.1"), &trusted());
        assert_eq!(got, ip("198.51.100.7"), "trusted hops are skipped");
    }

    #[test]
    fn rfc_7239_forwarded_is_understood() {
        let header = "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"";
        assert_eq!(resolve(ip("10.0.0.2"), Some(header), None, &trusted()), ip("2001:db8:cafe::17"));
        assert_eq!(resolve(ip("10.0.0.2"), Some("for=unknown"), None, &trusted()), ip("10.0.0.2"));
    }
}
