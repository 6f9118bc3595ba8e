//! Opening shops, finding them, and the rules on handles and names.

use harness::TestNode;
use serde_json::{Value, json};

use crate::support::{assert_error, assert_invalid, json_with};

#[tokio::test]
async fn a_member_opens_a_shop_that_is_then_shown_listed_and_on_their_account() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let body = json!({"handle": "@Pottery", "name": "Ana's Pottery ☕", "bio": "Mugs and bowls."});
    let created = json_with(
        node.post_json("/api/v1/shops", Some(&ana.token), &body)
            .await,
        201,
    )
    .await;
    assert_eq!(
        created["handle"], "pottery",
        "handle is lower-cased and loses its @"
    );
    assert_eq!(created["name"], "Ana's Pottery ☕");
    assert_eq!(created["bio"], "Mugs and bowls.");
    assert_eq!(created["url"], node.url("/shops/pottery"));
    assert!(
        created.get("private_key_pem").is_none() && !created.to_string().contains("PRIVATE KEY")
    );

    let shown = json_with(node.get("/api/v1/shops/pottery", None).await, 200).await;
    assert_eq!(shown, created);
    let shown = json_with(node.get("/api/v1/shops/POTTERY", None).await, 200).await;
    assert_eq!(
        shown["handle"], "pottery",
        "handles are found whatever their case"
    );

    let all = json_with(node.get("/api/v1/shops", None).await, 200).await;
    let handles: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["handle"])
        .collect();
    assert_eq!(handles, [&json!("pottery")]);

    let me = json_with(node.get("/api/v1/me", Some(&ana.token)).await, 200).await;
    assert_eq!(me["shops"][0]["handle"], "pottery");
    assert_eq!(me["shops"].as_array().unwrap().len(), 1);

    let listings = json_with(node.get("/api/v1/shops/pottery/listings", None).await, 200).await;
    assert_eq!(listings["total"], 0);
    assert_eq!(listings["items"], json!([]));
    node.shutdown().await;
}

#[tokio::test]
async fn a_taken_handle_is_409_whatever_its_case() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let bob = node.member("bob").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Ana's").await.status(),
        201
    );
    assert_error(
        node.create_shop(&bob, "pottery", "Bob's").await,
        409,
        "conflict",
        "same handle",
    )
    .await;
    assert_error(
        node.create_shop(&bob, "POTTERY", "Bob's").await,
        409,
        "conflict",
        "upper case",
    )
    .await;

    let all = json_with(node.get("/api/v1/shops", None).await, 200).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        all["items"][0]["name"], "Ana's",
        "the first shop is untouched"
    );
    let me = json_with(node.get("/api/v1/me", Some(&bob.token)).await, 200).await;
    assert_eq!(me["shops"], json!([]));
    node.shutdown().await;
}

#[tokio::test]
async fn bad_shop_fields_are_422_naming_the_field_and_open_nothing() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let cases = [
        (json!({"name": "No handle"}), "handle"),
        (json!({"handle": "has space", "name": "x"}), "handle"),
        (json!({"handle": "a-b", "name": "x"}), "handle"),
        (json!({"handle": "x".repeat(31), "name": "x"}), "handle"),
        (json!({"handle": "", "name": "x"}), "handle"),
        (json!({"handle": "pottery"}), "name"),
        (json!({"handle": "pottery", "name": "   "}), "name"),
        (
            json!({"handle": "pottery", "name": "x".repeat(101)}),
            "name",
        ),
        (
            json!({"handle": "pottery", "name": "x", "bio": "b".repeat(2001)}),
            "bio",
        ),
        (
            json!({"handle": "pottery", "name": "x", "colour": "blue"}),
            "colour",
        ),
        (json!({"handle": 7, "name": "x"}), "handle"),
    ];
    for (body, field) in cases {
        let response = node
            .post_json("/api/v1/shops", Some(&ana.token), &body)
            .await;
        assert_invalid(response, field, &body.to_string()).await;
    }
    let all = json_with(node.get("/api/v1/shops", None).await, 200).await;
    assert_eq!(all["items"], json!([]), "no refused shop was opened");
    node.shutdown().await;
}

#[tokio::test]
async fn unknown_shops_are_404_as_json() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    assert_error(
        node.get("/api/v1/shops/nobody", None).await,
        404,
        "not_found",
        "show",
    )
    .await;
    let listings = node.get("/api/v1/shops/nobody/listings", None).await;
    assert_error(listings, 404, "not_found", "listings").await;
    let create = node
        .create_listing(&ana, "nobody", &harness::sample_listing())
        .await;
    assert_error(create, 404, "not_found", "create listing").await;
    let unknown_route = node.get("/api/v1/no/such/thing", None).await;
    assert_eq!(unknown_route.headers()["content-type"], "application/json");
    assert_error(unknown_route, 404, "not_found", "unknown API route").await;
    node.shutdown().await;
}
