//! Bodies that are not JSON objects we can read: 400, 415 and 413, with nothing written.

use harness::{Member, TestNode, sample_listing};
use reqwest::{Response, header::CONTENT_TYPE};
use serde_json::json;

use crate::{
    support::{assert_error, listing_total},
    validation::sample_with,
};

const LISTINGS: &str = "/api/v1/shops/pottery/listings";

/// POST a raw body to the pottery shop's listings, with `content_type` (none if `None`).
async fn post_raw(
    node: &TestNode,
    member: &Member,
    content_type: Option<&str>,
    body: String,
) -> Response {
    let mut request = node
        .http
        .post(node.url(LISTINGS))
        .bearer_auth(&member.token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn malformed_json_is_400_and_valid_json_of_the_wrong_shape_422() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.shop_with_listing(&ana, "pottery").await;
    let json = Some("application/json");
    let good = sample_listing().to_string();
    let malformed = [
        ("truncated", good[..good.len() - 5].to_string()),
        ("trailing comma", r#"{"title": "Mug",}"#.to_string()),
        ("single quotes", "{'title': 'Mug'}".to_string()),
        ("empty", String::new()),
    ];
    for (case, body) in malformed {
        let response = post_raw(&node, &ana, json, body).await;
        let refused = assert_error(response, 400, "bad_request", case).await;
        assert!(
            refused["message"].as_str().unwrap().contains("JSON"),
            "{case}: {refused}"
        );
    }
    for body in ["[1, 2]", "\"a mug\"", "null"] {
        let response = post_raw(&node, &ana, json, body.to_string()).await;
        assert_error(response, 422, "invalid", body).await;
    }
    assert_eq!(
        listing_total(&node, "pottery").await,
        1,
        "nothing was written"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_and_one_over_the_limit_413() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.shop_with_listing(&ana, "pottery").await;
    let good = sample_listing().to_string();
    let types = [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ];
    for content_type in types {
        let response = post_raw(&node, &ana, content_type, good.clone()).await;
        let case = format!("{content_type:?}");
        assert_error(response, 415, "unsupported_media_type", &case).await;
    }

    // Just over the JSON body limit. The description alone would be refused at 20,000
    // characters, but the body is refused before it is read.
    let limit = node.config.server.body_limit_bytes;
    let big = sample_with("description", json!("x".repeat(limit))).to_string();
    assert!(big.len() > limit);
    let too_big = post_raw(&node, &ana, Some("application/json"), big).await;
    assert_error(too_big, 413, "payload_too_large", "body over the limit").await;

    assert_eq!(
        listing_total(&node, "pottery").await,
        1,
        "nothing was written"
    );
    let charset = Some("application/json; charset=utf-8");
    let ok = post_raw(&node, &ana, charset, good).await;
    assert_eq!(ok.status(), 201, "a charset parameter is fine");
    assert_eq!(listing_total(&node, "pottery").await, 2);
    node.shutdown().await;
}
