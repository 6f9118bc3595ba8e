//! Rate limits kept in this process's memory (they restart empty, and each process of a
//! multi-process node counts on its own):
//!
//! - **Logins**: at most [`MAX_FAILURES`] wrong passwords for one username within
//!   [`LOGIN_WINDOW`]; further attempts for that username are answered 429 (with `Retry-After`)
//!   without checking the password, until the oldest failure leaves the window. A correct
//!   password clears the username's failures. Keyed by username, so guessing one account's
//!   password is slow whichever addresses it comes from, and a burst against one account does
//!   not stop anyone else logging in.
//! - **Registrations**: at most `[server] registrations_per_hour` new accounts per client
//!   address in an hour (0: no limit), by the form and the API alike. The address is
//!   [`crate::client_addr::ClientAddr`]'s: the connection's, or the one a trusted proxy
//!   forwarded.
//!
//! **Requests in flight count.** A request takes a [`Slot`] before the work (the password check,
//! the new account) and settles it after: so 150 requests at once cannot all pass the check
//! before the first is recorded. The slot is kept as an event when the attempt counts (a wrong
//! password, an account opened) and given back when it does not (a right password; a
//! registration refused for a taken username, a weak password or a bad field, which opens no
//! account; our own failures). A slot dropped unsettled, because the client hung up mid-way,
//! counts: an aborted attempt may have done its work.
//!
//! Why memory and not a database row: a node is one process serving its own users, the check
//! must not cost a write per wrong password (that would let a flood of them load the database),
//! and the state belongs to the node's [`crate::routes::AppState`], not to a static, so several
//! nodes in one test process count apart.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
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

/// Events per key within a sliding window, requests in flight included; `max` of them lock the
/// key out until the oldest event leaves the window. A `max` of 0 never locks anything out.
#[derive(Debug)]
pub struct Throttle {
    max: usize,
    window: Duration,
    keys: Mutex<HashMap<String, Counts>>,
}

/// One key's counted events (oldest first) and its slots not yet settled.
#[derive(Debug, Default)]
struct Counts {
    events: VecDeque<Instant>,
    in_flight: usize,
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
            keys: Mutex::default(),
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

    /// The counts, also after a panic elsewhere held the lock (they stay meaningful: every
    /// change below is one step), so a poisoned lock never turns the limit off.
    fn keys(&self) -> MutexGuard<'_, HashMap<String, Counts>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take a slot for an attempt under `key`, or `Err(seconds to wait)` if the key's events
    /// and the attempts in flight already reach the limit. Settle the slot with
    /// [`Slot::count`] or [`Slot::release`].
    pub fn reserve(self: &Arc<Self>, key: &str) -> Result<Slot, u64> {
        self.reserve_at(key, Instant::now())
    }

    fn reserve_at(self: &Arc<Self>, key: &str, now: Instant) -> Result<Slot, u64> {
        if self.max == 0 {
            return Ok(Slot {
                throttle: None,
                key: String::new(),
            });
        }
        let key = normalise(key);
        let mut keys = self.keys();
        if keys.len() >= MAX_TRACKED && !keys.contains_key(&key) {
            self.forget_stale(&mut keys, now);
        }
        let counts = keys.entry(key.clone()).or_default();
        while counts
            .events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            counts.events.pop_front();
        }
        let taken = counts.events.len() + counts.in_flight;
        if taken >= self.max {
            // Until enough events leave the window for one more; slots in flight are counted
            // as events from now, which they usually become.
            let leaving = counts.events.get(taken - self.max);
            let wait = leaving.map_or(self.window, |t| {
                self.window.saturating_sub(now.duration_since(*t))
            });
            return Err(wait.as_secs().max(1));
        }
        counts.in_flight += 1;
        Ok(Slot {
            throttle: Some(self.clone()),
            key,
        })
    }

    /// Drop the keys with nothing in the window and nothing in flight; if that is not enough,
    /// every key without a slot in flight.
    fn forget_stale(&self, keys: &mut HashMap<String, Counts>, now: Instant) {
        let window = self.window;
        keys.retain(|_, c| {
            c.in_flight > 0
                || c.events
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
        });
        if keys.len() >= MAX_TRACKED {
            keys.retain(|_, c| c.in_flight > 0);
        }
    }

    /// End a slot: as an event at `now` if `counted`, else as if it never was.
    fn settle(&self, key: &str, counted: Option<Instant>) {
        let mut keys = self.keys();
        let Some(counts) = keys.get_mut(key) else {
            return;
        };
        counts.in_flight = counts.in_flight.saturating_sub(1);
        if let Some(at) = counted {
            counts.events.push_back(at);
            while counts.events.len() > self.max {
                counts.events.pop_front();
            }
        }
        if counts.events.is_empty() && counts.in_flight == 0 {
            keys.remove(key);
        }
    }

    /// Forget `key`'s events (a correct password); slots in flight stay counted.
    pub fn forget(&self, key: &str) {
        let key = normalise(key);
        let mut keys = self.keys();
        if let Some(counts) = keys.get_mut(&key) {
            counts.events.clear();
            if counts.in_flight == 0 {
                keys.remove(&key);
            }
        }
    }
}

/// An attempt in flight under a throttle's key, counted against its limit until settled.
/// Dropped unsettled (the request was abandoned), it counts as an event.
#[derive(Debug)]
#[must_use = "settle the slot with count() or release()"]
pub struct Slot {
    /// `None` under a limit of 0.
    throttle: Option<Arc<Throttle>>,
    key: String,
}

impl Slot {
    /// The attempt counts: a wrong password, an account opened.
    pub fn count(self) {
        self.settle(Some(Instant::now()));
    }

    /// The attempt does not count: a right password, a registration refused before it opened
    /// an account, a failure of ours.
    pub fn release(self) {
        self.settle(None);
    }

    fn settle(mut self, counted: Option<Instant>) {
        if let Some(throttle) = self.throttle.take() {
            throttle.settle(&self.key, counted);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(throttle) = self.throttle.take() {
            throttle.settle(&self.key, Some(Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ten_failures_block_the_username_for_the_rest_of_the_window() {
        let throttle = Arc::new(Throttle::logins());
        let start = Instant::now();
        for i in 0..MAX_FAILURES {
            let slot = throttle.reserve_at("Bea", start);
            slot.unwrap_or_else(|_| panic!("{i}")).settle(Some(start));
        }
        let wait = throttle.reserve_at(" BEA ", start).unwrap_err();
        assert_eq!(wait, LOGIN_WINDOW.as_secs());
        assert!(
            throttle.reserve_at("ana", start).is_ok(),
            "other usernames are not affected"
        );
        // Once the window has passed, attempts are allowed again.
        throttle
            .reserve_at("bea", start + LOGIN_WINDOW)
            .unwrap()
            .release();
        // A success clears the count.
        throttle.reserve("cai").unwrap().count();
        throttle.forget("cai");
        assert!(!throttle.keys().contains_key("cai"));
    }

    #[test]
    fn slots_in_flight_count_until_settled() {
        let throttle = Arc::new(Throttle::new(3, Duration::from_secs(60)));
        let held: Vec<Slot> = (0..3).map(|_| throttle.reserve("k").unwrap()).collect();
        let wait = throttle.reserve("k").unwrap_err();
        assert_eq!(wait, 60, "slots in flight are counted as events from now");
        let mut held = held.into_iter();
        held.next().unwrap().release();
        let again = throttle.reserve("k").unwrap();
        assert!(throttle.reserve("k").is_err());
        // Dropped unsettled (the client went away): it counts.
        drop(again);
        assert!(throttle.reserve("k").is_err());
        assert_eq!(throttle.keys()["k"].events.len(), 1);
        // forget() clears the events, not the slots in flight.
        throttle.forget("k");
        assert_eq!(throttle.keys()["k"].in_flight, 2);
        for slot in held {
            slot.release();
        }
        assert!(throttle.keys().is_empty(), "nothing left to remember");
    }

    #[test]
    fn a_limit_of_zero_never_throttles() {
        let throttle = Arc::new(Throttle::registrations(0));
        for _ in 0..1000 {
            throttle.reserve("192.0.2.1").unwrap().count();
        }
        assert!(throttle.reserve("192.0.2.1").is_ok());
        assert!(throttle.keys().is_empty());
    }
}
