//! Bad listing fields: each refusal is a 422 naming the field, and nothing is half-written.

use harness::{TestNode, sample_listing};
use serde_json::{Value, json};

use crate::support::{assert_invalid, fetch_listing, listing_total};

/// `sample_listing()` with `key` set to `value` (or removed, for `Value::Null`).
pub fn sample_with(key: &str, value: Value) -> Value {
    let mut body = sample_listing();
    let object = body.as_object_mut().unwrap();
    if value.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_string(), value);
    }
    body
}

#[tokio::test]
async fn each_bad_field_is_422_naming_it_and_the_shop_keeps_what_it_had() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.shop_with_listing(&ana, "pottery").await;
    let eleven: Vec<String> = (0..11).map(|i| format!("tag{i}")).collect();
    let null = Value::Null;
    // (case, field, value, a word the message must contain); the field is also the one named.
    let cases = [
        ("missing title", "title", null.clone(), "title"),
        ("empty title", "title", json!(""), "empty"),
        ("blank title", "title", json!("   "), "empty"),
        ("long title", "title", json!("é".repeat(201)), "200"),
        ("control character", "title", json!("bell\u{7}"), "control"),
        ("title as a number", "title", json!(5), "string"),
        ("unknown field", "colour", json!("blue"), "colour"),
        ("missing price", "price", null.clone(), "price"),
        ("negative price", "price", json!("-1.00"), "negative"),
        (
            "price as a JSON number",
            "price",
            json!(28.0),
            "decimal string",
        ),
        ("price as words", "price", json!("twenty"), "decimal amount"),
        (
            "price with an exponent",
            "price",
            json!("1e3"),
            "decimal amount",
        ),
        ("price too large", "price", json!("1000000000"), "below"),
        (
            "three decimals in EUR",
            "price",
            json!("28.001"),
            "2 decimal places",
        ),
        // 29 significant digits: more than a 96-bit decimal holds; it must not be rounded.
        (
            "a tiny fraction",
            "price",
            json!("28.0000000000000000000000000001"),
            "2 decimal",
        ),
        ("unknown currency", "currency", json!("XYZ"), "XYZ"),
        (
            "currency without minor unit",
            "currency",
            json!("XAU"),
            "minor unit",
        ),
        ("missing stock", "stock", null.clone(), "stock"),
        ("stock as a float", "stock", json!(2.5), "floating point"),
        ("stock as a string", "stock", json!("3"), "string"),
        ("negative stock", "stock", json!(-1), "negative"),
        ("huge stock", "stock", json!(1_000_001), "1000000"),
        ("too many tags", "tags", json!(eleven), "10"),
        (
            "tag with a space",
            "tags",
            json!(["two words"]),
            "two words",
        ),
        ("tag with markup", "tags", json!(["<b>"]), "letters"),
        ("empty tag", "tags", json!(["#"]), "1 to 64"),
        ("tags as a string", "tags", json!("pottery"), "sequence"),
        (
            "long description",
            "description",
            json!("d".repeat(20_001)),
            "20000",
        ),
    ];
    for (case, field, value, says) in cases {
        let body = sample_with(field, value);
        let response = node.create_listing(&ana, "pottery", &body).await;
        let refused = assert_invalid(response, field, case).await;
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.contains(says),
            "{case}: {message:?} should mention {says:?}"
        );
        assert_eq!(
            listing_total(&node, "pottery").await,
            1,
            "{case}: nothing written"
        );
    }
    let mut yen = sample_with("currency", json!("JPY"));
    yen["price"] = json!("10.5");
    let response = node.create_listing(&ana, "pottery", &yen).await;
    let refused = assert_invalid(response, "price", "10.5 JPY").await;
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("JPY allows 0 decimal places"), "{message}");
    assert_eq!(listing_total(&node, "pottery").await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn a_refused_patch_changes_nothing() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let cases = [
        ("nothing to change", json!({}), "body"),
        ("unknown field", json!({"colour": "blue"}), "colour"),
        ("empty title", json!({"title": ""}), "title"),
        ("negative price", json!({"price": "-1"}), "price"),
        ("price as a number", json!({"price": 30}), "price"),
        ("three decimals", json!({"price": "28.001"}), "price"),
        ("unknown currency", json!({"currency": "XYZ"}), "currency"),
        ("JPY cannot keep 28.50", json!({"currency": "JPY"}), "price"),
        ("negative stock", json!({"stock": -1}), "stock"),
        ("stock as a float", json!({"stock": 1.5}), "stock"),
        ("bad tag", json!({"tags": ["two words"]}), "tags"),
        (
            "good title, bad tags",
            json!({"title": "Renamed", "tags": ["a b"]}),
            "tags",
        ),
        (
            "good stock, bad price",
            json!({"stock": 0, "price": "abc"}),
            "price",
        ),
    ];
    let before = node
        .update_listing(&ana, id, &json!({"price": "28.50"}))
        .await;
    let before: Value = before.json().await.unwrap();
    assert_eq!(before["price"], "28.50");
    for (case, patch, field) in cases {
        assert_invalid(node.update_listing(&ana, id, &patch).await, field, case).await;
        let now = fetch_listing(&node, id).await;
        assert_eq!(now, before, "{case}: the listing is unchanged");
    }
    node.shutdown().await;
}
