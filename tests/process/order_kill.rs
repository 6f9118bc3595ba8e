//! kill -9 in the middle of a burst of orders for a shop on the node, then a restart: every
//! order that exists was answered, and stock plus what the open orders hold is what the seller
//! set.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use harness::{PASSWORD, process::Site, sample_listing};
use market::entities::{listing, order};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::{BIN, LOG, until};

const STOCK: i32 = 200;
const REQUESTS: usize = 150;

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_mid_order_burst_leaves_no_order_holding_nothing() {
    let site = Site::new(BIN).await;
    site.shop("bea", "pottery");
    site.cli(
        &["user", "create", "--username", "ana", "--password-stdin"],
        PASSWORD,
    );
    let mut node = site.serve(LOG).await;
    let bea = node.login("bea", PASSWORD).await;
    let mut body = sample_listing();
    body["stock"] = json!(STOCK);
    let listing_id = node.create_listing(&bea, "pottery", &body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ana = node.login("ana", PASSWORD).await;
    let api = |path: &str| format!("{}{path}", node.addr);
    let found: Value = node
        .http
        .get(api("/api/v1/catalog?q=mug"))
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = found["items"][0]["id"].clone();
    let quote = |request: Value| {
        let (http, url, ana) = (node.http.clone(), api("/api/v1/orders/quote"), ana.clone());
        async move {
            let response = http.post(url).bearer_auth(ana).json(&request).send().await;
            response.unwrap().json::<Value>().await.unwrap()
        }
    };
    let options = quote(json!({"listing": entry, "quantity": 1})).await;
    let option = options["shipping_options"][0]["id"].clone();
    let priced = quote(json!({"listing": entry, "quantity": 1, "shipping_option": option})).await;
    let order = json!({"listing": entry, "quantity": 1, "shipping_option": option,
                       "total": priced["total"]});

    // The burst; the node is killed once a few orders have been answered, others in flight.
    let answered = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let (http, url) = (node.http.clone(), api("/api/v1/orders"));
            let (ana, order, answered) = (ana.clone(), order.clone(), answered.clone());
            tokio::spawn(async move {
                let sent = http.post(url).bearer_auth(ana).json(&order).send().await;
                if sent.is_ok_and(|r| r.status() == 201) {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let started = until(Duration::from_secs(30), || async {
        answered.load(Ordering::SeqCst) >= 10
    })
    .await;
    assert!(started, "no order was answered: {}", node.log_text());
    node.kill();
    for task in tasks {
        task.await.unwrap();
    }
    let before_kill = answered.load(Ordering::SeqCst);
    assert!(before_kill < REQUESTS, "the burst was over before the kill");

    // Restarted, the node serves on; the database adds up without any repair.
    node = site.serve(LOG).await;
    let db = site.database().await;
    let stock = listing::Entity::find_by_id(listing_id.clone())
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .stock;
    let orders = order::Entity::find()
        .filter(order::Column::ListingId.eq(listing_id.as_str()))
        .all(&db)
        .await
        .unwrap();
    let held: i32 = orders
        .iter()
        .filter(|o| o.state == "accepted")
        .map(|o| o.quantity)
        .sum();
    let offered = orders.iter().filter(|o| o.state == "offered").count();
    assert!(orders.len() >= before_kill, "an answered order was lost");
    assert_eq!(offered, 0, "orders recorded but never answered");
    assert_eq!(
        stock + held,
        STOCK,
        "stock {stock} + {held} held by accepted orders"
    );
    node.kill();
    db.close().await.unwrap();
    site.remove().await;
}
