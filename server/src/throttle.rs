//! Login rate limiting: after [`MAX_FAILURES`] wrong passwords for one username within
//! [`WINDOW`], further attempts for that username are answered 429 (with `Retry-After`) without
//! checking the password, until the oldest failure leaves the window. A correct password
//! clears the username's failures. Keyed by username, so guessing one account's password is
//! slow whichever addresses it comes from; the counts live in this process's memory (they
//! restart empty, and each process of a multi-process node counts on its own).

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

/// Wrong passwords allowed per username within [`WINDOW`].
pub const MAX_FAILURES: usize = 10;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Usernames tracked at most (the oldest are forgotten beyond it), so a flood of made-up
/// usernames cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

/// Failed logins per username.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn key(username: &str) -> String {
    username
        .trim()
        .to_ascii_lowercase()
        .chars()
        .take(64)
        .collect()
}

impl LoginThrottle {
    /// `Err(seconds to wait)` if `username` has had too many failures lately.
    pub fn check(&self, username: &str) -> Result<(), u64> {
        self.check_at(username, Instant::now())
    }

    fn check_at(&self, username: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let Some(times) = map.get_mut(&key(username)) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        match times.front() {
            Some(oldest) if times.len() >= MAX_FAILURES => {
                let wait = WINDOW.saturating_sub(now.duration_since(*oldest));
                Err(wait.as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Count a wrong password for `username`.
    pub fn failed(&self, username: &str) {
        self.failed_at(username, Instant::now());
    }

    fn failed_at(&self, username: &str, now: Instant) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_TRACKED {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let times = map.entry(key(username)).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    /// A correct password: forget `username`'s failures.
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&key(username));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ten_failures_block_the_username_for_the_rest_of_the_window() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(throttle.check_at("Bea", start).is_ok(), "attempt {i}");
            throttle.failed_at("bea", start);
        }
        let wait = throttle.check_at(" BEA ", start).unwrap_err();
        assert_eq!(wait, WINDOW.as_secs());
        assert!(
            throttle.check_at("ana", start).is_ok(),
            "other usernames are not affected"
        );
        // Once the window has passed, attempts are allowed again.
        assert!(throttle.check_at("bea", start + WINDOW).is_ok());
        // A success clears the count.
        throttle.failed_at("ana", start);
        throttle.succeeded("ana");
        assert!(throttle.failures.lock().unwrap().get("ana").is_none());
    }
}
