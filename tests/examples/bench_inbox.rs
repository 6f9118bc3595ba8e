//! Inbox benchmark: signed activities posted concurrently to one node; prints accepted
//! activities per second, latency percentiles, the time to verify the same signatures alone
//! (measured in the same run), their ratio, and the node's CPU seconds and peak memory.
//!
//! `cargo build --release -p tianguis && cargo run --release -p tianguis-tests --example
//! bench_inbox -- [ACTIVITIES] [CONCURRENCY]` (defaults 2000 and 32). The node is the release
//! `tianguis` binary in its own process, on a SQLite file (or a fresh PostgreSQL database on the
//! server `TEST_DATABASE_URL` names), with `federation.debug` on so it may fetch the signing
//! peer's actor over loopback http. The peer and the client run in this process; the requests
//! are all signed before the clock starts, so only the node's work is timed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::PathBuf, sync::Arc, time::Instant};

use harness::{
    peer::Peer,
    process::Site,
    procfs::{cpu_seconds, peak_rss},
    signing::{SignedPost, verify},
};
use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let activities: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);

    // target/release/examples/bench_inbox → target/release/tianguis
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("tianguis")))
        .unwrap_or_else(|| PathBuf::from("target/release/tianguis"));
    if !binary.is_file() {
        eprintln!(
            "{} not found: run `cargo build --release -p tianguis` first",
            binary.display()
        );
        std::process::exit(2);
    }
    let site = Site::new(&binary.to_string_lossy()).await;
    site.shop("ana", "pottery");
    let mut node = site.serve("warn").await;
    let pid = node.pid().to_string();
    let peer = Peer::spawn().await;
    let base = format!("http://{}", site.domain());
    let url = |path: &str| format!("{base}{path}");
    let inbox = url("/inbox");
    let (key_id, key) = (peer.alice_key_id(), peer.alice_private_key());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();

    // Warm up: the node fetches Alice's actor once and caches it.
    let warm = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/warm", peer.base),
                      "type": "Like", "actor": peer.alice_id(), "object": url("/shops/pottery")});
    assert_eq!(
        SignedPost::new(&inbox, &warm, &key_id, &key)
            .send(&client)
            .await,
        202
    );

    let mut prepared = Vec::with_capacity(activities);
    let mut to_verify = Vec::with_capacity(activities);
    for n in 0..activities {
        let activity = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/notes/{n}/activity", peer.base),
            "type": "Create",
            "actor": peer.alice_id(),
            "object": {"id": format!("{}/notes/{n}", peer.base), "type": "Note",
                       "attributedTo": peer.alice_id(), "content": format!("<p>note {n}</p>"),
                       "to": ["https://www.w3.org/ns/activitystreams#Public"]},
        });
        let (signed, request) =
            SignedPost::new(&inbox, &activity, &key_id, &key).build_with_signing_string(&client);
        to_verify.push(signed);
        prepared.push(request);
    }

    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let cpu_before = cpu_seconds(&pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(activities);
    for request in prepared {
        let (client, semaphore) = (client.clone(), semaphore.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("semaphore");
            let sent = Instant::now();
            let status = client
                .execute(request)
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, sent.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(activities);
    let mut accepted = 0;
    for task in tasks {
        let (status, latency) = task.await.unwrap();
        if status == 202 {
            accepted += 1;
        }
        latencies.push(latency);
    }
    let wall = started.elapsed();
    let node_cpu = cpu_seconds(&pid) - cpu_before;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    let public = peer.alice_public_key();
    let verify_started = Instant::now();
    for (signing_string, signature) in &to_verify {
        assert!(verify(&public, signing_string, signature));
    }
    let verify_time = verify_started.elapsed();

    let peak_rss = peak_rss(node.pid());
    println!(
        "inbox benchmark: {activities} signed Create activities, concurrency {concurrency}, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("accepted:            {accepted}/{activities} (202)");
    println!("wall time:           {:.3} s", wall.as_secs_f64());
    println!(
        "throughput:          {:.0} activities/s",
        accepted as f64 / wall.as_secs_f64()
    );
    println!(
        "latency p50/p95/p99: {:.1} / {:.1} / {:.1} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.95).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    println!(
        "raw verification:    {:.3} s for {activities} signatures on one core ({:.0} µs each)",
        verify_time.as_secs_f64(),
        verify_time.as_secs_f64() * 1e6 / activities as f64
    );
    println!(
        "ratio:               inbox wall time / raw verification time = {:.2}",
        wall.as_secs_f64() / verify_time.as_secs_f64()
    );
    println!(
        "node CPU:            {node_cpu:.2} s during the run ({:.0} µs per activity)",
        node_cpu * 1e6 / activities as f64
    );
    println!(
        "database:            {}",
        if site.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite file"
        }
    );
    println!("peak RSS of the node: {peak_rss}");
    let (status, _) = node.terminate(std::time::Duration::from_secs(45)).await;
    assert!(status.success(), "the node exited with {status}");
    site.remove().await;
}
