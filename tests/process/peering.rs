//! Two freshly started nodes (the real binary), peered with the CLI as an admin would: each
//! shows the other's whole catalog in search and pages within seconds, and edits follow.

use std::time::Duration;

use harness::{PASSWORD, process::Site};
use serde_json::{Value, json};

use super::{BIN, until};

async fn search(addr: &str, query: &str) -> Value {
    reqwest::get(format!("{addr}/api/v1/catalog?{query}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_nodes_peered_with_the_cli_show_each_others_catalogs() {
    let (a, b) = (Site::new(BIN).await, Site::new(BIN).await);
    a.shop("ana", "pottery");
    b.shop("bea", "weaving");
    let (node_a, node_b) = (a.serve("info").await, b.serve("info").await);
    let (token_a, token_b) = (
        node_a.login("ana", PASSWORD).await,
        node_b.login("bea", PASSWORD).await,
    );
    for n in 0..130 {
        let mut listing = json!({"title": format!("Scarf {n}"), "description": "Alpaca wool",
            "price": "45.50", "currency": "EUR", "stock": 4, "tags": ["alpaca", "scarf"]});
        if n == 0 {
            listing["title"] = json!("Poncho «andino» 🦙");
            listing["price"] = json!("0.10");
        }
        node_b.create_listing(&token_b, "weaving", &listing).await;
    }
    node_a
        .create_listing(
            &token_a,
            "pottery",
            &json!({"title": "Teapot", "description": "Stoneware",
            "price": "1500", "currency": "JPY", "stock": 1, "tags": ["tea"]}),
        )
        .await;

    // A's admin adds B; B runs in open mode and accepts; the CLI follows the copy to its end.
    let out = a.cli(&["peer", "add", &node_b.base, "--wait-secs", "60"], "");
    assert!(out.contains("copied"), "{out}");
    let out = b.cli(&["peer", "add", &node_a.base, "--wait-secs", "60"], "");
    assert!(out.contains("copied"), "{out}");
    let list = a.cli(&["peer", "list"], "");
    assert!(
        list.contains(&format!("{}\taccepted\taccepted\tyes\t130", b.domain)),
        "{list}"
    );

    // Each node's search shows the other's listings with their shop and node.
    let found = search(&node_a.addr, &format!("node={}&per_page=100", b.domain)).await;
    assert_eq!(found["total"], 130, "{found}");
    let poncho = search(&node_a.addr, "q=poncho").await;
    assert_eq!(poncho["total"], 1, "{poncho}");
    let item = &poncho["items"][0];
    assert_eq!(
        (item["price"].as_str(), item["currency"].as_str()),
        (Some("0.10"), Some("EUR"))
    );
    assert_eq!(item["node"], b.domain);
    let teapot = search(&node_b.addr, "q=teapot").await;
    assert_eq!(teapot["items"][0]["price"], "1500", "{teapot}");
    let page = reqwest::get(format!("{}/search?q=poncho", node_a.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Poncho «andino» 🦙") && page.contains(&b.domain),
        "{page}"
    );

    // An edit on B reaches A within seconds (the worker delivers it).
    let id = item["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let response = reqwest::Client::new()
        .patch(format!("{}/api/v1/listings/{id}", node_b.addr))
        .bearer_auth(&token_b)
        .json(&json!({"price": "0.20", "stock": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let edited = until(Duration::from_secs(15), || async {
        let now = search(&node_a.addr, "q=poncho").await;
        now["items"][0]["price"] == "0.20" && now["items"][0]["stock"] == 0
    })
    .await;
    assert!(edited, "the edit reached A");
    a.remove().await;
    b.remove().await;
}
