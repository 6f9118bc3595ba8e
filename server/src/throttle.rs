//! Rate limits kept in this process's memory (they restart empty, and each process of a
//! multi-process node counts on its own):
//!
//! - **Logins**: after [`MAX_FAILURES`] wrong passwords for one username within
//!   [`LOGIN_WINDOW`], further attempts for that username are answered 429 (with `Retry-After`)
//!   without checking the password, until the oldest failure leaves the window. A correct
//!   password clears the username's failures. Keyed by username, so guessing one account's
//!   password is slow whichever addresses it comes from.
//! - **Registrations**: at most `[server] registrations_per_hour` new accounts per client
//!   address in an hour (0: no limit), by the form and the API alike. The address is the
//!   connection's, or, when the connection comes from the node's own machine (a reverse proxy
//!   such as the Caddy of `deploy/`), the last address of `X-Forwarded-For`, which that proxy
//!   appended. IPv6 addresses count by their /64, the block one home or server usually gets.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

/// Wrong passwords allowed per username within [`LOGIN_WINDOW`].
pub const MAX_FAILURES: usize = 10;
/// The window failed logins are counted in.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The window registrations are counted in.
pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Keys tracked at most (the oldest are forgotten beyond it), so a flood of made-up usernames
/// or addresses cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

/// Events per key within a sliding window; `max` events lock the key out until the oldest
/// leaves the window. A `max` of 0 never locks anything out.
#[derive(Debug)]
pub struct Throttle {
    max: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn normalise(key: &str) -> String {
    key.trim().to_ascii_lowercase().chars().take(64).collect()
}

impl Throttle {
    /// `max` events per `window` for each key.
    pub fn new(max: usize, window: Duration) -> Throttle {
        Throttle {
            max,
            window,
            events: Mutex::default(),
        }
    }

    /// The login limit: [`MAX_FAILURES`] wrong passwords per username in [`LOGIN_WINDOW`].
    pub fn logins() -> Throttle {
        Throttle::new(MAX_FAILURES, LOGIN_WINDOW)
    }

    /// The registration limit: `per_hour` accounts per client address (0: none).
    pub fn registrations(per_hour: u32) -> Throttle {
        Throttle::new(
            usize::try_from(per_hour).unwrap_or(usize::MAX),
            REGISTRATION_WINDOW,
        )
    }

    /// `Err(seconds to wait)` if `key` has had `max` events within the window.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.max == 0 {
            return Ok(());
        }
        let Ok(mut map) = self.events.lock() else {
            return Ok(());
        };
        let Some(times) = map.get_mut(&normalise(key)) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        match times.front() {
            Some(oldest) if times.len() >= self.max => {
                let wait = self.window.saturating_sub(now.duration_since(*oldest));
                Err(wait.as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Count an event (a wrong password, an account opened) for `key`.
    pub fn record(&self, key: &str) {
        self.record_at(key, Instant::now());
    }

    fn record_at(&self, key: &str, now: Instant) {
        if self.max == 0 {
            return;
        }
        let Ok(mut map) = self.events.lock() else {
            return;
        };
        if map.len() >= MAX_TRACKED {
            let window = self.window;
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let times = map.entry(normalise(key)).or_default();
        times.push_back(now);
        while times.len() > self.max {
            times.pop_front();
        }
    }

    /// Forget `key`'s events (a correct password).
    pub fn forget(&self, key: &str) {
        if let Ok(mut map) = self.events.lock() {
            map.remove(&normalise(key));
        }
    }
}

/// The client's address as the registration limit counts it (see the module doc); `None` when
/// the server did not record the connection (a router driven without a listener).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The key the registration limit counts under: the address, an IPv6 one cut to its /64.
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

/// The address a request came from: the connection's, or the last `X-Forwarded-For` entry when
/// the connection is from this machine (the reverse proxy's own).
pub fn client_addr(peer: Option<SocketAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
    let peer = peer?.ip();
    if peer.is_loopback()
        && let Some(last) = forwarded_for.and_then(|v| v.rsplit(',').next())
        && let Ok(ip) = last.trim().parse::<IpAddr>()
    {
        return Some(ip);
    }
    Some(peer)
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(ClientAddr(client_addr(peer, forwarded)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ten_failures_block_the_username_for_the_rest_of_the_window() {
        let throttle = Throttle::logins();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(throttle.check_at("Bea", start).is_ok(), "attempt {i}");
            throttle.record_at("bea", start);
        }
        let wait = throttle.check_at(" BEA ", start).unwrap_err();
        assert_eq!(wait, LOGIN_WINDOW.as_secs());
        assert!(
            throttle.check_at("ana", start).is_ok(),
            "other usernames are not affected"
        );
        // Once the window has passed, attempts are allowed again.
        assert!(throttle.check_at("bea", start + LOGIN_WINDOW).is_ok());
        // A success clears the count.
        throttle.record_at("ana", start);
        throttle.forget("ana");
        assert!(throttle.events.lock().unwrap().get("ana").is_none());
    }

    #[test]
    fn a_limit_of_zero_never_throttles() {
        let throttle = Throttle::registrations(0);
        let now = Instant::now();
        for _ in 0..1000 {
            throttle.record_at("192.0.2.1", now);
        }
        assert!(throttle.check_at("192.0.2.1", now).is_ok());
        assert!(throttle.events.lock().unwrap().is_empty());
    }

    #[test]
    fn the_forwarded_address_counts_only_behind_a_local_proxy() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        let via = Some("203.0.113.9, 192.0.2.4");
        assert_eq!(
            client_addr(Some(local), via),
            Some("192.0.2.4".parse().unwrap()),
            "the proxy appended the last entry"
        );
        assert_eq!(
            client_addr(Some(remote), via),
            Some("198.51.100.7".parse().unwrap()),
            "a remote client cannot choose its address"
        );
        assert_eq!(
            client_addr(Some(local), Some("not an address")),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(client_addr(None, via), None);
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
