//! Paged lists of listings: newest first, with totals, and checked page parameters.

use harness::{Member, TestNode, sample_listing};
use serde_json::{Value, json};

use crate::support::{assert_invalid, json_with};

/// Publish `count` listings titled "Item 01", "Item 02", … one after the other.
async fn publish_items(node: &TestNode, member: &Member, shop: &str, count: usize) {
    for n in 1..=count {
        let mut body = sample_listing();
        body["title"] = json!(format!("Item {n:02}"));
        let response = node.create_listing(member, shop, &body).await;
        assert_eq!(response.status(), 201, "item {n}");
    }
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap().to_string())
        .collect()
}

fn items(range: impl DoubleEndedIterator<Item = usize>) -> Vec<String> {
    range.rev().map(|n| format!("Item {n:02}")).collect()
}

#[tokio::test]
async fn twenty_five_listings_page_newest_first() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Ana's Pottery")
            .await
            .status(),
        201
    );
    publish_items(&node, &ana, "pottery", 25).await;

    for base in ["/api/v1/shops/pottery/listings", "/api/v1/listings"] {
        let third = json_with(
            node.get(&format!("{base}?per_page=10&page=3"), None).await,
            200,
        )
        .await;
        assert_eq!(titles(&third), items(1..=5), "{base}: the oldest five");
        assert_eq!(
            (&third["total"], &third["has_next"]),
            (&json!(25), &json!(false))
        );
        assert_eq!(
            (&third["page"], &third["per_page"]),
            (&json!(3), &json!(10))
        );

        let first = json_with(
            node.get(&format!("{base}?per_page=10&page=1"), None).await,
            200,
        )
        .await;
        assert_eq!(titles(&first), items(16..=25), "{base}: the newest ten");
        assert_eq!(first["has_next"], true);
        let second = json_with(
            node.get(&format!("{base}?page=2&per_page=10"), None).await,
            200,
        )
        .await;
        assert_eq!(titles(&second), items(6..=15));
        assert_eq!(second["has_next"], true);

        let default = json_with(node.get(base, None).await, 200).await;
        assert_eq!(
            titles(&default),
            items(6..=25),
            "{base}: 20 a page by default"
        );
        assert_eq!(
            (&default["page"], &default["per_page"], &default["has_next"]),
            (&json!(1), &json!(20), &json!(true))
        );

        let past_the_end = json_with(
            node.get(&format!("{base}?per_page=10&page=4"), None).await,
            200,
        )
        .await;
        assert_eq!(
            (&past_the_end["items"], &past_the_end["total"]),
            (&json!([]), &json!(25))
        );
        assert_eq!(past_the_end["has_next"], false);

        let all = json_with(node.get(&format!("{base}?per_page=100"), None).await, 200).await;
        assert_eq!(titles(&all), items(1..=25));
        assert_eq!(all["has_next"], false);
    }
    node.shutdown().await;
}

#[tokio::test]
async fn a_shop_pages_only_its_own_listings_and_the_node_pages_all() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let bob = node.member("bob").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Ana's Pottery")
            .await
            .status(),
        201
    );
    assert_eq!(
        node.create_shop(&bob, "weaving", "Bob's Weaving")
            .await
            .status(),
        201
    );
    publish_items(&node, &ana, "pottery", 3).await;
    let mut scarf = sample_listing();
    scarf["title"] = json!("Scarf");
    assert_eq!(
        node.create_listing(&bob, "weaving", &scarf).await.status(),
        201
    );

    let pottery = json_with(node.get("/api/v1/shops/pottery/listings", None).await, 200).await;
    assert_eq!(titles(&pottery), items(1..=3));
    let weaving = json_with(node.get("/api/v1/shops/weaving/listings", None).await, 200).await;
    assert_eq!(titles(&weaving), ["Scarf"]);
    let all = json_with(node.get("/api/v1/listings?per_page=2", None).await, 200).await;
    assert_eq!(titles(&all), ["Scarf", "Item 03"]);
    assert_eq!((&all["total"], &all["has_next"]), (&json!(4), &json!(true)));
    node.shutdown().await;
}

#[tokio::test]
async fn bad_page_parameters_are_422_naming_them() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.shop_with_listing(&ana, "pottery").await;
    let cases = [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=", "page"),
        ("page=99999999999999999999999", "page"),
        ("page=1000001", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=2&per_page=-5", "per_page"),
    ];
    for base in ["/api/v1/shops/pottery/listings", "/api/v1/listings"] {
        for (query, field) in cases {
            let path = format!("{base}?{query}");
            assert_invalid(node.get(&path, None).await, field, &path).await;
        }
    }
    node.shutdown().await;
}

#[tokio::test]
async fn listings_can_be_found_by_tag_in_the_api_and_on_the_tag_page() {
    let node = harness::TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    for (title, tags) in [
        ("Mug", vec!["pottery", "mug"]),
        ("Bowl", vec!["pottery"]),
        ("Scarf", vec!["wool"]),
    ] {
        let mut body = harness::sample_listing();
        body["title"] = serde_json::json!(title);
        body["tags"] = serde_json::json!(tags);
        assert_eq!(
            node.create_listing(&ana, "pottery", &body).await.status(),
            201
        );
    }
    let found: serde_json::Value = node
        .get("/api/v1/listings?tag=%23Pottery", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 2);
    let page = node.get("/tags/pottery", None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Mug") && html.contains("Bowl") && !html.contains("Scarf"));
    assert_eq!(node.get("/tags/not%20a%20tag", None).await.status(), 404);
    node.shutdown().await;
}
