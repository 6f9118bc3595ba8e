//! Durable delivery as processes see it: the real binary killed with SIGKILL in the middle of a
//! fan-out and started again, stopped with SIGTERM, and two processes sharing one PostgreSQL
//! database. Each test runs on a SQLite file, or on a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set; everything is on loopback, every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_output;
mod decoding;
mod kill;
mod order_kill;
mod peering;
mod sigterm;
mod two_processes;

use std::{collections::BTreeMap, future::Future, time::Duration};

use harness::{
    process::{NodeProcess, Site},
    sink::{Received, Sink},
};

/// The node binary: `tianguis`'s main, built in the test package.
const BIN: &str = env!("CARGO_BIN_EXE_tianguis-node");
/// Followers with a personal inbox each on one sink host: one delivery row each.
const FOLLOWERS: usize = 40;
/// How long the sink takes to answer an inbox POST during a fan-out: with the per-host cap of 4,
/// 40 deliveries take 3 s, long enough to interrupt.
const SINK_DELAY: Duration = Duration::from_millis(300);
const LOG: &str = "info";

/// A node process with a shop `pottery` (run by `ana`) followed by [`FOLLOWERS`] actors of a
/// sink, each through a signed `Follow`.
struct FanOut {
    site: Site,
    node: NodeProcess,
    sink: Sink,
    token: String,
    followers: Vec<String>,
}

impl FanOut {
    async fn start() -> FanOut {
        let site = Site::new(BIN).await;
        site.shop("ana", "pottery");
        let node = site.serve(LOG).await;
        let sink = Sink::spawn().await;
        // Names not starting with "shared": each follower has its own inbox, so one row each.
        let followers: Vec<String> = (0..FOLLOWERS).map(|n| format!("follower{n:02}")).collect();
        node.followed_by(&sink, "pottery", &followers).await;
        // The Accepts go out through the delivery queue, after each Follow was answered 202.
        let all_accepted = until(Duration::from_secs(20), || async {
            accepts(&sink) >= FOLLOWERS
        })
        .await;
        assert!(all_accepted, "Accepts missing: {}", node.log_text());
        assert_eq!(accepts(&sink), FOLLOWERS, "one Accept per Follow");
        let token = node.login("ana", harness::PASSWORD).await;
        FanOut {
            site,
            node,
            sink,
            token,
            followers,
        }
    }

    /// Start `serve` again on the same port, domain and database.
    async fn restart(&mut self) {
        self.node = self.site.serve(LOG).await;
    }

    /// Publish a listing through the API (its `Create` fans out to every follower).
    async fn publish(&self) {
        self.node
            .create_listing(&self.token, "pottery", &harness::sample_listing())
            .await;
    }

    fn inbox(name: &str) -> String {
        format!("/users/{name}/inbox")
    }

    /// How many inboxes received a `Create` answered 202, at least once.
    fn served(&self) -> usize {
        let creates = creates_by_inbox(&self.sink);
        self.followers
            .iter()
            .filter(|f| {
                creates
                    .get(&Self::inbox(f))
                    .is_some_and(|r| r.iter().any(|r| r.status == 202))
            })
            .count()
    }
}

fn accepts(sink: &Sink) -> usize {
    sink.received()
        .iter()
        .filter(|r| r.kind == "Accept")
        .count()
}

/// Every `Create` the sink received, by inbox path.
fn creates_by_inbox(sink: &Sink) -> BTreeMap<String, Vec<Received>> {
    let mut by_inbox: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for received in sink.received().into_iter().filter(|r| r.kind == "Create") {
        by_inbox
            .entry(received.path.clone())
            .or_default()
            .push(received);
    }
    by_inbox
}

/// Wait until the async `condition` holds, checking every 50 ms, for at most `timeout`.
async fn until<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
