//! SIGTERM in the middle of a fan-out: the worker takes no new deliveries, finishes the ones in
//! flight, and the process exits 0; the rest wait, unleased, for the next start.

use std::time::{Duration, Instant};

use chrono::Utc;
use harness::process::{deliveries_of, settled};
use market::entities::delivery;

use crate::{FOLLOWERS, FanOut, SINK_DELAY, creates_by_inbox, until};

/// SIGTERM while a new listing's `Create` goes out to its followers for the first time.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_fan_out_finishes_in_flight_and_leaves_the_rest_for_the_next_start() {
    sigterm_mid_fan_out(false).await;
}

/// The same for retries: the first attempts fail (503), `tianguis deliveries retry HOST` makes
/// them due, and the worker's next tick sends them.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_retries_finishes_in_flight_and_leaves_the_rest_for_the_next_start() {
    sigterm_mid_fan_out(true).await;
}

async fn sigterm_mid_fan_out(first_round_fails: bool) {
    let started = Instant::now();
    let mut f = FanOut::start().await;
    let db = f.site.database().await;
    if first_round_fails {
        for follower in &f.followers {
            f.sink.script(&FanOut::inbox(follower), &[503]);
        }
    } else {
        f.sink.set_delay(SINK_DELAY);
    }
    f.publish().await;
    let activity_id = if first_round_fails {
        let failed = until(Duration::from_secs(20), || async {
            creates_by_inbox(&f.sink).len() == FOLLOWERS
        })
        .await;
        assert!(failed, "the first attempts did not happen");
        let activity_id = creates_by_inbox(&f.sink)
            .values()
            .flatten()
            .next()
            .unwrap()
            .activity_id
            .clone();
        let recorded = until(Duration::from_secs(10), || async {
            let rows = deliveries_of(&db, &activity_id).await;
            rows.len() == FOLLOWERS
                && rows
                    .iter()
                    .all(|r| r.attempts == 1 && r.locked_until.is_none())
        })
        .await;
        assert!(recorded, "the 503s were not recorded");
        f.sink.set_delay(SINK_DELAY);
        let host = f.sink.base.trim_start_matches("http://").to_string();
        let out = f.site.cli(&["deliveries", "retry", &host], "");
        assert!(out.contains(&format!("{FOLLOWERS} deliveries")), "{out}");
        activity_id
    } else {
        assert!(
            until(Duration::from_secs(20), || async {
                !creates_by_inbox(&f.sink).is_empty()
            })
            .await
        );
        creates_by_inbox(&f.sink)
            .values()
            .flatten()
            .next()
            .unwrap()
            .activity_id
            .clone()
    };
    assert!(
        until(Duration::from_secs(20), || async { f.served() >= 8 }).await,
        "the fan-out did not start: {}",
        f.node.log_text()
    );

    let (status, took) = f.node.terminate(Duration::from_secs(45)).await;
    assert!(status.success(), "exit {status}: {}", f.node.log_text());
    settled(&f.sink, SINK_DELAY * 2, Duration::from_secs(5)).await;
    let served_at_exit = f.served();

    let rows = deliveries_of(&db, &activity_id).await;
    assert_eq!(rows.len(), FOLLOWERS);
    let now = Utc::now();
    for row in &rows {
        let released = row.locked_until.is_none_or(|t| t <= now);
        assert!(
            row.state == delivery::STATE_DONE || (row.state == delivery::STATE_PENDING && released),
            "left {} with lease {:?}",
            row.state,
            row.locked_until
        );
    }
    let creates = creates_by_inbox(&f.sink);
    let delivered_to = |row: &delivery::Model| {
        let path = url::Url::parse(&row.inbox).unwrap().path().to_string();
        creates
            .get(&path)
            .is_some_and(|r| r.iter().any(|r| r.status == 202))
    };
    // Every attempt that reached an inbox was recorded before the exit (or it would be sent
    // again on the next start).
    for row in &rows {
        assert_eq!(
            row.state == delivery::STATE_DONE,
            delivered_to(row),
            "{}: {} but delivered: {}",
            row.inbox,
            row.state,
            delivered_to(row)
        );
    }
    let pending = rows
        .iter()
        .filter(|r| r.state == delivery::STATE_PENDING)
        .count();
    assert!(
        pending > 0,
        "all {FOLLOWERS} were sent after SIGTERM: the worker kept taking new deliveries"
    );

    f.restart().await;
    let all_served = until(Duration::from_secs(30), || async {
        f.served() == FOLLOWERS
    })
    .await;
    assert!(all_served, "not every inbox served after the restart");
    let all_done = until(Duration::from_secs(10), || async {
        deliveries_of(&db, &activity_id)
            .await
            .iter()
            .all(|r| r.state == delivery::STATE_DONE)
    })
    .await;
    assert!(all_done);
    settled(&f.sink, SINK_DELAY * 2, Duration::from_secs(5)).await;
    let creates = creates_by_inbox(&f.sink);
    for follower in &f.followers {
        let delivered = creates[&FanOut::inbox(follower)]
            .iter()
            .filter(|r| r.status == 202)
            .count();
        assert_eq!(delivered, 1, "{follower} got the Create {delivered} times");
    }
    assert!(
        creates
            .values()
            .flatten()
            .all(|r| r.signature_valid && r.activity_id == activity_id)
    );
    eprintln!(
        "SIGTERM{}: exited 0 after {took:.1?}, {served_at_exit}/{FOLLOWERS} served, {pending} left \
         pending, no duplicates, {:.1?} in all ({})",
        if first_round_fails { " (retries)" } else { "" },
        started.elapsed(),
        if f.site.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
    );
    let (status, _) = f.node.terminate(Duration::from_secs(45)).await;
    assert!(status.success());
    db.close().await.unwrap();
    f.site.remove().await;
}
