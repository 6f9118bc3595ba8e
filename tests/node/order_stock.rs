//! Orders and stock when clients walk away: a burst of order requests whose TCP connections are
//! reset 0–60 ms after sending, for a shop that answers at once and one that accepts by hand.
//! Afterwards every listing's stock plus what its open orders hold is what the seller set, no
//! open order holds nothing, and accepting every held order never sells more than there was.

use std::time::Duration;

use futures::future::join_all;
use harness::{Member, Storage, TestNode, sample_listing};
use market::entities::{listing, order};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Items each listing starts with.
const STOCK: i32 = 40;
/// Order requests per listing: more than the stock, so some are refused as sold out.
const REQUESTS: usize = 60;

async fn json_ok(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A shop `handle` of `seller` with one listing of [`STOCK`] items and pickup only; returns the
/// listing id.
async fn shop(node: &TestNode, seller: &Member, handle: &str, by_hand: bool) -> String {
    assert_eq!(
        node.create_shop(seller, handle, "A shop").await.status(),
        201
    );
    let mut body = sample_listing();
    body["title"] = json!(format!("Item of {handle}"));
    body["stock"] = json!(STOCK);
    let listing = json_ok(node.create_listing(seller, handle, &body).await, 201).await;
    json_ok(
        node.patch_json(
            &format!("/api/v1/shops/{handle}"),
            Some(&seller.token),
            &json!({"accepts_orders_by_hand": by_hand}),
        )
        .await,
        200,
    )
    .await;
    listing["id"].as_str().unwrap().to_string()
}

/// The body of `POST /api/v1/orders` for one item of the catalog entry titled `title`.
async fn order_body(node: &TestNode, buyer: &Member, title: &str) -> String {
    let found = json_ok(
        node.get(
            &format!("/api/v1/catalog?q={}", title.replace(' ', "+")),
            Some(&buyer.token),
        )
        .await,
        200,
    )
    .await;
    let entry = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["title"] == title)
        .unwrap()["id"]
        .clone();
    let quote = json_ok(
        node.post_json(
            "/api/v1/orders/quote",
            Some(&buyer.token),
            &json!({"listing": entry, "quantity": 1}),
        )
        .await,
        200,
    )
    .await;
    let option = quote["shipping_options"][0]["id"].clone();
    let priced = json_ok(
        node.post_json(
            "/api/v1/orders/quote",
            Some(&buyer.token),
            &json!({"listing": entry, "quantity": 1, "shipping_option": option}),
        )
        .await,
        200,
    )
    .await;
    json!({"listing": entry, "quantity": 1, "shipping_option": option, "total": priced["total"]})
        .to_string()
}

/// Open a raw connection to the node and send `POST /api/v1/orders` on it.
async fn send_order(node: &TestNode, token: &str, body: &str) -> TcpStream {
    let port: u16 = node.domain.rsplit(':').next().unwrap().parse().unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!(
        "POST /api/v1/orders HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        node.domain,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Send an order, wait `delay`, then reset the connection (`SO_LINGER` 0, so closing sends
/// RST): the client is gone whatever the server was doing.
async fn order_and_reset(node: &TestNode, token: &str, body: &str, delay: Duration) {
    let stream = send_order(node, token, body).await;
    tokio::time::sleep(delay).await;
    stream.set_zero_linger().unwrap();
    drop(stream);
}

/// Send an order and read the whole answer: how long it took, and its status line.
async fn order_in_full(node: &TestNode, token: &str, body: &str) -> (Duration, String) {
    let started = tokio::time::Instant::now();
    let mut stream = send_order(node, token, body).await;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    (
        started.elapsed(),
        answer.lines().next().unwrap_or_default().to_string(),
    )
}

/// 0 to `max`, at random.
fn random_delay(max: Duration) -> Duration {
    let millis = max.as_millis().max(1) as u64;
    Duration::from_millis((uuid::Uuid::new_v4().as_u128() % u128::from(millis + 1)) as u64)
}

/// (stock, items held by open orders, `offered` orders) of `listing_id`, read from the database.
async fn figures(node: &TestNode, listing_id: &str) -> (i32, i32, usize) {
    let stock = listing::Entity::find_by_id(listing_id.to_string())
        .one(&node.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .stock;
    let open = order::Entity::find()
        .filter(order::Column::ListingId.eq(listing_id))
        .filter(order::Column::State.is_in(["offered", "accepted"]))
        .all(&node.ctx.db)
        .await
        .unwrap();
    let held = open.iter().map(|o| o.quantity).sum();
    let offered = open.iter().filter(|o| o.state == "offered").count();
    (stock, held, offered)
}

/// Every order's state, to tell when the node has finished with the burst.
async fn snapshot(node: &TestNode) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = order::Entity::find()
        .all(&node.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.id, o.state))
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_whose_connections_are_reset_never_hold_stock_they_did_not_take() {
    // A SQLite file, as a node runs (an in-memory database lives in one connection, which a
    // reset request may take down with it).
    let node = TestNode::spawn_with(Storage::Durable, |_| {}).await;
    let bea = node.member("bea").await;
    let ana = node.member("ana").await;
    let at_once = shop(&node, &bea, "pottery", false).await;
    let by_hand = shop(&node, &bea, "weaving", true).await;
    let bodies = [
        (
            at_once.clone(),
            order_body(&node, &ana, "Item of pottery").await,
        ),
        (
            by_hand.clone(),
            order_body(&node, &ana, "Item of weaving").await,
        ),
    ];
    // One order read in full: the request is right, and its time sets how late a reset may
    // come: 0–60 ms, or on a slower machine (or PostgreSQL) up to the time a wave of ten
    // takes when half of them are served, so that some requests finish and some do not.
    let (took, status) = order_in_full(&node, &ana.token, &bodies[0].1).await;
    assert!(status.contains(" 201 "), "{status}");
    let latest = Duration::from_millis(60).max(took * 5);
    eprintln!("one order took {took:?}: resets within {latest:?}");

    // Ten at a time, so that resets land in every phase of the request, not in the queue.
    for wave in 0..REQUESTS * 2 / 10 {
        join_all((0..10).map(|n| {
            let (node, ana, body) = (&node, &ana, &bodies[(wave + n) % 2].1);
            async move { order_and_reset(node, &ana.token, body, random_delay(latest)).await }
        }))
        .await;
    }
    // The node finishes the requests it was not interrupted in: wait until nothing changes.
    let mut last = snapshot(&node).await;
    let mut quiet = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while quiet < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node never settled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = snapshot(&node).await;
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    assert!(last.len() > 1, "no order of the burst got through");

    for (listing_id, _) in &bodies {
        let (stock, held, offered) = figures(&node, listing_id).await;
        eprintln!(
            "{listing_id}: stock {stock}, held {held}, offered {offered}, {} orders",
            last.len()
        );
        assert_eq!(
            stock + held,
            STOCK,
            "listing {listing_id}: stock {stock} + {held} held by open orders"
        );
    }
    // The shop that answers at once leaves nothing waiting.
    let (_, _, waiting) = figures(&node, &at_once).await;
    assert_eq!(
        waiting, 0,
        "orders of a shop that answers at once left offered"
    );

    // Bea accepts every order left waiting for her: never more than there was.
    let page = json_ok(
        node.get(
            "/api/v1/shops/weaving/orders?state=offered&per_page=100",
            Some(&bea.token),
        )
        .await,
        200,
    )
    .await;
    for o in page["items"].as_array().unwrap() {
        let id = o["id"].as_str().unwrap();
        let response = node
            .post_json(
                &format!("/api/v1/orders/{id}/state"),
                Some(&bea.token),
                &json!({"state": "accepted"}),
            )
            .await;
        assert!(
            [200, 409].contains(&response.status().as_u16()),
            "{}",
            response.text().await.unwrap()
        );
    }
    let (stock, held, waiting) = figures(&node, &by_hand).await;
    assert_eq!(waiting, 0);
    assert!(stock >= 0);
    assert_eq!(stock + held, STOCK, "accepted {held}, {stock} left");
    node.shutdown().await;
}

/// `POST /api/v1/orders/{id}/state` as `who`; the status.
async fn step(node: &TestNode, who: &Member, id: &str, state: &str, reason: &str) -> u16 {
    node.post_json(
        &format!("/api/v1/orders/{id}/state"),
        Some(&who.token),
        &json!({"state": state, "reason": reason}),
    )
    .await
    .status()
    .as_u16()
}

/// Ten requests (and the sweeper) ending one order at once: one wins, the others get 409, and
/// the items go back exactly once. Run it with `TEST_DATABASE_URL` for PostgreSQL's concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_requests_ending_one_order_at_once_give_its_items_back_once() {
    let node = TestNode::spawn_with(Storage::Durable, |_| {}).await;
    let bea = node.member("bea").await;
    let ana = node.member("ana").await;
    let listing = shop(&node, &bea, "weaving", true).await;
    let body: Value =
        serde_json::from_str(&order_body(&node, &ana, "Item of weaving").await).unwrap();
    let place = || async {
        let placed = json_ok(
            node.post_json("/api/v1/orders", Some(&ana.token), &body)
                .await,
            201,
        )
        .await;
        assert_eq!(placed["state"], "offered");
        placed["id"].as_str().unwrap().to_string()
    };
    let stock = || async { figures(&node, &listing).await.0 };

    // A held order: the seller declines it five times, the buyer cancels it five times, and
    // the sweeper finds it unanswered, all at once.
    let held = place().await;
    assert_eq!(stock().await, STOCK - 1);
    let data = node.federation.to_request_data();
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let requests = join_all((0..10).map(|n| {
        let (node, bea, ana, held) = (&node, &bea, &ana, &held);
        async move {
            if n % 2 == 0 {
                step(node, bea, held, "rejected", "out of wool").await
            } else {
                step(node, ana, held, "cancelled", "changed my mind").await
            }
        }
    }));
    let (statuses, swept) = tokio::join!(
        requests,
        federation::orders::expire_unanswered(&data, later)
    );
    let swept = swept.unwrap();
    let won = statuses.iter().filter(|s| **s == 200).count() + swept;
    assert_eq!(won, 1, "statuses {statuses:?}, swept {swept}");
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(stock().await, STOCK, "the item went back once");

    // An accepted order, cancelled five times by each party at once.
    let accepted = place().await;
    assert_eq!(step(&node, &bea, &accepted, "accepted", "").await, 200);
    assert_eq!(stock().await, STOCK - 1);
    let statuses = join_all((0..10).map(|n| {
        let (node, who, accepted) = (&node, if n % 2 == 0 { &bea } else { &ana }, &accepted);
        async move { step(node, who, accepted, "cancelled", "sorry").await }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(stock().await, STOCK, "the item went back once");
    let (_, held_now, _) = figures(&node, &listing).await;
    assert_eq!(held_now, 0);
    node.shutdown().await;
}
