//! The seller's pages, driven as a browser without JavaScript: the `/selling` dashboard for a
//! buyer, a member without a shop and a seller; opening a shop; the new-listing form with a
//! photo (multipart); the edit form with its photos and the withdraw button; the shop settings
//! with shipping options; follow requests. Refused forms keep what was typed and write nothing;
//! strangers get 403; forms without the session's CSRF value change nothing.

use harness::{Member, TestNode, peer::Peer};
use market::entities::{listing, listing_image, shop};
use reqwest::{Response, multipart};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

mod listings;
mod settings;

use crate::order_pages::browser::{
    between, csrf_of, get, location, log_in, page, post_form, register,
};

/// `POST path` as a browser sends a form with a file (`multipart/form-data`).
async fn post_multipart(
    node: &TestNode,
    path: &str,
    form: multipart::Form,
    session: Option<&str>,
) -> Response {
    let mut request = node.http.post(node.url(path)).multipart(form);
    if let Some(token) = session {
        request = request.header("cookie", format!("tianguis_session={token}"));
    }
    request.send().await.unwrap()
}

/// The new-listing form's text fields, with `changes` replacing or adding some.
fn listing_form(csrf: &str, changes: &[(&str, &str)]) -> multipart::Form {
    let mut fields = vec![
        ("csrf", csrf.to_string()),
        ("title", "Blue glazed mug".to_string()),
        ("description", "Hand thrown **stoneware**.".to_string()),
        ("price", "28.00".to_string()),
        ("currency", "EUR".to_string()),
        ("stock", "3".to_string()),
        ("tags", "#pottery, mug".to_string()),
        ("alt", String::new()),
    ];
    for (name, value) in changes {
        let field = fields.iter_mut().find(|(n, _)| n == name).unwrap();
        field.1 = value.to_string();
    }
    fields
        .into_iter()
        .fold(multipart::Form::new(), |form, (n, v)| form.text(n, v))
}

/// A file part as a browser sends it.
fn file(bytes: Vec<u8>, name: &str) -> multipart::Part {
    multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str("application/octet-stream")
        .unwrap()
}

async fn count_listings(node: &TestNode) -> u64 {
    listing::Entity::find().count(&node.ctx.db).await.unwrap()
}

async fn count_images(node: &TestNode) -> u64 {
    listing_image::Entity::find()
        .count(&node.ctx.db)
        .await
        .unwrap()
}

/// Files in the node's media dir (none until a photo is stored).
fn media_files(node: &TestNode) -> usize {
    std::fs::read_dir(node.dir().join("media"))
        .map(|d| d.count())
        .unwrap_or(0)
}

async fn api_listing(node: &TestNode, id: &str) -> Value {
    node.listing(id).await.json().await.unwrap()
}

/// A member `ana` with the shop `pottery` and one listing (through the API); her page session.
async fn seller(node: &TestNode) -> (Member, String, String) {
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let session = log_in(node, "ana").await;
    (ana, session, listing["id"].as_str().unwrap().to_string())
}

/// The opening tag of the input with `id`.
fn input<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

#[tokio::test]
async fn the_dashboard_greets_buyers_members_and_opens_shops() {
    let node = TestNode::spawn().await;
    // Not logged in: to the login page, and back afterwards.
    let anonymous = get(&node, "/selling", None).await;
    assert_eq!(anonymous.status(), 303);
    assert!(location(&anonymous).starts_with("/login"));

    // A buyer is told shops are for members, and where to join.
    let dan = register(&node, "dan").await;
    let (status, html) = page(&node, "/selling", Some(&dan)).await;
    assert_eq!(status, 200);
    assert!(html.contains("run by members of the co-op"), "{html}");
    assert!(html.contains(r#"href="/coop/membership""#), "{html}");
    assert!(!html.contains(r#"action="/selling/shops""#), "{html}");
    let csrf = csrf_of(&node, &dan).await;
    let refused = post_form(
        &node,
        "/selling/shops",
        &[("csrf", &csrf), ("handle", "dans"), ("name", "Dan's")],
        Some(&dan),
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("only co-op members open shops"),
        "the reason is shown"
    );

    // A member without a shop gets the form.
    node.member("bea").await;
    let bea = log_in(&node, "bea").await;
    let (status, html) = page(&node, "/selling", Some(&bea)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<h2 id=\"open-shop\">Open a shop</h2>"),
        "{html}"
    );
    assert!(html.contains(r#"<label for="shop-handle">"#), "{html}");

    // Without the CSRF value: refused, no shop.
    let forged = post_form(
        &node,
        "/selling/shops",
        &[("handle", "weaving"), ("name", "Bea weaves")],
        Some(&bea),
    )
    .await;
    assert_eq!(forged.status(), 403);
    // A malformed handle: the form again, as typed, with the reason at the handle.
    let csrf = csrf_of(&node, &bea).await;
    let bad = post_form(
        &node,
        "/selling/shops",
        &[
            ("csrf", &csrf),
            ("handle", "bea weaves!"),
            ("name", "Bea <weaves>"),
        ],
        Some(&bea),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    let handle = input(&html, "shop-handle");
    assert!(handle.contains(r#"aria-invalid="true""#), "{handle}");
    assert!(handle.contains("shop-handle-error"), "{handle}");
    assert!(handle.contains(r#"value="bea weaves!""#), "{handle}");
    assert!(html.contains(r#"id="shop-handle-error""#), "{html}");
    assert!(
        input(&html, "shop-name").contains("Bea &#60;weaves&#62;"),
        "{html}"
    );
    assert_eq!(shop::Entity::find().count(&node.ctx.db).await.unwrap(), 0);

    let opened = post_form(
        &node,
        "/selling/shops",
        &[
            ("csrf", &csrf),
            ("handle", "weaving"),
            ("name", "Bea weaves"),
        ],
        Some(&bea),
    )
    .await;
    assert_eq!(opened.status(), 303);
    assert_eq!(location(&opened), "/selling#shop-weaving");
    let (_, html) = page(&node, "/selling", Some(&bea)).await;
    assert!(
        html.contains(&format!("@weaving@{}", node.domain)),
        "{html}"
    );
    for link in [
        "/shops/weaving",
        "/shops/weaving/orders",
        "/shops/weaving/followers",
        "/shops/weaving/settings",
        "/shops/weaving/listings/new",
    ] {
        assert!(
            html.contains(&format!(r#"href="{link}""#)),
            "{link}: {html}"
        );
    }
    assert!(html.contains("No listings yet"), "{html}");
    assert!(html.contains("Open another shop"), "{html}");

    // The handle is taken now: 409 on the form, at the handle.
    node.member("cy").await;
    let cy = log_in(&node, "cy").await;
    let csrf = csrf_of(&node, &cy).await;
    let taken = post_form(
        &node,
        "/selling/shops",
        &[("csrf", &csrf), ("handle", "weaving"), ("name", "Cy")],
        Some(&cy),
    )
    .await;
    assert_eq!(taken.status(), 409);
    let html = taken.text().await.unwrap();
    assert!(html.contains("is taken"), "{html}");
    assert_eq!(shop::Entity::find().count(&node.ctx.db).await.unwrap(), 1);
}

#[tokio::test]
async fn follow_requests_are_answered_from_the_dashboard() {
    let node = TestNode::spawn().await;
    let peer = Peer::spawn().await;
    let (_ana, session, _id) = seller(&node).await;
    let csrf = csrf_of(&node, &session).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "A shop"),
        ("manual", "on"),
    ];
    let saved = post_form(&node, "/shops/pottery/settings", &fields, Some(&session)).await;
    assert_eq!(saved.status(), 303);

    let shop = peer
        .resolve(&format!("pottery@{}", node.domain))
        .await
        .unwrap();
    peer.follow(&shop).await.unwrap();
    let (_, html) = page(&node, "/selling", Some(&session)).await;
    assert!(html.contains("Follow requests (1)"), "{html}");
    assert!(html.contains("<strong>0</strong> followers"), "{html}");
    let action = between(&html, r#"action="/shops/pottery/followers/"#, r#"""#).to_string();
    let path = format!("/shops/pottery/followers/{action}");

    // Another member cannot decide; nor can a form without the CSRF value.
    node.member("bea").await;
    let bea = log_in(&node, "bea").await;
    let bea_csrf = csrf_of(&node, &bea).await;
    let fields = [("csrf", bea_csrf.as_str()), ("decision", "approve")];
    assert_eq!(
        post_form(&node, &path, &fields, Some(&bea)).await.status(),
        403
    );
    let fields = [("decision", "approve")];
    assert_eq!(
        post_form(&node, &path, &fields, Some(&session))
            .await
            .status(),
        403
    );
    assert!(peer.received_of("Accept").is_empty());

    let fields = [("csrf", csrf.as_str()), ("decision", "approve")];
    let decided = post_form(&node, &path, &fields, Some(&session)).await;
    assert_eq!(decided.status(), 303);
    assert_eq!(peer.received_of("Accept").len(), 1);
    let (_, html) = page(&node, "/selling", Some(&session)).await;
    assert!(!html.contains("Follow requests"), "{html}");
    assert!(html.contains("<strong>1</strong> follower"), "{html}");
}
