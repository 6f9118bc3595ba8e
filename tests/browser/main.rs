//! End to end in a real browser: headless Chromium driven over WebDriver (see `support`),
//! against real nodes on loopback. Each test walks what a person does, checks the page's
//! accessibility basics on the way (`Browser::audit`), and writes screenshots of the main pages
//! (to `target/screenshots`; a few are copied into `docs/screenshots` for the README).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use federation::peering;
use harness::{Member, PASSWORD, Storage, TestNode, sample_listing};
use market::service::peers;
use serde_json::json;
use support::{Browser, skipped};

/// A laptop's window.
const WIDE: (u32, u32) = (1280, 900);
/// A phone's.
const PHONE: (u32, u32) = (390, 844);

async fn node(name: &str) -> TestNode {
    let name = name.to_string();
    TestNode::spawn_with(Storage::Default, move |config| {
        config.instance.name = name;
        // As a real node runs: deliveries and thumbnails in the background.
        config.federation.deliver = true;
    })
    .await
}

async fn until(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `a` follows `b`'s catalog and has copied it.
async fn peer_up(a: &TestNode, b: &TestNode) {
    peering::add(&a.federation.to_request_data(), &b.base)
        .await
        .unwrap();
    until("the peer's catalog is copied", async || {
        peers::find(&a.ctx, &b.domain)
            .await
            .unwrap()
            .is_some_and(|p| p.outgoing == "accepted" && p.backfilled)
    })
    .await;
}

/// A picture of a blue mug on a warm background, as a seller's photo would be.
fn mug_photo(width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as f32, height as f32);
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let (x, y) = (x as f32 / w, y as f32 / h);
        let body = (0.3..0.66).contains(&x) && (0.3..0.8).contains(&y);
        let rim = body && y < 0.34;
        let handle = {
            let (dx, dy) = ((x - 0.715) / 0.09, (y - 0.52) / 0.14);
            let r = dx * dx + dy * dy;
            x > 0.66 && (0.55..1.0).contains(&r)
        };
        if rim {
            image::Rgb([180, 205, 235])
        } else if body || handle {
            let shade = (1.0 - (x - 0.42).abs() * 1.4).clamp(0.55, 1.0);
            image::Rgb([
                (40.0 * shade) as u8,
                (90.0 * shade) as u8,
                (170.0 * shade) as u8,
            ])
        } else if y > 0.8 {
            image::Rgb([196, 160, 120])
        } else {
            image::Rgb([242, 231, 214])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Bea's pottery on `node`: the blue mug with its photo, post to MX and DE or pickup.
async fn pottery(node: &TestNode) -> Member {
    let bea = node.member("bea").await;
    let shop = node.create_shop(&bea, "pottery", "Bea's Pottery").await;
    assert_eq!(shop.status(), 201);
    let mut body = sample_listing();
    body["description"] =
        json!("Hand thrown **stoneware**, 350 ml, glazed in cobalt blue. Dishwasher safe.");
    let response = node.create_listing(&bea, "pottery", &body).await;
    assert_eq!(response.status(), 201);
    let listing: serde_json::Value = response.json().await.unwrap();
    let id = listing["id"].as_str().unwrap();
    let uploaded = node
        .upload_image(
            &bea,
            id,
            mug_photo(800, 600),
            Some("A cobalt blue stoneware mug with a round handle"),
        )
        .await;
    assert_eq!(uploaded.status(), 201, "{}", uploaded.text().await.unwrap());
    let response = node
        .http
        .put(node.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&bea.token)
        .json(&json!({
            "payment_instructions": "Bank transfer to IBAN MX00 1234, reference: your order.",
            "shipping_options": [
                {"name": "Post", "price": "5.50", "currency": "EUR", "regions": ["MX", "DE"]},
                {"name": "Pickup at the market", "price": "0.00", "currency": "EUR", "pickup": true},
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    bea
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_orders_from_a_peer_co_op_and_the_seller_ships_it() {
    if skipped() {
        return;
    }
    let (a, b) = tokio::join!(node("Maíz Co-op"), node("Barro Co-op"));
    pottery(&b).await;
    peer_up(&a, &b).await;
    // A's copy of the photo is made in the background; the pages show it once it is.
    until("A has a thumbnail of the peer's photo", async || {
        let found: serde_json::Value = a
            .get("/api/v1/catalog?q=mug", None)
            .await
            .json()
            .await
            .unwrap();
        found["items"][0]["images"][0]["thumbnail_url"].is_string()
    })
    .await;

    // Bea makes things to order: she wants to accept each order herself.
    let bea = Browser::start("seller", WIDE.0, WIDE.1).await;
    bea.goto(&b.url("/login")).await;
    bea.fill("input[name=username]", "bea").await;
    bea.fill("input[name=password]", PASSWORD).await;
    bea.press("Log in").await;
    bea.wait_for_text("Log out").await;
    bea.click_link("Selling").await;
    bea.click_link("Shop settings").await;
    bea.click("#by_hand").await;
    bea.press("Save the settings").await;
    bea.wait_for_text("Saved.").await;
    assert!(
        bea.find("#by_hand").await.is_selected().await.unwrap(),
        "the setting did not stick"
    );

    // Ana comes to her co-op's node for the first time and opens an account.
    let ana = Browser::start("buyer", WIDE.0, WIDE.1).await;
    ana.goto(&a.url("/")).await;
    ana.wait_for_text("From peer co-ops").await;
    assert!(ana.text().await.contains("Blue glazed mug"));
    ana.audit().await;
    ana.screenshot("home").await;
    ana.click_link("Register").await;
    ana.fill("input[name=username]", "ana").await;
    ana.fill("input[name=password]", "a long enough password")
        .await;
    ana.audit().await;
    ana.press("Open account").await;
    ana.wait_for_text("Log out").await;

    // She searches the catalog and finds the mug of a shop on the peer co-op.
    ana.goto(&a.url("/")).await;
    ana.fill("#home-q", "mug").await;
    ana.press("Search").await;
    ana.wait_for_text("Blue glazed mug").await;
    let results = ana.text().await;
    assert!(results.contains(&format!("on {}", b.domain)), "{results}");
    ana.audit().await;
    ana.screenshot("search").await;
    ana.click_link("Blue glazed mug").await;
    ana.wait_for_text("28.00").await;
    assert!(ana.text().await.contains("a peer co-op"));
    ana.audit().await;
    ana.screenshot("listing").await;

    // Two mugs by post to Mexico: the total comes from the shop's node before she confirms.
    ana.fill("input[name=quantity]", "2").await;
    ana.press("Order").await;
    ana.wait_for_text("Pickup at the market").await;
    ana.click("label.choice:first-of-type input[type=radio]")
        .await;
    ana.fill("input[name=country]", "MX").await;
    ana.press("Show the total").await;
    ana.wait_for_text("Total").await;
    assert!(
        ana.text().await.contains("61.50 EUR"),
        "{}",
        ana.text().await
    );
    ana.fill("input[name=name]", "Ana López").await;
    ana.fill("input[name=street]", "Calle Alcalá 5").await;
    ana.fill("input[name=postal_code]", "68000").await;
    ana.fill("input[name=city]", "Oaxaca").await;
    ana.audit().await;
    ana.screenshot("confirm").await;
    ana.press("Confirm the order").await;
    ana.wait_for_text("waiting for the shop to accept it").await;
    let order_url = ana.url().await;
    assert!(order_url.path().starts_with("/orders/"), "{order_url}");
    assert!(
        !ana.text().await.contains("IBAN"),
        "payment details before acceptance"
    );
    ana.audit().await;
    ana.screenshot("order-offered").await;

    // Bea, on her own node, accepts the order, marks it paid, then shipped.
    // Her Selling page says an order waits for her, and leads to it.
    bea.click_link("Selling").await;
    bea.wait_for_text("1 order waits for you").await;
    bea.audit().await;
    bea.click("a[href='/shops/pottery/orders'] strong").await;
    bea.wait_for_text(&format!("ana@{}", a.domain)).await;
    assert!(bea.text().await.contains("61.50 EUR"));
    bea.audit().await;
    bea.screenshot("shop-orders").await;
    bea.press("Accept the order").await;
    bea.wait_for_text("Mark as paid").await;
    // Ana's page now says how to pay.
    ana.goto(order_url.as_str()).await;
    ana.wait_for_text("IBAN MX00 1234").await;
    ana.screenshot("order-accepted").await;
    bea.press("Mark as paid").await;
    bea.wait_for_text("Mark as shipped").await;
    bea.press("Mark as shipped").await;
    bea.wait_for_text("Shipped").await;

    // Ana sees it shipped, with the whole timeline.
    ana.goto(order_url.as_str()).await;
    ana.wait_for_text("State: Shipped").await;
    let timeline = ana.find("ol.timeline").await.text().await.unwrap();
    for step in ["Offered", "Accepted", "Paid", "Shipped"] {
        assert!(timeline.contains(step), "{step} missing from {timeline}");
    }
    ana.screenshot("order-shipped").await;
    // Her orders list says the same.
    ana.click_link("My orders").await;
    ana.wait_for_text("Shipped").await;
    ana.audit().await;

    // On a phone the same pages fit the screen.
    let phone = Browser::start("phone", PHONE.0, PHONE.1).await;
    for path in ["/", "/search?q=mug", "/transparency", "/login", "/register"] {
        phone.goto(&a.url(path)).await;
        phone.audit().await;
    }
    phone.goto(&a.url("/search?q=mug")).await;
    phone.click_link("Blue glazed mug").await;
    phone.wait_for_text("28.00").await;
    phone.audit().await;
    phone.screenshot("listing").await;

    ana.close().await;
    bea.close().await;
    phone.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_is_used_with_the_keyboard_alone() {
    if skipped() {
        return;
    }
    let a = node("Maíz Co-op").await;
    a.member("bea").await;
    let bea = Browser::start("keyboard", WIDE.0, WIDE.1).await;
    // On a page without a form, the first Tab reaches the skip link.
    bea.goto(&a.url("/")).await;
    bea.tab_to("a.skip", 1).await;
    // The login form has the username focused; Tab goes on to the password; Enter submits.
    bea.goto(&a.url("/login")).await;
    bea.tab_to("input[name=username]", 0).await;
    let typed = bea.client().active_element().await.unwrap();
    typed.send_keys("bea").await.unwrap();
    bea.tab_to("input[name=password]", 1).await;
    let typed = bea.client().active_element().await.unwrap();
    typed
        .send_keys(&format!("{PASSWORD}\u{e007}"))
        .await
        .unwrap();
    bea.wait_for_text("Log out").await;
    bea.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_peers_with_another_co_op_admits_a_member_and_closes_a_period() {
    if skipped() {
        return;
    }
    let (a, b) = tokio::join!(node("Maíz Co-op"), node("Barro Co-op"));
    pottery(&b).await;
    a.admin("ana").await;
    // Carl opened an account on A and asked to join.
    let carl = a
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "carl", "password": PASSWORD}),
        )
        .await;
    assert_eq!(carl.status(), 201);
    let carl: serde_json::Value = a.login("carl", PASSWORD).await.json().await.unwrap();
    let applied = a
        .post_json(
            "/api/v1/membership",
            carl["token"].as_str(),
            &json!({"statement": "I make honey in the hills above Oaxaca."}),
        )
        .await;
    assert_eq!(applied.status(), 201);

    let ana = Browser::start("admin", WIDE.0, WIDE.1).await;
    ana.goto(&a.url("/login")).await;
    ana.fill("input[name=username]", "ana").await;
    ana.fill("input[name=password]", PASSWORD).await;
    ana.press("Log in").await;
    ana.wait_for_text("Log out").await;
    ana.click_link("Admin").await;
    ana.wait_for_text("Administration").await;
    assert!(ana.text().await.contains("carl") || ana.text().await.contains("1 application"));
    ana.audit().await;
    ana.screenshot("overview").await;

    // Peering with Barro: the address, then the copy of its catalog shows on the page.
    ana.click_link("Peer nodes").await;
    ana.fill("#peer-address", &b.base).await;
    ana.press("Ask to federate").await;
    ana.wait_for_text(&b.domain).await;
    until("A copied B's catalog", async || {
        peers::find(&a.ctx, &b.domain)
            .await
            .unwrap()
            .is_some_and(|p| p.backfilled)
    })
    .await;
    ana.click_link("Peer nodes").await;
    ana.wait_for_text("forgets 1 listing").await;
    ana.audit().await;
    ana.screenshot("peers").await;

    // Carl is admitted.
    ana.click_link("Members").await;
    ana.wait_for_text("honey in the hills").await;
    ana.audit().await;
    ana.press("Admit carl").await;
    until("Carl is a member", async || {
        let carl = market::service::accounts::find_user(&a.ctx, "carl")
            .await
            .unwrap()
            .unwrap();
        market::service::membership::status(&a.ctx, &carl)
            .await
            .unwrap()
            .status
            == "active"
    })
    .await;
    ana.click_link("Members").await;
    let members = ana.text().await;
    assert!(!members.contains("Admit carl"), "{members}");
    assert!(members.contains("carl member"), "{members}");

    // The delivery health and the federation policy read plainly.
    ana.click_link("Deliveries").await;
    ana.audit().await;
    ana.click_link("Federation policy").await;
    ana.wait_for_text("open").await;
    ana.audit().await;

    // The books: Carl's share is in them; the first period is closed.
    ana.click_link("Books").await;
    ana.wait_for_text("member_shares").await;
    ana.fill("#period-label", "2026-Q4").await;
    ana.press("Close the period").await;
    ana.wait_for_text("2026-Q4").await;
    assert_eq!(
        market::service::periods::list(&a.ctx).await.unwrap().len(),
        1
    );
    ana.audit().await;
    ana.screenshot("books").await;

    // Every admin page fits a phone.
    ana.client()
        .set_window_size(PHONE.0, PHONE.1)
        .await
        .unwrap();
    for path in [
        "/admin",
        "/admin/members",
        "/admin/peers",
        "/admin/federation",
        "/admin/deliveries",
        "/admin/ledger",
        "/coop/proposals",
        "/coop/membership",
    ] {
        ana.goto(&a.url(path)).await;
        ana.audit().await;
    }
    ana.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_opens_a_shop_and_publishes_a_listing_with_a_photo() {
    if skipped() {
        return;
    }
    let a = node("Maíz Co-op").await;
    a.member("bea").await;
    let photo = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(photo.path(), mug_photo(1200, 900)).unwrap();

    let bea = Browser::start("seller", WIDE.0, WIDE.1).await;
    bea.goto(&a.url("/login")).await;
    bea.fill("input[name=username]", "bea").await;
    bea.fill("input[name=password]", PASSWORD).await;
    bea.press("Log in").await;
    bea.wait_for_text("Log out").await;

    // From the header to her first shop.
    bea.click_link("Selling").await;
    bea.wait_for_text("Open a shop").await;
    bea.audit().await;
    bea.fill("#shop-handle", "pottery").await;
    bea.fill("#shop-name", "Bea's Pottery").await;
    bea.press("Open the shop").await;
    bea.wait_for_text("@pottery@").await;

    // Shipping first: post within Mexico, or pickup at the market.
    bea.click_link("Shop settings").await;
    bea.fill("#bio", "Stoneware thrown and glazed in Oaxaca.")
        .await;
    bea.fill("#payment", "Bank transfer to IBAN MX00 1234.")
        .await;
    bea.fill("input[name^=ship][name$=_name]", "Post").await;
    bea.fill("input[name^=ship][name$=_price]", "5.50").await;
    bea.fill("input[name^=ship][name$=_currency]", "EUR").await;
    bea.fill("input[name^=ship][name$=_regions]", "MX").await;
    bea.audit().await;
    bea.press("Save the settings").await;
    bea.wait_for_text("Post").await;

    // A listing with its photo and a description of the photo.
    bea.click_link("Selling").await;
    bea.click_link("New listing").await;
    bea.fill("#title", "Cobalt mug").await;
    bea.fill(
        "#description",
        "Hand thrown **stoneware**, 350 ml. Each one is a little different.",
    )
    .await;
    bea.fill("#price", "31.00").await;
    bea.fill("#currency", "EUR").await;
    bea.fill("#stock", "4").await;
    bea.fill("#tags", "pottery, #mug kitchen").await;
    bea.find("#image")
        .await
        .send_keys(&photo.path().display().to_string())
        .await
        .unwrap();
    bea.fill(
        "#alt",
        "A cobalt blue mug with a round handle, on a wooden shelf",
    )
    .await;
    bea.audit().await;
    bea.screenshot("new-listing").await;
    bea.press("Publish the listing").await;
    bea.wait_for_text("Save changes").await;
    bea.audit().await;

    // What a visitor sees: the photo with its alt text, the price, stock, tags and shipping.
    let listing = market::service::listings::list_listings(
        &a.ctx,
        market::service::listings::ListingFilter::default(),
        market::service::PageRequest {
            page: 1,
            per_page: 10,
        },
    )
    .await
    .unwrap()
    .items;
    assert_eq!(listing.len(), 1);
    let listing = &listing[0];
    assert_eq!(
        (listing.price.as_str(), listing.stock),
        ("31.00", 4),
        "{listing:?}"
    );
    assert_eq!(listing.tags, ["pottery", "mug", "kitchen"]);
    assert_eq!(listing.images.len(), 1);
    let visitor = Browser::start("visitor", PHONE.0, PHONE.1).await;
    visitor
        .goto(&a.url(&format!("/listings/{}", listing.id)))
        .await;
    visitor.wait_for_text("Cobalt mug").await;
    let img = visitor.find(".photos img").await;
    assert_eq!(
        img.attr("alt").await.unwrap().as_deref(),
        Some("A cobalt blue mug with a round handle, on a wooden shelf")
    );
    let loaded = visitor
        .eval("return document.querySelector('.photos img').naturalWidth")
        .await;
    assert!(loaded.as_u64().unwrap_or(0) > 0, "the photo loads");
    let text = visitor.text().await;
    for shown in ["31.00", "4 in stock", "#kitchen", "Post: 5.50 EUR, to MX"] {
        assert!(text.contains(shown), "{shown} missing:\n{text}");
    }
    visitor.audit().await;
    visitor.screenshot("listing").await;

    // The dashboard lists it.
    bea.click_link("Selling").await;
    bea.wait_for_text("Cobalt mug").await;
    bea.audit().await;
    bea.screenshot("dashboard").await;

    // The seller's pages fit a phone.
    bea.client()
        .set_window_size(PHONE.0, PHONE.1)
        .await
        .unwrap();
    for path in [
        "/selling".to_string(),
        "/shops/pottery/settings".to_string(),
        "/shops/pottery/listings/new".to_string(),
        format!("/listings/{}/edit", listing.id),
        "/shops/pottery/orders".to_string(),
        "/shops/pottery".to_string(),
    ] {
        bea.goto(&a.url(&path)).await;
        bea.audit().await;
    }
    bea.close().await;
    visitor.close().await;
}
