//! The address a request comes from, as the registration limit counts it.
//!
//! By default it is the TCP connection's address: any client can write `X-Forwarded-For`, so
//! the header is ignored. When the connection comes from a proxy named in `[server]
//! trusted_proxies` (addresses or CIDR blocks), the client is the rightmost address of
//! `X-Forwarded-For` that is not itself a trusted proxy: each proxy appends the address it was
//! connected from, so everything left of the last untrusted hop may be made up by the client.
//! Without `X-Forwarded-For`, the `for=` parameters of `Forwarded` (RFC 7239) are read the same
//! way. A proxy that writes only `Forwarded` must drop a client's `X-Forwarded-For`, since that
//! header is preferred (Caddy, nginx, HAProxy and Traefik all write `X-Forwarded-For`).

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::routes::AppState;

/// One entry of `[server] trusted_proxies`: an address (`127.0.0.1`, `::1`) or a block
/// (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustedProxy(IpNet);

impl TryFrom<String> for TrustedProxy {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let text = value.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(|net| TrustedProxy(net.trunc()))
            .map_err(|_| {
                format!("trusted_proxies: {value:?} is not an address or a CIDR block such as 10.0.0.0/8")
            })
    }
}

impl From<TrustedProxy> for String {
    fn from(proxy: TrustedProxy) -> String {
        let net = proxy.0;
        if net.prefix_len() == net.max_prefix_len() {
            net.addr().to_string()
        } else {
            net.to_string()
        }
    }
}

impl TrustedProxy {
    fn contains(&self, ip: &IpAddr) -> bool {
        self.0.contains(ip)
    }
}

/// The client's address (see the module doc); `None` when the server did not record the
/// connection (a router driven without a listener).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The key the registration limit counts under: the address, an IPv6 one cut to its /64,
    /// the block one home or server usually gets.
    pub fn key(&self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            None => "unknown".to_string(),
        }
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(client_addr(
            peer,
            &parts.headers,
            &state.config.server.trusted_proxies,
        )))
    }
}

/// The client's address for a connection from `peer` with these headers.
pub fn client_addr(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|proxy| proxy.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    let forwarded_for = values("x-forwarded-for");
    // Several header lines are one list, in order (RFC 9110 §5.3).
    let hops: Vec<Option<IpAddr>> = if !forwarded_for.is_empty() {
        forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(parse_hop)
            .collect()
    } else {
        values("forwarded")
            .iter()
            .flat_map(|v| v.split(','))
            .map(forwarded_for_param)
            .collect()
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        // A hop we cannot read ("unknown", an obfuscated name, garbage) ends the trail: the
        // last address we could read is as far as we can trust.
        let Some(ip) = hop else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    Some(client)
}

/// One entry of `X-Forwarded-For`: an address, maybe with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`, as some proxies write) or in brackets.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })
}

/// The `for=` address of one `Forwarded` element (`for=192.0.2.60;proto=https`,
/// `for="[2001:db8:cafe::17]:4711"`); `None` for `unknown`, obfuscated names or no `for`.
fn forwarded_for_param(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        parse_hop(value)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter()
            .map(|p| TrustedProxy::try_from(p.to_string()).unwrap())
            .collect()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn forwarding_headers_are_ignored_unless_the_peer_is_a_trusted_proxy() {
        let via = headers(&[("x-forwarded-for", "203.0.113.9, 192.0.2.4")]);
        assert_eq!(client_addr(ip("127.0.0.1"), &via, &[]), ip("127.0.0.1"));
        let local = proxies(&["127.0.0.1", "::1"]);
        assert_eq!(
            client_addr(ip("198.51.100.7"), &via, &local),
            ip("198.51.100.7"),
            "a remote client cannot choose its address"
        );
        assert_eq!(client_addr(ip("127.0.0.1"), &via, &local), ip("192.0.2.4"));
        assert_eq!(client_addr(ip("::1"), &via, &local), ip("192.0.2.4"));
        assert_eq!(
            client_addr(ip("::ffff:127.0.0.1"), &via, &local),
            ip("192.0.2.4"),
            "an IPv4-mapped peer is its IPv4 address"
        );
        assert_eq!(client_addr(None, &via, &local), None);
    }

    #[test]
    fn the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy() {
        let trusted = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        // The client wrote 6.6.6.6 itself; the edge proxy appended the real client, an inner
        // proxy appended the edge proxy's address.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 192.0.2.4, 10.1.2.3")]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &chain, &trusted),
            ip("192.0.2.4")
        );
        // Two header lines are one list.
        let split = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "192.0.2.4, 10.1.2.3"),
        ]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &split, &trusted),
            ip("192.0.2.4")
        );
        // Ports and brackets as some proxies write them.
        let ported = headers(&[("x-forwarded-for", "[2001:db8::7]:4711, 10.0.0.1:80")]);
        assert_eq!(
            client_addr(ip("10.9.9.9"), &ported, &trusted),
            ip("2001:db8::7")
        );
        // An unreadable hop stops the trail at the last trusted address read.
        let garbage = headers(&[("x-forwarded-for", "192.0.2.4, not-an-address, 10.1.2.3")]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &garbage, &trusted),
            ip("10.1.2.3")
        );
        // Only trusted hops: the leftmost.
        let inside = headers(&[("x-forwarded-for", "10.0.0.5")]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &inside, &trusted),
            ip("10.0.0.5")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_addr(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let trusted = proxies(&["127.0.0.1"]);
        let forwarded = headers(&[(
            "forwarded",
            "for=6.6.6.6, For=\"[2001:db8:cafe::17]:4711\";proto=https",
        )]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &forwarded, &trusted),
            ip("2001:db8:cafe::17")
        );
        let unknown = headers(&[("forwarded", "for=192.0.2.1;proto=http, for=unknown")]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &unknown, &trusted),
            ip("127.0.0.1")
        );
        let both = headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "192.0.2.4"),
        ]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &both, &trusted),
            ip("192.0.2.4")
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_blocks() {
        let parsed = proxies(&["127.0.0.1", "::1", "10.0.0.0/8", "192.168.1.77/24"]);
        let text: Vec<String> = parsed.iter().map(|p| String::from(*p)).collect();
        assert_eq!(text, ["127.0.0.1", "::1", "10.0.0.0/8", "192.168.1.0/24"]);
        for bad in ["localhost", "10.0.0.0/33", "", "1.2.3"] {
            let err = TrustedProxy::try_from(bad.to_string()).unwrap_err();
            assert!(err.contains("CIDR"), "{err}");
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = ClientAddr(Some("2001:db8:1:2:aaaa::1".parse().unwrap())).key();
        let b = ClientAddr(Some("2001:db8:1:2:bbbb::9".parse().unwrap())).key();
        assert_eq!(a, b, "one /64");
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(
            ClientAddr(Some("::ffff:192.0.2.1".parse().unwrap())).key(),
            "192.0.2.1"
        );
    }
}
