//! A shop's checkout settings: payment instructions and shipping options, set by its owner,
//! read by anyone; bad input is refused whole.

use harness::TestNode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_shop_sets_how_it_is_paid_and_how_it_ships() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;

    let empty: Value = node
        .get("/api/v1/shops/pottery/checkout", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        empty,
        json!({"payment_instructions": "", "shipping_options": []})
    );

    let body = json!({
        "payment_instructions": "Bank transfer to CLABE 012 180 0000 1234 5678, reference: your order number.",
        "shipping_options": [
            {"name": "Correos de México", "price": "120", "currency": "mxn", "regions": ["mx", "MX"]},
            {"name": "DHL Express", "price": "35.5", "currency": "USD", "regions": ["US", "CA"]},
            {"name": "Pickup at the Saturday market", "price": "0", "currency": "MXN", "pickup": true, "regions": ["MX"]}
        ]
    });
    let set = node
        .http
        .put(node.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&ana.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let set: Value = set.json().await.unwrap();
    let options = set["shipping_options"].as_array().unwrap();
    assert_eq!(options.len(), 3);
    assert_eq!(
        (
            &options[0]["price"],
            &options[0]["currency"],
            &options[0]["regions"]
        ),
        (&json!("120.00"), &json!("MXN"), &json!(["MX"]))
    );
    assert_eq!(options[1]["price"], "35.50");
    assert_eq!(
        (&options[2]["pickup"], &options[2]["regions"]),
        (&json!(true), &json!([]))
    );
    let read: Value = node
        .get("/api/v1/shops/pottery/checkout", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, set, "anyone reads what the owner set");

    // Keeping an option's id across edits.
    let keep = options[0]["id"].as_str().unwrap().to_string();
    let again = node
        .http
        .put(node.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&ana.token)
        .json(&json!({"payment_instructions": "Cash on pickup.", "shipping_options": [
            {"id": keep, "name": "Correos", "price": "130", "currency": "MXN", "regions": ["MX"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["shipping_options"][0]["id"], keep);
    node.shutdown().await;
}

#[tokio::test]
async fn bad_checkout_settings_are_refused_and_change_nothing() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let bea = node.member("bea").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let good = json!({"payment_instructions": "Transfer.", "shipping_options": [
        {"name": "Post", "price": "5.00", "currency": "EUR"}]});
    let put = |token: String, body: Value| {
        let node = &node;
        async move {
            node.http
                .put(node.url("/api/v1/shops/pottery/checkout"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(put(ana.token.clone(), good.clone()).await.status(), 200);
    assert_eq!(put(bea.token.clone(), good.clone()).await.status(), 403);
    let option = |o: Value| json!({"shipping_options": [o]});
    let bad = [
        (
            option(json!({"name": "", "price": "5", "currency": "EUR"})),
            "shipping_options[0].name",
        ),
        (
            option(json!({"name": "Post", "price": "5.001", "currency": "EUR"})),
            "shipping_options[0].price",
        ),
        (
            option(json!({"name": "Post", "price": "-1", "currency": "EUR"})),
            "shipping_options[0].price",
        ),
        (
            option(json!({"name": "Post", "price": "5", "currency": "XXX"})),
            "shipping_options[0].currency",
        ),
        (
            option(json!({"name": "Post", "price": "5", "currency": "EUR", "regions": ["Mexico"]})),
            "shipping_options[0].regions",
        ),
        (
            option(json!({"name": "Post", "price": "5", "currency": "EUR", "id": "nope"})),
            "shipping_options[0].id",
        ),
        (
            json!({"payment_instructions": "x".repeat(4001)}),
            "payment_instructions",
        ),
        (
            json!({"shipping_options": (0..21).map(|i| json!({"name": format!("O{i}"), "price": "1", "currency": "EUR"})).collect::<Vec<_>>()}),
            "shipping_options",
        ),
    ];
    for (body, field) in bad {
        let response = put(ana.token.clone(), body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{error}");
    }
    let unknown = put(ana.token.clone(), json!({"shipping": []})).await;
    assert_eq!(unknown.status(), 422);
    let missing = node.get("/api/v1/shops/nobody/checkout", None).await;
    assert_eq!(missing.status(), 404);
    let read: Value = node
        .get("/api/v1/shops/pottery/checkout", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["payment_instructions"], "Transfer.", "unchanged");
    assert_eq!(read["shipping_options"][0]["name"], "Post");
    node.shutdown().await;
}
