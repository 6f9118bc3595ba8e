//! Who may do what: 401 without a valid token, 403 in someone else's shop, 404 for what does
//! not exist, and admins may manage any shop.

use harness::{Member, TestNode, png, sample_listing};
use reqwest::{Response, multipart};
use serde_json::json;

use crate::support::{assert_error, fetch_listing, json_with, listing_total};

#[tokio::test]
async fn another_members_shop_and_listings_are_403_and_stay_as_they_were() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let bob = node.member("bob").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    node.shop_with_listing(&bob, "bobs").await;
    let image = json_with(
        node.upload_image(&ana, id, png(32, 32), Some("A mug"))
            .await,
        201,
    )
    .await;
    let before = fetch_listing(&node, id).await;

    let create = node
        .create_listing(&bob, "pottery", &sample_listing())
        .await;
    assert_error(create, 403, "forbidden", "create in ana's shop").await;
    let patch = node
        .update_listing(&bob, id, &json!({"price": "0.01"}))
        .await;
    assert_error(patch, 403, "forbidden", "patch ana's listing").await;
    let delete = node
        .delete(&format!("/api/v1/listings/{id}"), Some(&bob.token))
        .await;
    assert_error(delete, 403, "forbidden", "withdraw ana's listing").await;
    let upload = node
        .upload_image(&bob, id, png(16, 16), Some("Not mine"))
        .await;
    assert_error(upload, 403, "forbidden", "upload to ana's listing").await;
    let image_path = format!(
        "/api/v1/listings/{id}/images/{}",
        image["id"].as_str().unwrap()
    );
    let delete_image = node.delete(&image_path, Some(&bob.token)).await;
    assert_error(delete_image, 403, "forbidden", "delete ana's image").await;
    // The shop is checked before the body, so a stranger's bad body is still just 403.
    let mut bad = sample_listing();
    bad["price"] = json!("-1");
    assert_error(
        node.create_listing(&bob, "pottery", &bad).await,
        403,
        "forbidden",
        "bad body",
    )
    .await;

    assert_eq!(
        fetch_listing(&node, id).await,
        before,
        "ana's listing is untouched"
    );
    assert_eq!(listing_total(&node, "pottery").await, 1);
    assert_eq!(listing_total(&node, "bobs").await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn an_admin_may_manage_any_shop() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let root = node.admin("root").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();

    let me = json_with(node.get("/api/v1/me", Some(&root.token)).await, 200).await;
    assert_eq!(me["role"], "admin");
    let created = json_with(
        node.create_listing(&root, "pottery", &sample_listing())
            .await,
        201,
    )
    .await;
    assert_eq!(created["shop"]["handle"], "pottery");
    let patched = json_with(
        node.update_listing(&root, id, &json!({"stock": 0})).await,
        200,
    )
    .await;
    assert_eq!(patched["status"], "sold_out");
    let image = json_with(
        node.upload_image(&root, id, png(16, 16), Some("Photo by the admin"))
            .await,
        201,
    )
    .await;
    let image_path = format!(
        "/api/v1/listings/{id}/images/{}",
        image["id"].as_str().unwrap()
    );
    assert_eq!(
        node.delete(&image_path, Some(&root.token)).await.status(),
        204
    );
    let withdrawn = json_with(
        node.delete(&format!("/api/v1/listings/{id}"), Some(&root.token))
            .await,
        200,
    )
    .await;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(
        listing_total(&node, "pottery").await,
        1,
        "the admin's listing is left on show"
    );
    node.shutdown().await;
}

/// Upload an image with exactly the `Authorization` header given (or none).
async fn upload_with_header(node: &TestNode, id: &str, authorization: Option<&str>) -> Response {
    let form = multipart::Form::new()
        .part("file", multipart::Part::bytes(png(8, 8)).file_name("photo"))
        .text("alt", "A mug");
    let mut request = node
        .http
        .post(node.url(&format!("/api/v1/listings/{id}/images")))
        .multipart(form);
    if let Some(value) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn no_token_or_a_bad_token_is_401_and_changes_nothing() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let before = fetch_listing(&node, id).await;
    let forged = Member {
        username: "ana".into(),
        token: "not-a-real-token".into(),
    };
    let listing_path = format!("/api/v1/listings/{id}");

    for token in [None, Some(forged.token.as_str())] {
        let context = format!("token {token:?}");
        let responses = [
            node.get("/api/v1/me", token).await,
            node.post_json(
                "/api/v1/shops",
                token,
                &json!({"handle": "mine", "name": "Mine"}),
            )
            .await,
            node.post_json("/api/v1/shops/pottery/listings", token, &sample_listing())
                .await,
            node.patch_json(&listing_path, token, &json!({"price": "0.01"}))
                .await,
            node.delete(&listing_path, token).await,
            node.post_json("/api/v1/auth/logout", token, &json!(null))
                .await,
        ];
        for response in responses {
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{context}"
            );
            assert_error(response, 401, "unauthorized", &context).await;
        }
    }
    assert_error(
        node.upload_image(&forged, id, png(8, 8), Some("x")).await,
        401,
        "unauthorized",
        "forged upload",
    )
    .await;
    for header in [
        None,
        Some("Basic YW5hOnB3"),
        Some("Bearer "),
        Some("bearer"),
    ] {
        let response = upload_with_header(&node, id, header).await;
        assert_error(
            response,
            401,
            "unauthorized",
            &format!("upload with {header:?}"),
        )
        .await;
    }
    let long = "t".repeat(500);
    assert_error(
        node.get("/api/v1/me", Some(&long)).await,
        401,
        "unauthorized",
        "long token",
    )
    .await;

    assert_eq!(
        fetch_listing(&node, id).await,
        before,
        "the listing is untouched"
    );
    let shops = json_with(node.get("/api/v1/shops", None).await, 200).await;
    assert_eq!(
        shops["items"].as_array().unwrap().len(),
        1,
        "no shop was opened"
    );
    assert_eq!(listing_total(&node, "pottery").await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn unknown_listings_and_images_are_404() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let random = uuid::Uuid::new_v4().to_string();
    for unknown in [random.as_str(), "not-a-uuid", "1", "..%2f..%2fetc"] {
        let path = format!("/api/v1/listings/{unknown}");
        assert_error(node.listing(unknown).await, 404, "not_found", &path).await;
        let patch = node
            .update_listing(&ana, unknown, &json!({"stock": 1}))
            .await;
        assert_error(patch, 404, "not_found", &format!("PATCH {path}")).await;
        let delete = node.delete(&path, Some(&ana.token)).await;
        assert_error(delete, 404, "not_found", &format!("DELETE {path}")).await;
        let upload = node.upload_image(&ana, unknown, png(8, 8), Some("x")).await;
        assert_error(upload, 404, "not_found", &format!("upload to {path}")).await;
    }
    let no_image = node
        .delete(
            &format!("/api/v1/listings/{id}/images/{random}"),
            Some(&ana.token),
        )
        .await;
    assert_error(no_image, 404, "not_found", "unknown image").await;
    let other = json_with(
        node.create_listing(&ana, "pottery", &sample_listing())
            .await,
        201,
    )
    .await;
    let image = json_with(
        node.upload_image(&ana, id, png(8, 8), Some("A mug")).await,
        201,
    )
    .await;
    let wrong_listing = format!(
        "/api/v1/listings/{}/images/{}",
        other["id"].as_str().unwrap(),
        image["id"].as_str().unwrap()
    );
    assert_error(
        node.delete(&wrong_listing, Some(&ana.token)).await,
        404,
        "not_found",
        "image of another listing",
    )
    .await;
    assert_eq!(
        fetch_listing(&node, id).await["images"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the image is still there"
    );
    node.shutdown().await;
}
