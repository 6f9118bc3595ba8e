//! Listing round trips: what goes in comes back exactly; changes, stock and withdrawal.

use harness::{Member, TestNode, png, sample_listing};
use serde_json::{Value, json};

use crate::support::{assert_error, fetch_listing, json_with, listing_total, open_shop};

/// `sample_listing()` with another price, currency, stock and title.
fn listing_body(price: &str, currency: &str, stock: i64, title: &str) -> Value {
    let mut body = sample_listing();
    body["price"] = json!(price);
    body["currency"] = json!(currency);
    body["stock"] = json!(stock);
    body["title"] = json!(title);
    body
}

/// PATCH listing `id` as `member`, expecting 200; the changed listing.
async fn patch_ok(node: &TestNode, member: &Member, id: &str, body: Value) -> Value {
    json_with(node.update_listing(member, id, &body).await, 200).await
}

#[tokio::test]
async fn prices_currencies_stock_and_titles_come_back_exactly() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    open_shop(&node, &ana, "pottery", "Ana's Pottery").await;
    let cases = [
        ("0.10", "EUR", 1, "Small mug"),
        ("99999.99", "EUR", 1_000_000, "Kiln"),
        ("1500", "JPY", 7, "Cerámica ☕ 日本"),
        ("1.234", "KWD", 0, "<script>alert(1)</script>"),
        ("0.00", "USD", 2, "Free sample & \"quotes\" 'here'"),
    ];
    let html = "<p>Hand thrown <strong>stoneware</strong>, 350 ml.</p>\n";
    for (price, currency, stock, title) in cases {
        let body = listing_body(price, currency, stock, title);
        let response = node.create_listing(&ana, "pottery", &body).await;
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let created = json_with(response, 201).await;
        let id = created["id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert_eq!(created["url"], node.url(&format!("/listings/{id}")));
        assert_eq!(location, node.url(&format!("/listings/{id}")));
        let upper = fetch_listing(&node, &id.to_uppercase()).await;
        assert_eq!(upper["id"], id, "ids are found whatever their case");
        for shown in [created.clone(), fetch_listing(&node, id).await] {
            assert_eq!(shown["price"], price, "{title}");
            assert_eq!(shown["currency"], currency, "{title}");
            assert_eq!(shown["stock"], stock, "{title}");
            assert_eq!(shown["title"], title, "HTML and Unicode are kept as typed");
            let status = if stock == 0 { "sold_out" } else { "active" };
            assert_eq!(shown["status"], status, "{title}");
            assert_eq!(shown["shop"]["handle"], "pottery");
            assert_eq!(shown["shop"]["name"], "Ana's Pottery");
            assert_eq!(shown["description"], "Hand thrown **stoneware**, 350 ml.");
            assert_eq!(shown["description_html"], html);
            assert_eq!(shown["images"], json!([]));
        }
    }
    assert_eq!(listing_total(&node, "pottery").await, 5);
    node.shutdown().await;
}

#[tokio::test]
async fn short_prices_and_lower_case_currencies_are_written_out_in_full() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    open_shop(&node, &ana, "pottery", "Ana's Pottery").await;
    let cases = [
        ("28", "eur", "28.00", "EUR"),
        ("0.1", "EUR", "0.10", "EUR"),
        ("1.5", "kwd", "1.500", "KWD"),
        (" 7 ", "JPY", "7", "JPY"),
    ];
    for (price, currency, shown_price, shown_currency) in cases {
        let body = listing_body(price, currency, 1, "Mug");
        let created = json_with(node.create_listing(&ana, "pottery", &body).await, 201).await;
        assert_eq!(created["price"], shown_price, "{price} {currency}");
        assert_eq!(created["currency"], shown_currency, "{price} {currency}");
    }
    node.shutdown().await;
}

#[tokio::test]
async fn tags_lose_their_hash_are_lower_cased_and_deduplicated() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    open_shop(&node, &ana, "pottery", "Ana's Pottery").await;
    let mut body = sample_listing();
    body["tags"] = json!([
        "#Pottery",
        "pottery",
        "MUG",
        "#mug",
        "Cerámica",
        "hand_made",
        " #Glaze "
    ]);
    let created = json_with(node.create_listing(&ana, "pottery", &body).await, 201).await;
    let expected = json!(["pottery", "mug", "cerámica", "hand_made", "glaze"]);
    assert_eq!(created["tags"], expected);
    let id = created["id"].as_str().unwrap();
    assert_eq!(fetch_listing(&node, id).await["tags"], expected);

    let retag = json!({"tags": ["#Bowl", "BOWL"]});
    let patched = json_with(node.update_listing(&ana, id, &retag).await, 200).await;
    assert_eq!(
        patched["tags"],
        json!(["bowl"]),
        "tags are replaced, not added"
    );
    let cleared = json_with(
        node.update_listing(&ana, id, &json!({"tags": []})).await,
        200,
    )
    .await;
    assert_eq!(cleared["tags"], json!([]));

    let mut bare = sample_listing();
    bare.as_object_mut().unwrap().remove("tags");
    bare.as_object_mut().unwrap().remove("description");
    let created = json_with(node.create_listing(&ana, "pottery", &bare).await, 201).await;
    assert_eq!(created["tags"], json!([]));
    assert_eq!(created["description"], "");
    node.shutdown().await;
}

#[tokio::test]
async fn patch_changes_what_it_names_and_stock_decides_sold_out() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();

    let change =
        json!({"title": "Green mug", "price": "30.50", "tags": ["green"], "description": "*New*"});
    let patched = patch_ok(&node, &ana, id, change).await;
    assert_eq!(patched["title"], "Green mug");
    assert_eq!(patched["price"], "30.50");
    assert_eq!(patched["currency"], "EUR", "unchanged");
    assert_eq!(patched["stock"], 3, "unchanged");
    assert_eq!(patched["tags"], json!(["green"]));
    assert_eq!(patched["description_html"], "<p><em>New</em></p>\n");
    assert_eq!(patched["created_at"], listing["created_at"]);
    assert_ne!(patched["updated_at"], listing["updated_at"]);
    assert_eq!(fetch_listing(&node, id).await, patched);

    let sold_out = patch_ok(&node, &ana, id, json!({"stock": 0})).await;
    assert_eq!(sold_out["stock"], 0);
    assert_eq!(sold_out["status"], "sold_out");
    assert_eq!(
        listing_total(&node, "pottery").await,
        1,
        "sold out listings stay on show"
    );
    let restocked = patch_ok(&node, &ana, id, json!({"stock": 12})).await;
    assert_eq!(restocked["stock"], 12);
    assert_eq!(restocked["status"], "active");

    let dollars = patch_ok(&node, &ana, id, json!({"currency": "USD"})).await;
    assert_eq!(dollars["price"], "30.50");
    assert_eq!(dollars["currency"], "USD");
    let to_yen = node
        .update_listing(&ana, id, &json!({"currency": "JPY"}))
        .await;
    let refused = json_with(to_yen, 422).await;
    assert_eq!(
        refused["field"], "price",
        "30.50 cannot be a yen price: {refused}"
    );
    let yen = patch_ok(&node, &ana, id, json!({"currency": "JPY", "price": "4500"})).await;
    assert_eq!(yen["price"], "4500");
    assert_eq!(yen["currency"], "JPY");
    assert_eq!(fetch_listing(&node, id).await, yen);
    node.shutdown().await;
}

#[tokio::test]
async fn a_withdrawn_listing_leaves_the_shop_and_cannot_change() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let kept = json_with(
        node.create_listing(&ana, "pottery", &sample_listing())
            .await,
        201,
    )
    .await;
    let id = listing["id"].as_str().unwrap();
    let path = format!("/api/v1/listings/{id}");
    assert_eq!(listing_total(&node, "pottery").await, 2);

    let withdrawn = json_with(node.delete(&path, Some(&ana.token)).await, 200).await;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(fetch_listing(&node, id).await["status"], "withdrawn");

    for list in ["/api/v1/shops/pottery/listings", "/api/v1/listings"] {
        let page = json_with(node.get(list, None).await, 200).await;
        let ids: Vec<&Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| &l["id"])
            .collect();
        assert_eq!(ids, [&kept["id"]], "{list}: only the listing still on show");
        assert_eq!(page["total"], 1, "{list}");
    }

    let patch = node.update_listing(&ana, id, &json!({"stock": 5})).await;
    assert_error(patch, 409, "conflict", "PATCH a withdrawn listing").await;
    let upload = node.upload_image(&ana, id, png(8, 8), Some("A mug")).await;
    assert_error(upload, 409, "conflict", "image for a withdrawn listing").await;
    let again = json_with(node.delete(&path, Some(&ana.token)).await, 200).await;
    assert_eq!(
        again["status"], "withdrawn",
        "withdrawing twice is harmless"
    );
    let shown = fetch_listing(&node, id).await;
    assert_eq!(shown["status"], "withdrawn");
    assert_eq!(shown["stock"], 3);
    assert_eq!(shown["images"], json!([]));
    node.shutdown().await;
}

#[tokio::test]
async fn a_price_and_a_currency_changed_at_once_never_mix() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    open_shop(&node, &ana, "pottery", "Ana's Pottery").await;
    let yen = json!({"currency": "JPY", "price": "4500"});
    let euro = json!({"price": "28.50"});
    for round in 0..10 {
        let created = json_with(
            node.create_listing(&ana, "pottery", &sample_listing())
                .await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap();
        let (to_yen, new_price) = futures::join!(
            node.update_listing(&ana, id, &yen),
            node.update_listing(&ana, id, &euro)
        );
        let mut answered = vec![json_with(to_yen, 200).await];
        match new_price.status().as_u16() {
            200 => answered.push(new_price.json().await.unwrap()),
            // It came second: 28.50 is not a yen price.
            status => assert_eq!(status, 422, "round {round}"),
        }
        // The price on show is one some request was answered with: never 2850 yen.
        let shown = fetch_listing(&node, id).await;
        let pair = |l: &Value| (l["price"].clone(), l["currency"].clone());
        assert!(
            answered.iter().any(|a| pair(a) == pair(&shown)),
            "round {round}: {shown}"
        );
    }
    node.shutdown().await;
}
