//! The HTML pages people (and, later, Mastodon users) land on: plain GETs, no JavaScript.

use harness::{TestNode, png, sample_listing};
use serde_json::json;

use crate::support::{json_with, visible_text};

/// GET a page: its status, and its HTML after checking it is HTML.
async fn page(node: &TestNode, path: &str) -> (u16, String) {
    let response = node.get(path, None).await;
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/html"),
        "{path}: {content_type}"
    );
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_home_page_shows_recent_listings_and_shops() {
    let node = TestNode::spawn().await;
    let (status, empty) = page(&node, "/").await;
    assert_eq!(status, 200);
    assert!(
        visible_text(&empty).contains("Nothing listed yet"),
        "{empty}"
    );

    let ana = node.member("ana").await;
    node.shop_with_listing(&ana, "pottery").await;
    let mut bowl = sample_listing();
    bowl["title"] = json!("Cerámica ☕ 日本");
    bowl["price"] = json!("1500");
    bowl["currency"] = json!("JPY");
    assert_eq!(
        node.create_listing(&ana, "pottery", &bowl).await.status(),
        201
    );
    let (status, home) = page(&node, "/").await;
    assert_eq!(status, 200);
    let text = visible_text(&home);
    assert!(
        text.contains("Blue glazed mug") && text.contains("28.00 EUR"),
        "{text}"
    );
    assert!(
        text.contains("Cerámica ☕ 日本") && text.contains("1500 JPY"),
        "{text}"
    );
    assert!(
        text.find("Cerámica").unwrap() < text.find("Blue glazed mug").unwrap(),
        "newest first: {text}"
    );
    assert!(
        text.contains(&format!("@pottery@{}", node.domain)),
        "{text}"
    );
    assert!(!text.contains("Nothing listed yet"));
    node.shutdown().await;
}

#[tokio::test]
async fn a_shop_page_shows_the_shop_and_what_it_sells() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let body =
        json!({"handle": "pottery", "name": "Ana's Pottery", "bio": "Stoneware from Oaxaca."});
    assert_eq!(
        node.post_json("/api/v1/shops", Some(&ana.token), &body)
            .await
            .status(),
        201
    );
    let (status, empty) = page(&node, "/shops/pottery").await;
    assert_eq!(status, 200);
    assert!(
        visible_text(&empty).contains("nothing listed right now"),
        "{empty}"
    );

    let mug = json_with(
        node.create_listing(&ana, "pottery", &sample_listing())
            .await,
        201,
    )
    .await;
    let id = mug["id"].as_str().unwrap();
    assert_eq!(
        node.update_listing(&ana, id, &json!({"stock": 0}))
            .await
            .status(),
        200
    );
    let (status, shop) = page(&node, "/shops/pottery").await;
    assert_eq!(status, 200);
    let text = visible_text(&shop);
    for expected in [
        "Ana's Pottery",
        "Stoneware from Oaxaca.",
        "Blue glazed mug",
        "28.00 EUR",
        "Sold out",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    assert!(text.contains(&format!("@pottery@{}", node.domain)));
    assert!(
        shop.contains(&format!(
            "href=\"{}\"",
            node.url(&format!("/listings/{id}"))
        )),
        "links to the listing"
    );

    let (status, missing) = page(&node, "/shops/nobody").await;
    assert_eq!(status, 404);
    assert!(visible_text(&missing).contains("Not Found"), "{missing}");
    node.shutdown().await;
}

#[tokio::test]
async fn a_listing_page_shows_price_stock_photos_and_description() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let photo = node
        .upload_image(
            &ana,
            id,
            png(200, 100),
            Some("A blue mug on a wooden table"),
        )
        .await;
    let photo = json_with(photo, 201).await;

    let (status, html) = page(&node, &format!("/listings/{id}")).await;
    assert_eq!(status, 200);
    let text = visible_text(&html);
    for expected in [
        "Blue glazed mug",
        "28.00 EUR",
        "3 in stock",
        "A shop",
        "#pottery",
        "#mug",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    assert!(
        html.contains("alt=\"A blue mug on a wooden table\""),
        "{html}"
    );
    assert!(
        html.contains(photo["thumbnail_url"].as_str().unwrap()),
        "{html}"
    );
    assert!(
        html.contains("<strong>stoneware</strong>"),
        "the description is rendered: {html}"
    );
    assert!(!html.contains("**stoneware**"));

    let unknown = uuid::Uuid::new_v4();
    assert_eq!(page(&node, &format!("/listings/{unknown}")).await.0, 404);
    assert_eq!(page(&node, "/listings/not-a-uuid").await.0, 404);
    assert_eq!(page(&node, "/no/such/page").await.0, 404);
    node.shutdown().await;
}

#[tokio::test]
async fn html_typed_into_any_text_is_shown_as_text() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let shop = json!({"handle": "pottery", "name": "<b>Bold</b> pots", "bio": "<img src=x onerror=alert(2)>"});
    assert_eq!(
        node.post_json("/api/v1/shops", Some(&ana.token), &shop)
            .await
            .status(),
        201
    );
    let mut body = sample_listing();
    body["title"] = json!("<script>alert(1)</script> Mug");
    body["description"] = json!(
        "Nice <script>alert(3)</script> and <img src=x onerror=alert(4)> [link](javascript:alert(5))"
    );
    let created = json_with(node.create_listing(&ana, "pottery", &body).await, 201).await;
    let id = created["id"].as_str().unwrap();
    let photo = node
        .upload_image(&ana, id, png(20, 20), Some("\"><script>alert(6)</script>"))
        .await;
    assert_eq!(photo.status(), 201);

    for path in [
        format!("/listings/{id}"),
        "/shops/pottery".to_string(),
        "/".to_string(),
    ] {
        let (status, html) = page(&node, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains("<script>alert"),
            "{path}: raw script in {html}"
        );
        assert!(!html.contains("<b>Bold"), "{path}: raw markup in {html}");
        assert!(
            !html.contains("<img src=x"),
            "{path}: an image tag from the text: {html}"
        );
        assert!(!html.contains("href=\"javascript:"), "{path}: {html}");
        let escaped =
            html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)");
        assert!(escaped, "{path}: the title is shown as text: {html}");
        let text = visible_text(&html);
        assert!(
            text.contains("<script>alert(1)</script> Mug"),
            "{path}: the title as typed: {text}"
        );
        assert!(
            text.contains("<b>Bold</b> pots"),
            "{path}: the shop name as typed: {text}"
        );
    }
    node.shutdown().await;
}

#[tokio::test]
async fn a_withdrawn_listing_page_is_410_and_leaves_the_shop_page() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    assert_eq!(page(&node, &format!("/listings/{id}")).await.0, 200);
    let withdrawn = node
        .delete(&format!("/api/v1/listings/{id}"), Some(&ana.token))
        .await;
    assert_eq!(withdrawn.status(), 200);

    let (status, gone) = page(&node, &format!("/listings/{id}")).await;
    assert_eq!(status, 410);
    let text = visible_text(&gone);
    assert!(
        text.contains("withdrawn") && !text.contains("Blue glazed mug"),
        "{text}"
    );
    let (_, shop) = page(&node, "/shops/pottery").await;
    assert!(!visible_text(&shop).contains("Blue glazed mug"), "{shop}");
    let (_, home) = page(&node, "/").await;
    assert!(!visible_text(&home).contains("Blue glazed mug"), "{home}");
    node.shutdown().await;
}
