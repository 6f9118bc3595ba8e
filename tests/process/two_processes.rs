//! Two `serve` processes of one node (same domain, same PostgreSQL database, two ports), both
//! running the delivery worker: no delivery is sent twice, and the per-host cap holds across
//! them.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use harness::{
    process::{Site, deliveries_of, free_port, settled_all},
    sink::Sink,
};
use market::{entities::delivery, service::deliveries::PER_HOST};

use crate::{BIN, until};

/// Sinks (hosts) and followers on each. More hosts than one process attempts at once
/// (`outbox::CONCURRENCY`, 64, is 16 hosts at 4 each), so neither can take everything.
const HOSTS: usize = 20;
const FOLLOWERS_EACH: usize = 4;
/// Listings published at the same moment, alternately through each process: each write wakes
/// its process's worker, so both claim at once, again and again.
const LISTINGS: usize = 4;
/// Answers take from 150 ms (the first host) to 587 ms (the last), so attempts finish at
/// staggered times and each process claims again at times of its own.
const DELAY: Duration = Duration::from_millis(150);
const DELAY_STEP: Duration = Duration::from_millis(23);
/// Connections the delivery client opens are logged (hyper-util, at debug), so a process's log
/// tells which sinks it posted to.
const LOG: &str = "info,hyper_util=debug";

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_sharing_postgresql_never_send_one_delivery_twice() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
        eprintln!(
            "skipped: two processes share a database only on PostgreSQL (set TEST_DATABASE_URL)"
        );
        return;
    }
    let started = Instant::now();
    let site = Site::new(BIN).await;
    site.shop("ana", "pottery");
    let port_b = std::iter::repeat_with(free_port)
        .find(|p| *p != site.port)
        .unwrap();
    let mut a = site.serve(LOG).await;
    let mut b = site.serve_on(port_b, LOG).await;

    let mut sinks = Vec::new();
    for k in 0..HOSTS {
        let names: Vec<String> = (0..FOLLOWERS_EACH)
            .map(|n| format!("follower{k:02}x{n}"))
            .collect();
        sinks.push((Sink::spawn().await, names));
    }
    // Every Follow goes to process a, so b sends no Accept.
    futures::future::join_all(
        sinks
            .iter()
            .map(|(sink, names)| a.followed_by(sink, "pottery", names)),
    )
    .await;
    for (k, (sink, _)) in sinks.iter().enumerate() {
        sink.set_delay(DELAY + DELAY_STEP * k as u32);
    }
    let (token_a, token_b) = (
        a.login("ana", harness::PASSWORD).await,
        b.login("ana", harness::PASSWORD).await,
    );
    let listing = harness::sample_listing();
    futures::future::join_all((0..LISTINGS).map(|n| {
        let (node, token) = if n % 2 == 0 {
            (&a, &token_a)
        } else {
            (&b, &token_b)
        };
        node.create_listing(token, "pottery", &listing)
    }))
    .await;

    let creates = |sink: &Sink| {
        sink.received()
            .into_iter()
            .filter(|r| r.kind == "Create")
            .collect::<Vec<_>>()
    };
    let all_received = until(Duration::from_secs(30), || async {
        sinks
            .iter()
            .all(|(s, _)| creates(s).len() >= FOLLOWERS_EACH * LISTINGS)
    })
    .await;
    assert!(all_received, "not every inbox got every Create");
    let mut activities: Vec<String> = creates(&sinks[0].0)
        .into_iter()
        .map(|r| r.activity_id)
        .collect();
    activities.sort();
    activities.dedup();
    assert_eq!(activities.len(), LISTINGS);
    let db = site.database().await;
    let all_done = until(Duration::from_secs(10), || async {
        for activity in &activities {
            let rows = deliveries_of(&db, activity).await;
            if rows.len() != HOSTS * FOLLOWERS_EACH
                || rows.iter().any(|r| r.state != delivery::STATE_DONE)
            {
                return false;
            }
        }
        true
    })
    .await;
    assert!(all_done, "deliveries not all recorded done");
    // A row both processes had claimed would be recorded done at the first answer while the
    // second POST could still be on its way: wait out the longest delay once more.
    let all_sinks: Vec<Sink> = sinks.iter().map(|(s, _)| s.clone()).collect();
    settled_all(
        &all_sinks,
        DELAY + DELAY_STEP * HOSTS as u32,
        Duration::from_secs(15),
    )
    .await;

    let mut wrong = Vec::new();
    for (sink, names) in &sinks {
        let mut sent: BTreeMap<(String, String), usize> = BTreeMap::new();
        for r in creates(sink) {
            assert!(r.signature_valid && r.status == 202, "{r:?}");
            *sent.entry((r.path, r.activity_id)).or_default() += 1;
        }
        for name in names {
            for activity in &activities {
                let n = sent
                    .get(&(format!("/users/{name}/inbox"), activity.clone()))
                    .copied()
                    .unwrap_or_default();
                if n != 1 {
                    wrong.push(format!("{name} got {activity} {n} times"));
                }
            }
        }
        if sink.max_in_flight() > PER_HOST {
            wrong.push(format!(
                "{} POSTs at once to {} (the cap is {PER_HOST})",
                sink.max_in_flight(),
                sink.base
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // The hosts each process connected to. Only process a sent Accepts (to every host), so
    // its count says little; every connection process b made was for a Create.
    let log_b = b.log_text();
    let by_b = sinks
        .iter()
        .filter(|(s, _)| log_b.contains(&format!("connecting to 127.0.0.1:{}", s.port)))
        .count();
    eprintln!(
        "two processes: {} deliveries to {HOSTS} hosts, each sent once; process b posted to \
         {by_b} of the hosts; {:.1?} in all",
        LISTINGS * HOSTS * FOLLOWERS_EACH,
        started.elapsed()
    );
    assert!(
        by_b > 0,
        "process b sent nothing: the processes did not compete"
    );
    for node in [&mut a, &mut b] {
        let (status, _) = node.terminate(Duration::from_secs(45)).await;
        assert!(status.success(), "exit {status}: {}", node.log_text());
    }
    db.close().await.unwrap();
    site.remove().await;
}
