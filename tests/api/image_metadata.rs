//! What a photo carries besides its pixels (EXIF GPS positions, XMP, comments) is never served:
//! every format we accept is re-encoded from its pixels, turned the right way up first.

use harness::{
    Member, TestNode,
    metadata::{
        SECRET, gif_with_metadata, jpeg_with_metadata, leaks, png_with_metadata, webp_with_metadata,
    },
};
use reqwest::multipart;
use serde_json::Value;

use crate::support::{json_with, media_files, path_of, uploaded};

/// GET a media URL that must be served: its content type and bytes.
async fn served(node: &TestNode, url: &Value) -> (String, Vec<u8>) {
    let response = node.get(&path_of(node, url.as_str().unwrap()), None).await;
    assert_eq!(response.status(), 200, "{url}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (content_type, response.bytes().await.unwrap().to_vec())
}

/// `POST /api/v1/shops/{handle}/avatar` with `bytes` as the file.
async fn set_avatar(node: &TestNode, member: &Member, handle: &str, bytes: Vec<u8>) -> Value {
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::bytes(bytes).file_name("avatar.webp"),
    );
    let response = node
        .http
        .post(node.url(&format!("/api/v1/shops/{handle}/avatar")))
        .bearer_auth(&member.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_with(response, 200).await
}

#[tokio::test]
async fn no_format_is_served_with_its_gps_position_xmp_or_comments() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();

    // Orientation 6: stored 60×40, shown turned a quarter clockwise, 40×60. GIF has no EXIF.
    let cases = [
        (
            "JPEG",
            jpeg_with_metadata(60, 40, 6),
            "image/jpeg",
            (40, 60),
        ),
        ("PNG", png_with_metadata(60, 40, 6), "image/png", (40, 60)),
        (
            "WebP",
            webp_with_metadata(60, 40, 6),
            "image/jpeg",
            (40, 60),
        ),
        ("GIF", gif_with_metadata(60, 40), "image/png", (60, 40)),
    ];
    let mut leaked = Vec::new();
    let mut served_images = Vec::new();
    for (format, bytes, media_type, size) in cases {
        assert!(leaks(&bytes).contains(&"the GPS latitude") || format == "GIF");
        let image = uploaded(&node, &ana, id, bytes, &format!("A {format} mug")).await;
        let (content_type, full) = served(&node, &image["url"]).await;
        let (_, thumb) = served(&node, &image["thumbnail_url"]).await;
        for (what, bytes) in [("image", &full), ("thumbnail", &thumb)] {
            if !leaks(bytes).is_empty() {
                leaked.push(format!("{format} {what}: {:?}", leaks(bytes)));
            }
        }
        served_images.push((format, image, content_type, full, media_type, size));
    }
    assert_eq!(leaked, Vec::<String>::new(), "metadata served");

    for (format, image, content_type, full, media_type, (width, height)) in served_images {
        assert_eq!(image["media_type"], media_type, "{format}: {image}");
        assert_eq!(content_type, media_type, "{format}");
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(width), Some(height)),
            "{format}: the right way up"
        );
        let decoded = image::load_from_memory(&full).unwrap();
        assert_eq!(
            (u64::from(decoded.width()), u64::from(decoded.height())),
            (width, height),
            "{format}: the served pixels are turned, not just the numbers"
        );
    }

    // A shop's avatar is made the same way.
    let shop = set_avatar(&node, &ana, "pottery", webp_with_metadata(60, 40, 6)).await;
    let (_, avatar) = served(&node, &shop["avatar_url"]).await;
    assert_eq!(leaks(&avatar), Vec::<&str>::new(), "the avatar");
    assert_eq!(media_files(&node).len(), 4 * 2 + 1);

    // Nothing of it reaches the pages either.
    let page = node.get(&format!("/listings/{id}"), None).await;
    let html = page.text().await.unwrap();
    assert!(!html.contains(SECRET), "{html}");
    node.shutdown().await;
}
