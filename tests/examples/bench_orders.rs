//! Federated order benchmark: buyers on node A order from a shop on peer node B through the
//! JSON API; prints the time from `POST /api/v1/orders` until A has B's `Accept` (quote
//! included: the buyer's node asks B for it first), sequential and concurrent, and the ratio to
//! one raw RSA-2048 signature measured in the same run.
//!
//! ```sh
//! cargo run --release -p tianguis-tests --example bench_orders -- [N] [CONCURRENCY]
//! ```
//!
//! Default N = 200 orders, CONCURRENCY = 8. Both nodes run in this process (`harness::TestNode`,
//! `federation.debug`: http on loopback, the Offer posted inside the API request, the Accept
//! posted by a task as soon as B has decided), each on a SQLite file (`Storage::Durable`), or on
//! a fresh PostgreSQL database when `TEST_DATABASE_URL` is set. Every order is one item of the
//! same listing (stock 1,000,000), shipped by post, so every order takes B's catalog lock,
//! reserves stock and queues the listing's update.
//!
//! One order is, on the wire: A's quote request to B, A's signed `Offer` to B (B verifies it,
//! fetching the buyer's actor the first time), and B's signed `Accept` to A (A verifies it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use federation::{peering, sender::SigningKey};
use harness::{Member, Storage, TestNode, sample_listing};
use market::service::peers;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

async fn json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn buyer(node: &TestNode, name: &str) -> Member {
    let body = json!({"username": name, "password": "a long enough secret"});
    json(node.post_json("/api/v1/accounts", None, &body).await).await;
    let login = json(node.login(name, "a long enough secret").await).await;
    Member {
        username: name.into(),
        token: login["token"].as_str().unwrap().into(),
    }
}

/// Quote, order, and wait for the shop's answer: the elapsed time.
async fn one_order(a: &TestNode, buyer: &Member, entry: i64, post: &Value) -> Duration {
    let started = Instant::now();
    let quote = json(
        a.post_json(
            "/api/v1/orders/quote",
            Some(&buyer.token),
            &json!({"listing": entry, "quantity": 1, "shipping_option": post, "country": "MX"}),
        )
        .await,
    )
    .await;
    let order = json(
        a.post_json(
            "/api/v1/orders",
            Some(&buyer.token),
            &json!({"listing": entry, "quantity": 1, "shipping_option": post,
                    "address": {"name": "Ana", "street": "Calle 5", "city": "Oaxaca", "country": "MX"},
                    "total": quote["total"]}),
        )
        .await,
    )
    .await;
    let id = order["id"].as_str().unwrap().to_string();
    let mut state = order["state"].as_str().unwrap().to_string();
    while state == "offered" {
        if started.elapsed() > Duration::from_secs(30) {
            for node in [a] {
                for d in market::entities::delivery::Entity::find()
                    .all(&node.ctx.db)
                    .await
                    .unwrap()
                {
                    if d.state != "done" {
                        eprintln!("{} {} {} {:?}", d.inbox, d.state, d.attempts, d.last_error);
                    }
                }
            }
            panic!("order {id} was not answered within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        let view = json(
            a.get(&format!("/api/v1/orders/{id}"), Some(&buyer.token))
                .await,
        )
        .await;
        state = view["state"].as_str().unwrap().to_string();
    }
    assert_eq!(state, "accepted");
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        "PostgreSQL"
    } else {
        "SQLite file"
    };
    // With the delivery worker, as a node runs: a delivery the request could not attempt at
    // once (the per-host cap was taken by concurrent ones) is the worker's.
    let (a, b) = tokio::join!(
        TestNode::spawn_with(Storage::Durable, |c| c.federation.deliver = true),
        TestNode::spawn_with(Storage::Durable, |c| c.federation.deliver = true)
    );
    let bea = b.member("bea").await;
    b.create_shop(&bea, "pottery", "Bea's Pottery").await;
    let mut listing = sample_listing();
    listing["stock"] = json!(1_000_000);
    json(b.create_listing(&bea, "pottery", &listing).await).await;
    let checkout = b
        .http
        .put(b.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&bea.token)
        .json(&json!({"payment_instructions": "Bank transfer.",
                      "shipping_options": [{"name": "Post", "price": "5.50", "currency": "EUR"}]}))
        .send()
        .await
        .unwrap();
    assert!(checkout.status().is_success());
    peering::add(&a.federation.to_request_data(), &b.base)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !peers::find(&a.ctx, &b.domain)
        .await
        .unwrap()
        .is_some_and(|p| p.backfilled)
    {
        assert!(Instant::now() < deadline, "peering did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let buyers: Vec<Member> = {
        let mut all = Vec::new();
        for i in 0..concurrency.max(1) {
            all.push(buyer(&a, &format!("buyer{i}")).await);
        }
        all
    };
    let found = json(a.get("/api/v1/catalog?q=mug", None).await).await;
    let entry = found["items"][0]["id"].as_i64().unwrap();
    let quote = json(
        a.post_json(
            "/api/v1/orders/quote",
            Some(&buyers[0].token),
            &json!({"listing": entry}),
        )
        .await,
    )
    .await;
    let post = quote["shipping_options"][0]["id"].clone();
    // Warm-up: each buyer's actor is fetched by B once, outside the timing.
    for buyer in &buyers {
        let took = one_order(&a, buyer, entry, &post).await;
        eprintln!("warm-up order by {}: {:.1} ms", buyer.username, ms(took));
    }

    // Raw signing cost on this machine, now.
    let keys = activitypub_federation::http_signatures::generate_actor_keypair().unwrap();
    let key = SigningKey::from_pkcs8_pem("https://x.test/a#main-key", &keys.private_key).unwrap();
    let message = vec![b'x'; 300];
    let signs = 200;
    let started = Instant::now();
    for _ in 0..signs {
        key.sign(&message).unwrap();
    }
    let sign = started.elapsed() / signs;

    let mut sequential = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        sequential.push(one_order(&a, &buyers[0], entry, &post).await);
    }
    let sequential_wall = started.elapsed();
    sequential.sort();

    let started = Instant::now();
    let per_buyer = n / concurrency.max(1);
    let mut tasks = Vec::new();
    for buyer in &buyers {
        let a = &a;
        let post = &post;
        tasks.push(async move {
            let mut times = Vec::with_capacity(per_buyer);
            for _ in 0..per_buyer {
                times.push(one_order(a, buyer, entry, post).await);
            }
            times
        });
    }
    let mut concurrent: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let concurrent_wall = started.elapsed();
    concurrent.sort();
    let stock = json(b.get("/api/v1/listings?per_page=1", None).await).await["items"][0]["stock"]
        .as_i64()
        .unwrap();
    let ordered = (buyers.len() + n + concurrent.len()) as i64;
    assert_eq!(
        stock,
        1_000_000 - ordered,
        "every accepted order took one item"
    );

    println!(
        "backend: {backend}, orders: {n} sequential + {} concurrent ({concurrency} buyers)",
        concurrent.len()
    );
    println!("raw RSA-2048 signature: {:.2} ms", ms(sign));
    println!(
        "sequential: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms, {:.1} orders/s; p50 / signature = {:.1}",
        ms(percentile(&sequential, 0.5)),
        ms(percentile(&sequential, 0.95)),
        ms(*sequential.last().unwrap()),
        n as f64 / sequential_wall.as_secs_f64(),
        ms(percentile(&sequential, 0.5)) / ms(sign),
    );
    println!(
        "concurrent: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms, {:.1} orders/s",
        ms(percentile(&concurrent, 0.5)),
        ms(percentile(&concurrent, 0.95)),
        ms(*concurrent.last().unwrap()),
        concurrent.len() as f64 / concurrent_wall.as_secs_f64(),
    );
    println!("stock left: {stock} (1,000,000 − {ordered} orders)");
}
