//! kill -9 in the middle of a fan-out, then a restart: every inbox is served.

use std::time::{Duration, Instant};

use harness::{
    process::{deliveries_of, leased, settled},
    sink::Sink,
};
use market::{
    entities::{delivery, delivery_worker},
    service::deliveries::{DEAD_AFTER, LEASE, PER_HOST},
};
use sea_orm::EntityTrait;

use crate::{FOLLOWERS, FanOut, SINK_DELAY, accepts, creates_by_inbox, until};

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_mid_fan_out_serves_every_inbox_after_a_restart() {
    let started = Instant::now();
    let mut f = FanOut::start().await;
    // One more follower, on another host, whose first attempt fails: after the restart,
    // `deliveries retry` makes it due, and its arrival shows the new worker has made a pass
    // over the queue.
    let canary = Sink::spawn().await;
    f.node
        .followed_by(&canary, "pottery", &["canary".to_string()])
        .await;
    // Its Accept first, so the scripted failure meets the Create.
    let accepted = until(Duration::from_secs(20), || async { accepts(&canary) == 1 }).await;
    assert!(accepted, "the canary's Accept: {}", f.node.log_text());
    canary.script("/users/canary/inbox", &[503]);
    f.sink.set_delay(SINK_DELAY);
    f.publish().await;
    assert!(
        until(Duration::from_secs(20), || async { f.served() >= 8 }).await,
        "the fan-out did not start: {}",
        f.node.log_text()
    );
    f.node.kill();
    // Answers to POSTs in flight when the node died land now, or never.
    settled(&f.sink, SINK_DELAY * 2, Duration::from_secs(5)).await;
    let served_at_kill = f.served();
    assert!(
        served_at_kill < FOLLOWERS,
        "the fan-out was over before the kill"
    );
    assert_eq!(creates_by_inbox(&canary).len(), 1, "the canary's first try");

    let activity_id = creates_by_inbox(&f.sink)
        .values()
        .flatten()
        .next()
        .unwrap()
        .activity_id
        .clone();
    let db = f.site.database().await;
    let sink_host = f.sink.base.trim_start_matches("http://").to_string();
    let of_sink = |rows: Vec<delivery::Model>| -> Vec<delivery::Model> {
        rows.into_iter().filter(|r| r.host == sink_host).collect()
    };
    let rows = of_sink(deliveries_of(&db, &activity_id).await);
    assert_eq!(rows.len(), FOLLOWERS, "one row per personal inbox");
    // The dead worker's claims: attempts in flight, perhaps delivered, their outcome unrecorded.
    let held: Vec<delivery::Model> = rows.iter().filter(|r| leased(r)).cloned().collect();
    assert!(
        held.len() <= PER_HOST,
        "{} rows leased to one host",
        held.len()
    );

    f.restart().await;
    let restarted = Instant::now();
    let canary_host = canary.base.trim_start_matches("http://").to_string();
    f.site.cli(&["deliveries", "retry", &canary_host], "");
    let canary_served = until(Duration::from_secs(10), || async {
        creates_by_inbox(&canary)["/users/canary/inbox"]
            .iter()
            .any(|r| r.status == 202)
    })
    .await;
    assert!(canary_served, "the new worker made no pass");
    let after_restart = of_sink(deliveries_of(&db, &activity_id).await);
    // A lease is a promise to whoever holds it, perhaps a live process: not taken while its
    // worker still looks alive (it beat less than `DEAD_AFTER` ago).
    let dead_worker = held.first().and_then(|h| h.locked_by.clone());
    let last_beat = match &dead_worker {
        Some(id) => delivery_worker::Entity::find_by_id(id.clone())
            .one(&db)
            .await
            .unwrap()
            .map(|w| w.heartbeat_at),
        None => None,
    };
    let looked_alive = last_beat
        .is_some_and(|beat| chrono::Utc::now() - beat < DEAD_AFTER - chrono::Duration::seconds(1));
    if looked_alive {
        for row in &after_restart {
            if let Some(before) = held.iter().find(|h| h.id == row.id) {
                assert_eq!(
                    (row.state.as_str(), row.attempts, row.locked_until),
                    (
                        delivery::STATE_PENDING,
                        before.attempts,
                        before.locked_until
                    ),
                    "a leased row was taken while its worker looked alive"
                );
            }
        }
    }
    let done = |rows: &[delivery::Model]| {
        rows.iter()
            .filter(|r| r.state == delivery::STATE_DONE)
            .count()
    };
    let sent_while_held = done(&after_restart) - done(&rows);

    // The dead worker stopped beating: once it has been silent for `DEAD_AFTER` its leases are
    // void and the new process takes them, long before the leases' own two minutes.
    let all_done = until(Duration::from_secs(45), || async {
        deliveries_of(&db, &activity_id)
            .await
            .iter()
            .all(|r| r.state == delivery::STATE_DONE)
    })
    .await;
    let expired_after = restarted.elapsed();
    assert!(
        all_done,
        "not all sent once the dead worker's leases were void: {:#?}\n{}",
        deliveries_of(&db, &activity_id).await,
        f.node.log_text()
    );
    assert!(
        expired_after < LEASE.to_std().unwrap(),
        "the leases ran their course ({expired_after:?}): the heartbeat did not void them"
    );
    settled(&f.sink, SINK_DELAY * 2, Duration::from_secs(5)).await;

    let creates = creates_by_inbox(&f.sink);
    for follower in &f.followers {
        let got = creates.get(&FanOut::inbox(follower));
        assert!(
            got.is_some_and(|r| r.iter().any(|r| r.status == 202)),
            "{follower} never got the Create"
        );
    }
    let all: Vec<_> = creates.values().flatten().collect();
    assert!(all.iter().all(|r| r.signature_valid), "a bad signature");
    assert!(all.iter().all(|r| r.activity_id == activity_id));
    // At least once: only a row held when the node died can have been sent twice.
    let duplicates = all.len() - FOLLOWERS;
    assert!(
        duplicates <= held.len(),
        "{duplicates} duplicates but only {} rows in flight at the kill",
        held.len()
    );
    eprintln!(
        "kill -9: {served_at_kill}/{FOLLOWERS} served at the kill, {} in flight; {sent_while_held} \
         more sent to that host by the new process at first; all done {expired_after:.1?} after the restart; \
         {duplicates} sent twice; {:.1?} in all ({})",
        held.len(),
        started.elapsed(),
        if f.site.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
    );
    let (status, _) = f.node.terminate(Duration::from_secs(45)).await;
    assert!(status.success(), "{status}");
    db.close().await.unwrap();
    f.site.remove().await;
}
