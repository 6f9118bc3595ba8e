//! Listing images: stored with a thumbnail, served under /media/, removed with their files.

use harness::{TestNode, jpeg, png};
use serde_json::json;

use crate::support::{
    assert_error, fetch_listing, image_rows, media_files, noisy_png, path_of, uploaded,
};

/// GET a media URL: its status, content type and bytes.
async fn fetch_media(node: &TestNode, url: &str) -> (u16, String, Vec<u8>) {
    let response = node.get(&path_of(node, url), None).await;
    let status = response.status().as_u16();
    let content_type = match response.headers().get("content-type") {
        Some(value) => value.to_str().unwrap().to_string(),
        None => String::new(),
    };
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// Fetch a media URL, check it is served as `media_type`, and decode it: its size in pixels.
async fn served_image(node: &TestNode, url: &serde_json::Value, media_type: &str) -> (u32, u32) {
    let (status, content_type, bytes) = fetch_media(node, url.as_str().unwrap()).await;
    assert_eq!(status, 200, "{url}");
    assert_eq!(content_type, media_type, "{url}");
    let image = image::load_from_memory(&bytes).unwrap();
    (image.width(), image.height())
}

#[tokio::test]
async fn png_and_jpeg_uploads_are_stored_with_thumbnails_and_served() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();

    let png_image = uploaded(&node, &ana, id, png(1200, 600), "A blue mug from above").await;
    assert_eq!(png_image["alt"], "A blue mug from above");
    assert_eq!(png_image["width"], 1200);
    assert_eq!(png_image["height"], 600);
    assert_eq!(png_image["media_type"], "image/png");
    let full = served_image(&node, &png_image["url"], "image/png").await;
    assert_eq!(full, (1200, 600));
    let thumb = served_image(&node, &png_image["thumbnail_url"], "image/jpeg").await;
    assert_eq!(thumb, (480, 240), "the thumbnail fits in 480 px");

    let jpeg_image = uploaded(&node, &ana, id, jpeg(300, 200), "  The mug's handle  ").await;
    assert_eq!(jpeg_image["alt"], "The mug's handle", "alt text is trimmed");
    assert_eq!(jpeg_image["width"], 300);
    assert_eq!(jpeg_image["height"], 200);
    assert_eq!(jpeg_image["media_type"], "image/jpeg");
    assert_eq!(
        served_image(&node, &jpeg_image["url"], "image/jpeg").await,
        (300, 200)
    );
    served_image(&node, &jpeg_image["thumbnail_url"], "image/jpeg").await;

    // A photo bigger than the JSON body limit: uploads have their own limit.
    let photo = noisy_png(400, 400);
    assert!(photo.len() > node.config.server.body_limit_bytes);
    let big = uploaded(&node, &ana, id, photo, "Close-up of the glaze").await;
    assert_eq!(big["width"], 400);

    let shown = fetch_listing(&node, id).await;
    let expected = json!([png_image, jpeg_image, big]);
    assert_eq!(shown["images"], expected, "in upload order");
    assert_eq!(
        media_files(&node).len(),
        6,
        "three images, three thumbnails"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn media_serves_only_files_inside_the_media_dir() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let image = uploaded(&node, &ana, id, png(64, 64), "A mug").await;
    let served = node
        .get(&path_of(&node, image["url"].as_str().unwrap()), None)
        .await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");

    std::fs::write(node.dir().join("secret.txt"), "not for the web").unwrap();
    let paths = [
        "/media/../secret.txt",
        "/media/..%2fsecret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/nothing.png",
    ];
    for path in paths {
        let response = node.get(path, None).await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(matches!(status, 400 | 404), "{path}: {status}");
        assert!(!body.contains("not for the web"), "{path}");
    }
    node.shutdown().await;
}

#[tokio::test]
async fn deleting_an_image_removes_it_and_its_files() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let gone = uploaded(&node, &ana, id, png(64, 48), "A mug").await;
    let kept = uploaded(&node, &ana, id, jpeg(64, 48), "A bowl").await;
    assert_eq!(media_files(&node).len(), 4);

    let path = format!(
        "/api/v1/listings/{id}/images/{}",
        gone["id"].as_str().unwrap()
    );
    let deleted = node.delete(&path, Some(&ana.token)).await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());

    for url in [&gone["url"], &gone["thumbnail_url"]] {
        assert_eq!(
            fetch_media(&node, url.as_str().unwrap()).await.0,
            404,
            "{url}"
        );
    }
    assert_eq!(
        fetch_media(&node, kept["url"].as_str().unwrap()).await.0,
        200
    );
    let files = media_files(&node);
    assert_eq!(files.len(), 2);
    let kept_id = kept["id"].as_str().unwrap();
    assert!(files.iter().all(|f| f.starts_with(kept_id)), "{files:?}");
    assert_eq!(image_rows(&node).await, 1);
    assert_eq!(fetch_listing(&node, id).await["images"], json!([kept]));
    let again = node.delete(&path, Some(&ana.token)).await;
    assert_error(again, 404, "not_found", "deleted twice").await;
    node.shutdown().await;
}
