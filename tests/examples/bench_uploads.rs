//! Upload benchmark: the node's peak memory while it decodes images. Two scenarios, each on a
//! fresh node process (peak RSS only ever grows):
//! 1. K photos of 7296×5472 (39.9 megapixels, just under the default budget of 40) uploaded at
//!    once, after one alone;
//! 2. with `huge` as the second argument, three 12000×12000 JPEGs uploaded at once: refused by
//!    the budget (a build without it decodes them, answering 408 after `request_timeout_secs`
//!    while the decodes go on, so its peak shows only if read later).
//!
//! `cargo build --release -p tianguis && cargo run --release -p tianguis-tests --example
//! bench_uploads -- [K] [huge]` (K defaults to 8). The node is the release `tianguis` binary in its own
//! process on a SQLite file (or a fresh PostgreSQL database on the server `TEST_DATABASE_URL`
//! names); `BENCH_BIN=PATH` runs another build of it (an older commit, for a before/after
//! comparison). `TIANGUIS__MEDIA__*` and `TIANGUIS__SERVER__*` variables in the environment are
//! passed on to the node (`TIANGUIS__MEDIA__DECODES_AT_ONCE=4`). Peak RSS is the node's `VmHWM`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::PathBuf, time::Instant};

use futures::future::join_all;
use harness::{
    gradient_jpeg,
    process::{NodeProcess, Site},
    procfs::peak_rss_kb,
};

#[tokio::main]
async fn main() {
    let k: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    // target/release/examples/bench_uploads → target/release/tianguis
    let binary = std::env::var("BENCH_BIN").map_or_else(
        |_| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.parent()?.join("tianguis")))
                .unwrap_or_else(|| PathBuf::from("target/release/tianguis"))
        },
        PathBuf::from,
    );
    if !binary.is_file() {
        eprintln!(
            "{} not found: run `cargo build --release -p tianguis` first",
            binary.display()
        );
        std::process::exit(2);
    }
    let binary = std::fs::canonicalize(&binary)
        .unwrap_or(binary)
        .to_string_lossy()
        .into_owned();
    let settings: Vec<(String, String)> = std::env::vars()
        .filter(|(key, _)| {
            key.starts_with("TIANGUIS__MEDIA__") || key.starts_with("TIANGUIS__SERVER__")
        })
        .collect();
    println!("node: {binary} {settings:?}");

    let photo = gradient_jpeg(7296, 5472);
    println!(
        "\n1. {k} photos of 7296×5472 (39.9 megapixels, {:.1} MB each) at once, after one alone",
        mb(photo.len())
    );
    let (site, node, token) = start(&binary, &settings).await;
    let first = create_listings(&node, &token, 1).await;
    let idle = peak_rss_kb(node.pid());
    let started = Instant::now();
    let (one, _) = upload(&node, &token, &first[0], photo.clone()).await;
    let one_time = started.elapsed();
    let after_one = peak_rss_kb(node.pid());
    println!(
        "   idle {:.0} MB; one upload: {one} in {:.2} s, peak {:.0} MB (+{:.0} MB)",
        kb_mb(idle),
        one_time.as_secs_f64(),
        kb_mb(after_one),
        kb_mb(after_one - idle)
    );
    // The first listing has one image already: the burst goes to the others, four each.
    let listings = create_listings(&node, &token, k.div_ceil(4)).await;
    let started = Instant::now();
    let burst = (0..k).map(|i| upload(&node, &token, &listings[i / 4], photo.clone()));
    let results = join_all(burst).await;
    let wall = started.elapsed();
    let after_burst = peak_rss_kb(node.pid());
    let stored = results.iter().filter(|(status, _)| *status == 201).count();
    let mut latencies: Vec<f64> = results.iter().map(|(_, t)| *t).collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "   {k} at once: {stored}/{k} stored in {:.2} s (each {:.2} to {:.2} s, median {:.2}), \
         peak {:.0} MB (+{:.0} MB above idle)",
        wall.as_secs_f64(),
        latencies[0],
        latencies[k - 1],
        latencies[k / 2],
        kb_mb(after_burst),
        kb_mb(after_burst - idle)
    );
    drop(node);
    site.remove().await;

    if std::env::args().nth(2).as_deref() != Some("huge") {
        return;
    }
    let huge = gradient_jpeg(12_000, 12_000);
    println!(
        "\n2. three 12000×12000 JPEGs ({:.1} MB each) at once",
        mb(huge.len())
    );
    let (site, node, token) = start(&binary, &settings).await;
    let listings = create_listings(&node, &token, 1).await;
    let idle = peak_rss_kb(node.pid());
    let started = Instant::now();
    let uploads = (0..3).map(|_| upload(&node, &token, &listings[0], huge.clone()));
    let statuses: Vec<u16> = join_all(uploads).await.iter().map(|(s, _)| *s).collect();
    let after = peak_rss_kb(node.pid());
    println!(
        "   answers {statuses:?} in {:.2} s; idle {:.0} MB, peak {:.0} MB (+{:.0} MB)",
        started.elapsed().as_secs_f64(),
        kb_mb(idle),
        kb_mb(after),
        kb_mb(after - idle)
    );
    drop(node);
    site.remove().await;
}

/// A node with a shop `pottery` run by `ana`, serving; and ana's token.
async fn start(binary: &str, settings: &[(String, String)]) -> (Site, NodeProcess, String) {
    let mut site = Site::new(binary).await;
    for (key, value) in settings {
        site = site.with_env(key, value);
    }
    site.shop("ana", "pottery");
    let node = site.serve("warn").await;
    let token = node.login("ana", harness::PASSWORD).await;
    (site, node, token)
}

async fn create_listings(node: &NodeProcess, token: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let listing = node
            .create_listing(token, "pottery", &harness::sample_listing())
            .await;
        ids.push(listing["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Upload `bytes` to listing `id`: the status and the seconds it took.
async fn upload(node: &NodeProcess, token: &str, id: &str, bytes: Vec<u8>) -> (u16, f64) {
    let started = Instant::now();
    let response = node.upload_image(token, id, bytes).await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if status != 201 {
        println!("   {status}: {body}");
    }
    (status, started.elapsed().as_secs_f64())
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn kb_mb(kb: u64) -> f64 {
    kb as f64 / 1000.0
}
