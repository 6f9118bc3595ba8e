//! Helpers shared by the API suites: reading answers, counting what a node holds.

use harness::{Member, TestNode};
use market::entities::listing_image;
use reqwest::Response;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

/// Check `response`'s status and return its JSON body (the body is shown if the status differs).
pub async fn json_with(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Check that `response` is a 4xx/5xx JSON error of `kind` with `status` and a message.
pub async fn assert_error(response: Response, status: u16, kind: &str, context: &str) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{context}: body {text}");
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{context}: not JSON ({e}): {text}"));
    assert_eq!(body["error"], kind, "{context}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{context}: no message in {body}");
    body
}

/// Check that `response` is a 422 `{"error":"invalid","field":field,"message":…}`.
pub async fn assert_invalid(response: Response, field: &str, context: &str) -> Value {
    let body = assert_error(response, 422, "invalid", context).await;
    assert_eq!(body["field"], field, "{context}: {body}");
    body
}

/// How many listings `GET /api/v1/shops/{handle}/listings` says the shop has on show.
pub async fn listing_total(node: &TestNode, handle: &str) -> u64 {
    let page = json_with(
        node.get(&format!("/api/v1/shops/{handle}/listings"), None)
            .await,
        200,
    )
    .await;
    page["total"].as_u64().unwrap()
}

/// The listing as `GET /api/v1/listings/{id}` shows it.
pub async fn fetch_listing(node: &TestNode, id: &str) -> Value {
    json_with(node.listing(id).await, 200).await
}

/// The names of the files in the node's media directory, sorted.
pub fn media_files(node: &TestNode) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(&node.config.media.dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How many image rows the node's database holds, for every listing.
pub async fn image_rows(node: &TestNode) -> u64 {
    listing_image::Entity::find()
        .count(&node.ctx.db)
        .await
        .unwrap()
}

/// A path on the node from one of its absolute URLs.
pub fn path_of(node: &TestNode, url: &str) -> String {
    url.strip_prefix(&node.base)
        .unwrap_or_else(|| panic!("{url} is not on {}", node.base))
        .to_string()
}

/// Upload an image to listing `id` as `member`, expecting 201; the image JSON.
pub async fn uploaded(
    node: &TestNode,
    member: &Member,
    id: &str,
    bytes: Vec<u8>,
    alt: &str,
) -> Value {
    json_with(node.upload_image(member, id, bytes, Some(alt)).await, 201).await
}

/// A PNG of random-looking pixels, which does not compress: about 3 bytes a pixel.
pub fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Open a shop run by `member`, expecting 201.
pub async fn open_shop(node: &TestNode, member: &Member, handle: &str, name: &str) {
    let response = node.create_shop(member, handle, name).await;
    json_with(response, 201).await;
}

/// Decode the character references a template writes (`&#39;`, `&#x27;`, `&lt;`, …).
fn decode_entities(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let Some(end) = rest.find(';').filter(|&end| end <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let decoded = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
                None => name
                    .strip_prefix('#')
                    .and_then(|d| d.parse().ok())
                    .and_then(char::from_u32),
            },
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text a reader sees: tags dropped, references decoded, whitespace collapsed.
pub fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    decode_entities(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
