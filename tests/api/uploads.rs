//! The limits on listing images: four a listing (also when uploads race), alt text required,
//! images only, a size limit. A refused upload leaves neither files nor rows behind.

use harness::{Storage, TestNode, png};
use serde_json::{Value, json};

use crate::support::{
    assert_error, assert_invalid, fetch_listing, image_rows, media_files, noisy_png, uploaded,
};

/// The alt texts of a listing's images, in order.
async fn alts(node: &TestNode, id: &str) -> Vec<Value> {
    let listing = fetch_listing(node, id).await;
    listing["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["alt"].clone())
        .collect()
}

#[tokio::test]
async fn a_fifth_image_is_409_and_leaves_nothing_behind() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    for n in 1..=4 {
        uploaded(&node, &ana, id, png(40, 30), &format!("Photo {n}")).await;
    }
    let files = media_files(&node);
    assert_eq!(files.len(), 8);
    let fifth = node
        .upload_image(&ana, id, png(40, 30), Some("Photo 5"))
        .await;
    assert_error(fifth, 409, "conflict", "fifth image").await;
    assert_eq!(
        media_files(&node),
        files,
        "the fifth image's files were removed"
    );
    assert_eq!(image_rows(&node).await, 4);
    let expected = [
        json!("Photo 1"),
        json!("Photo 2"),
        json!("Photo 3"),
        json!("Photo 4"),
    ];
    assert_eq!(alts(&node, id).await, expected);

    // Making room lets the next one in, after the others.
    let first = fetch_listing(&node, id).await["images"][0]["id"].clone();
    let path = format!("/api/v1/listings/{id}/images/{}", first.as_str().unwrap());
    assert_eq!(node.delete(&path, Some(&ana.token)).await.status(), 204);
    uploaded(&node, &ana, id, png(40, 30), "Photo 5").await;
    let expected = [
        json!("Photo 2"),
        json!("Photo 3"),
        json!("Photo 4"),
        json!("Photo 5"),
    ];
    assert_eq!(alts(&node, id).await, expected);
    node.shutdown().await;
}

#[tokio::test]
async fn uploads_at_the_same_time_still_stop_at_four() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let uploads = (0..6).map(|_| node.upload_image(&ana, id, png(40, 30), Some("Photo")));
    let responses = futures::future::join_all(uploads).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 201, 409, 409]);
    assert_eq!(image_rows(&node).await, 4);
    assert_eq!(alts(&node, id).await.len(), 4);
    assert_eq!(
        media_files(&node).len(),
        8,
        "the refused uploads' files were removed"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn refused_uploads_leave_no_files_and_no_rows() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();

    // The one image of an upload is `images[0]`, as in a listing created with its photos.
    let field = "images[0].alt";
    let no_alt = node.upload_image(&ana, id, png(64, 64), None).await;
    let no_alt = assert_invalid(no_alt, field, "no alt").await;
    let message = no_alt["message"].as_str().unwrap();
    assert!(message.contains("alt text is required"), "{message}");
    let blank = node.upload_image(&ana, id, png(64, 64), Some("   ")).await;
    assert_invalid(blank, field, "blank alt").await;
    let long_alt = "a".repeat(1501);
    let long = node
        .upload_image(&ana, id, png(64, 64), Some(&long_alt))
        .await;
    assert_invalid(long, field, "long alt").await;

    let mut truncated = png(64, 64);
    truncated.truncate(truncated.len() / 2);
    let not_images: [(&str, Vec<u8>); 5] = [
        ("text", b"Just some notes about the mug.\n".to_vec()),
        ("script", b"<script>alert(1)</script>".to_vec()),
        (
            "svg",
            br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#.to_vec(),
        ),
        ("half a PNG", truncated),
        ("nothing", Vec::new()),
    ];
    for (case, bytes) in not_images {
        let response = node.upload_image(&ana, id, bytes, Some("A photo")).await;
        assert_error(response, 415, "unsupported_media_type", case).await;
    }

    assert_eq!(media_files(&node), Vec::<String>::new());
    assert_eq!(image_rows(&node).await, 0);
    assert_eq!(fetch_listing(&node, id).await["images"], json!([]));
    node.shutdown().await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413_and_leaves_nothing_behind() {
    let node = TestNode::spawn_with(Storage::Default, |c| c.media.max_image_bytes = 10_000).await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();

    // Over the image limit, within the multipart allowance (limit + 64 KiB): read, then refused.
    let over = noisy_png(80, 80);
    assert!(
        over.len() > 10_000 && over.len() < 64 * 1024,
        "{}",
        over.len()
    );
    let response = node.upload_image(&ana, id, over, Some("A photo")).await;
    let refused = assert_error(response, 413, "payload_too_large", "20 KB").await;
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("10000"), "the limit is named: {message}");
    // Far past the limit: refused while the body is still arriving.
    let far_over = noisy_png(400, 400);
    assert!(far_over.len() > 400 * 1024);
    let response = node.upload_image(&ana, id, far_over, Some("A photo")).await;
    assert_error(response, 413, "payload_too_large", "400 KB").await;

    assert_eq!(media_files(&node), Vec::<String>::new());
    assert_eq!(image_rows(&node).await, 0);
    let small = png(16, 16);
    assert!(small.len() < 10_000);
    uploaded(&node, &ana, id, small, "A small mug").await;
    assert_eq!(media_files(&node).len(), 2);
    node.shutdown().await;
}

/// A single-colour grey JPEG of `width` × `height` pixels: 12000×12000 is 2 MB on disk.
fn flat_jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::GrayImage::from_pixel(width, height, image::Luma([180]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A 1×1 GIF whose header claims a `width` × `height` screen: a few dozen bytes that would
/// decode to `width` × `height` × 4 bytes.
fn gif_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbaImage::from_pixel(1, 1, image::Rgba([1, 2, 3, 255]))
        .write_to(&mut out, image::ImageFormat::Gif)
        .unwrap();
    let mut gif = out.into_inner();
    gif[6..8].copy_from_slice(&width.to_le_bytes());
    gif[8..10].copy_from_slice(&height.to_le_bytes());
    gif
}

#[tokio::test]
async fn an_image_over_the_pixel_budget_is_422_naming_the_limit_and_leaves_nothing_behind() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();

    let huge = flat_jpeg(12_000, 12_000);
    assert!(
        huge.len() < node.config.media.max_image_bytes,
        "{}",
        huge.len()
    );
    let cases = [
        ("12000×12000 JPEG", huge.clone(), "12000×12000"),
        (
            "a GIF claiming 65535×65535",
            gif_claiming(65_535, 65_535),
            "65535×65535",
        ),
    ];
    for (case, bytes, size) in cases {
        let response = node.upload_image(&ana, id, bytes, Some("A photo")).await;
        let refused = assert_invalid(response, "images[0]", case).await;
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{size} pixels"))
                && message.contains("the limit is 40 megapixels"),
            "{case}: {message}"
        );
    }
    // The same for a shop's avatar.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(huge).file_name("a.jpg"),
    );
    let avatar = node
        .http
        .post(node.url("/api/v1/shops/pottery/avatar"))
        .bearer_auth(&ana.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let refused = assert_error(avatar, 422, "invalid", "avatar").await;
    assert!(refused["message"].as_str().unwrap().contains("12000×12000"));

    assert_eq!(media_files(&node), Vec::<String>::new());
    assert_eq!(image_rows(&node).await, 0);
    assert_eq!(fetch_listing(&node, id).await["images"], json!([]));
    node.shutdown().await;
}

#[tokio::test]
async fn the_pixel_budget_is_configurable_and_exact() {
    let node = TestNode::spawn_with(Storage::Default, |c| c.media.max_megapixels = 1).await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap();
    let over = node
        .upload_image(&ana, id, flat_jpeg(1000, 1001), Some("A photo"))
        .await;
    let refused = assert_invalid(over, "images[0]", "1000×1001").await;
    assert_eq!(
        refused["message"],
        "images[0]: the image is 1000×1001 pixels; the limit is 1 megapixel"
    );
    let at = uploaded(&node, &ana, id, flat_jpeg(1000, 1000), "A photo").await;
    assert_eq!(
        (at["width"].as_u64(), at["height"].as_u64()),
        (Some(1000), Some(1000))
    );
    assert_eq!(image_rows(&node).await, 1);
    node.shutdown().await;
}
