//! Orders through the HTML pages, as a browser without JavaScript drives them: the Order button,
//! the quote and Confirm forms, the order page with its buttons and thread, the shop's order
//! list, notifications and the payment page; between two nodes and inside one. Every form
//! needs the session's CSRF value; orders are private to their two parties.

use std::{future::Future, time::Duration};

pub(crate) mod browser;

use browser::{
    between, csrf_of, field, get, location, log_in, option_value, page, post_form, register,
};
use federation::peering;
use harness::{Member, TestNode, sample_listing};
use market::{
    entities::{order, order_message},
    service::peers,
};
use reqwest::Response;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

async fn until<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `a` peers with `b` and has copied b's catalog.
async fn peer_up(a: &TestNode, b: &TestNode) {
    peering::add(&a.federation.to_request_data(), &b.base)
        .await
        .unwrap();
    until("the peer's catalog is copied", || async {
        peers::find(&a.ctx, &b.domain)
            .await
            .unwrap()
            .is_some_and(|p| p.outgoing == "accepted" && p.backfilled)
    })
    .await;
}

const INSTRUCTIONS: &str = "Bank transfer to IBAN MX00 1234, reference: your order.";

/// Bea's pottery on `node`: a mug (28.00 EUR, `stock` in stock), post to MX and DE at 5.50, or
/// pickup. Returns (seller, listing id).
pub(crate) async fn pottery(node: &TestNode, stock: i64) -> (Member, String) {
    let bea = node.member("bea").await;
    node.create_shop(&bea, "pottery", "Bea's Pottery").await;
    let mut body = sample_listing();
    body["stock"] = json!(stock);
    let response = node.create_listing(&bea, "pottery", &body).await;
    assert_eq!(response.status(), 201);
    let listing: serde_json::Value = response.json().await.unwrap();
    set_checkout(node, &bea, INSTRUCTIONS).await;
    (bea, listing["id"].as_str().unwrap().to_string())
}

async fn set_checkout(node: &TestNode, seller: &Member, instructions: &str) {
    let response = node
        .http
        .put(node.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&seller.token)
        .json(&json!({
            "payment_instructions": instructions,
            "shipping_options": [
                {"id": "6f1c9a52-0d1e-4c59-9a43-1d2b8f0e7a10", "name": "Post", "price": "5.50",
                 "currency": "EUR", "regions": ["MX", "DE"]},
                {"name": "Pickup at the market", "price": "0.00", "currency": "EUR", "pickup": true},
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The labels of an order page's timeline, in order.
fn timeline(html: &str) -> Vec<String> {
    between(html, r#"<ol class="timeline">"#, "</ol>")
        .split("<strong>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect()
}

fn state_is(html: &str, label: &str) -> bool {
    html.contains(&format!(
        r#"class="state state-{}">{label}<"#,
        label.to_lowercase()
    ))
}

/// The buyer's address on every confirm form.
const ADDRESS: [(&str, &str); 4] = [
    ("name", "Ana López"),
    ("street", "Calle Alcalá 5"),
    ("city", "Oaxaca"),
    ("postal_code", "68000"),
];

/// Quote `quantity` mugs by post to Mexico and confirm the quoted total: the answer to the
/// Confirm form.
pub(crate) async fn order_by_post(
    node: &TestNode,
    session: &str,
    entry: &str,
    quantity: &str,
) -> Response {
    let path = format!("/orders/new?listing={entry}&quantity={quantity}");
    let (_, html) = page(node, &path, Some(session)).await;
    let post = option_value(&html, "Post");
    let (status, html) = page(
        node,
        &format!("{path}&shipping_option={post}&country=MX"),
        Some(session),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (csrf, total) = (field(&html, "csrf"), field(&html, "total"));
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("listing", entry),
        ("quantity", quantity),
        ("shipping_option", post.as_str()),
        ("country", "MX"),
        ("total", total.as_str()),
    ];
    fields.extend(ADDRESS);
    post_form(node, "/orders", &fields, Some(session)).await
}

/// Take a step through an order page's button (`back` as the shop's list sends it).
async fn press(node: &TestNode, session: &str, id: &str, state: &str, back: &str) -> Response {
    let (status, html) = page(node, &format!("/orders/{id}"), Some(session)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!(r#"name="state" value="{state}""#)),
        "no {state} button: {html}"
    );
    let csrf = field(&html, "csrf");
    let fields = [("csrf", csrf.as_str()), ("state", state), ("back", back)];
    post_form(node, &format!("/orders/{id}/state"), &fields, Some(session)).await
}

async fn wait_for(node: &TestNode, session: &str, id: &str, label: &str) -> String {
    let path = format!("/orders/{id}");
    until(&format!("order {id} shows {label}"), || async {
        state_is(&page(node, &path, Some(session)).await.1, label)
    })
    .await;
    page(node, &path, Some(session)).await.1
}

#[tokio::test]
async fn a_buyer_orders_from_a_peer_nodes_shop_entirely_through_pages() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let (_, listing) = pottery(&b, 3).await;
    peer_up(&a, &b).await;

    // Ana opens an account on A and finds the mug on A's search page.
    let ana = register(&a, "ana").await;
    let (_, found) = page(&a, "/search?q=mug", Some(&ana)).await;
    let entry = between(&found, r#"href="/catalog/items/"#, "\"").to_string();
    let (status, html) = page(&a, &format!("/catalog/items/{entry}"), Some(&ana)).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"action="/orders/new""#), "{html}");
    assert!(html.contains(&format!(r#"name="listing" value="{entry}""#)));
    assert!(
        html.contains(r#"<a href="/orders">My orders</a>"#),
        "{html}"
    );
    assert!(html.contains("Notifications (0 unread)"), "{html}");
    assert!(html.contains(r#"<a href="/logout">Log out</a>"#));
    assert!(!html.contains(r#"href="/selling""#) && !html.contains(r#"href="/login""#));

    // The quote comes from B: the options, and no total until one is chosen.
    let quote_path = format!("/orders/new?listing={entry}&quantity=2");
    let (status, html) = page(&a, &quote_path, Some(&ana)).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("56.00 EUR") && html.contains("Pickup at the market"));
    assert!(
        !html.contains(r#"action="/orders""#),
        "no Confirm yet: {html}"
    );
    let post = option_value(&html, "Post");
    // Post does not reach Japan: the seller's reason, and the options to choose again.
    let (status, html) = page(
        &a,
        &format!("{quote_path}&shipping_option={post}&country=jp"),
        Some(&ana),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("no such shipping option to JP"), "{html}");
    assert!(html.contains("Pickup at the market") && !html.contains(r#"action="/orders""#));
    // To Mexico: the total and the Confirm form with the address fields.
    let (status, html) = page(
        &a,
        &format!("{quote_path}&shipping_option={post}&country=MX"),
        Some(&ana),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"<tr class="total"><th scope="row">Total</th><td>61.50 EUR</td>"#));
    assert!(html.contains(r#"action="/orders""#) && html.contains(r#"name="street""#));
    assert_eq!(field(&html, "total"), "61.50");
    assert!(html.contains(INSTRUCTIONS), "{html}");

    let placed = order_by_post(&a, &ana, &entry, "2").await;
    assert_eq!(placed.status(), 303);
    let id = location(&placed)
        .strip_prefix("/orders/")
        .unwrap()
        .to_string();
    let html = wait_for(&a, &ana, &id, "Accepted").await;
    assert!(html.contains(INSTRUCTIONS), "{html}");
    assert!(html.contains(&format!(r#"href="{}/shops/pottery/payment""#, b.base)));
    assert!(html.contains("Oaxaca") && html.contains("61.50 EUR"));
    assert!(html.contains(r#"name="state" value="cancelled""#));
    assert!(!html.contains(r#"value="paid""#), "paid is the shop's step");
    let (_, mine) = page(&a, "/orders", Some(&ana)).await;
    assert!(mine.contains(&format!(r#"<a href="/orders/{id}">Blue glazed mug</a>"#)));
    assert!(
        mine.contains("61.50 EUR") && state_is(&mine, "Accepted"),
        "{mine}"
    );

    // Bea logs in on B; her order list has Ana's order with the shop's buttons.
    let bea = log_in(&b, "bea").await;
    let (status, inbox) = page(&b, "/shops/pottery/orders", Some(&bea)).await;
    assert_eq!(status, 200);
    assert!(inbox.contains(r#"<a href="/selling">Selling</a>"#));
    assert!(inbox.contains(&format!("ana@{}", a.domain)), "{inbox}");
    assert!(inbox.contains("61.50 EUR") && inbox.contains(r#"value="paid""#));
    let theirs = between(&inbox, r#"<h2><a href="/orders/"#, "\"").to_string();
    let csrf = field(&inbox, "csrf");
    let back = "/shops/pottery/orders";
    let fields = [("csrf", csrf.as_str()), ("state", "paid"), ("back", back)];
    let paid = post_form(&b, &format!("/orders/{theirs}/state"), &fields, Some(&bea)).await;
    assert_eq!(paid.status(), 303);
    assert_eq!(location(&paid), back);
    let (_, only_paid) = page(&b, "/shops/pottery/orders?state=paid", Some(&bea)).await;
    assert!(only_paid.contains(&theirs) && only_paid.contains(r#"value="shipped""#));
    let (_, none) = page(&b, "/shops/pottery/orders?state=accepted", Some(&bea)).await;
    assert!(!none.contains(&theirs) && none.contains("No orders in this state"));
    wait_for(&a, &ana, &id, "Paid").await;

    assert_eq!(press(&b, &bea, &theirs, "shipped", "").await.status(), 303);
    wait_for(&a, &ana, &id, "Shipped").await;
    let delivered = press(&a, &ana, &id, "delivered", "").await;
    assert_eq!(location(&delivered), format!("/orders/{id}"));
    wait_for(&b, &bea, &theirs, "Delivered").await;
    assert_eq!(
        press(&b, &bea, &theirs, "completed", "").await.status(),
        303
    );

    // Bea writes on B's page; it reaches Ana's page, escaped.
    let (_, html) = page(&b, &format!("/orders/{theirs}"), Some(&bea)).await;
    let csrf = field(&html, "csrf");
    let note = "Thank you, <b>enjoy</b>!\n\nBea";
    let fields = [("csrf", csrf.as_str()), ("content", note)];
    let written = post_form(
        &b,
        &format!("/orders/{theirs}/messages"),
        &fields,
        Some(&bea),
    )
    .await;
    assert_eq!(location(&written), format!("/orders/{theirs}#messages"));
    let (_, html) = page(&b, &format!("/orders/{theirs}"), Some(&bea)).await;
    assert!(
        html.contains("<p>Thank you, &#60;b&#62;enjoy&#60;/b&#62;!</p><p>Bea</p>"),
        "{html}"
    );
    let path = format!("/orders/{id}");
    until("A shows Bea's message", || async {
        page(&a, &path, Some(&ana)).await.1.contains("Thank you")
    })
    .await;
    let html = wait_for(&a, &ana, &id, "Completed").await;
    assert_eq!(
        timeline(&html),
        [
            "Offered",
            "Accepted",
            "Paid",
            "Shipped",
            "Delivered",
            "Completed"
        ]
    );
    // The Note's paragraphs survive the trip.
    assert!(
        html.contains("<p>Thank you, &#60;b&#62;enjoy&#60;/b&#62;!</p><p>Bea</p>"),
        "{html}"
    );
    assert!(html.contains(&format!("<strong>pottery@{}</strong>", b.domain)));
    assert!(!html.contains(r#"name="state""#), "nothing left to do");

    // Ana heard of each of Bea's steps; "Mark all read" clears the count.
    let (_, heard) = page(&a, "/notifications", Some(&ana)).await;
    assert!(heard.contains("Payment received") && heard.contains("Completed"));
    assert!(!heard.contains("Notifications (0 unread)"), "{heard}");
    let csrf = field(&heard, "csrf");
    let read = post_form(&a, "/notifications/read", &[("csrf", &csrf)], Some(&ana)).await;
    assert_eq!(location(&read), "/notifications");
    let (_, heard) = page(&a, "/notifications", Some(&ana)).await;
    assert!(heard.contains("Notifications (0 unread)") && heard.contains("<p>0 unread.</p>"));

    // The address is on no public page of either node; the payment link is public.
    let local_entry = between(
        &page(&b, "/search?q=mug", None).await.1,
        r#"href="/catalog/items/"#,
        "\"",
    )
    .to_string();
    for (node, path) in [
        (&b, "/".to_string()),
        (&b, "/shops/pottery".to_string()),
        (&b, format!("/catalog/items/{local_entry}")),
        (&b, format!("/listings/{listing}")),
        (&b, "/shops/pottery/payment".to_string()),
        (&a, "/".to_string()),
        (&a, format!("/catalog/items/{entry}")),
    ] {
        let (status, html) = page(node, &path, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains("Oaxaca") && !html.contains("Ana López") && !html.contains("68000"),
            "{path} shows the address"
        );
    }
    let (_, payment) = page(&b, "/shops/pottery/payment", None).await;
    assert!(payment.contains(INSTRUCTIONS), "{payment}");
    a.shutdown().await;
    b.shutdown().await;
}

async fn order_count(node: &TestNode) -> u64 {
    order::Entity::find().count(&node.ctx.db).await.unwrap()
}

async fn order_state(node: &TestNode, id: &str) -> String {
    order::Entity::find_by_id(id.to_string())
        .one(&node.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .state
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_value_change_nothing() {
    let node = TestNode::spawn().await;
    let (bea_api, listing) = pottery(&node, 3).await;
    let ana = register(&node, "ana").await;
    let bea = log_in(&node, "bea").await;

    // Our own listing's page has the Order button too, for its catalog entry.
    let (_, html) = page(&node, &format!("/listings/{listing}"), Some(&ana)).await;
    assert!(html.contains(r#"action="/orders/new""#), "{html}");
    let entry = field(&html, "listing");
    let placed = order_by_post(&node, &ana, &entry, "1").await;
    let id = location(&placed)
        .strip_prefix("/orders/")
        .unwrap()
        .to_string();
    assert_eq!(
        order_state(&node, &id).await,
        "accepted",
        "answered at once"
    );

    let (_, html) = page(&node, &format!("/orders/new?listing={entry}"), Some(&ana)).await;
    let post = option_value(&html, "Post");
    let bea_csrf = csrf_of(&node, &bea).await;
    let forms: [(String, Vec<(&str, &str)>); 4] = [
        (
            "/orders".into(),
            vec![
                ("listing", entry.as_str()),
                ("quantity", "1"),
                ("shipping_option", post.as_str()),
                ("country", "MX"),
                ("total", "33.50"),
                ("name", "Ana López"),
                ("street", "Calle Alcalá 5"),
                ("city", "Oaxaca"),
            ],
        ),
        (format!("/orders/{id}/state"), vec![("state", "cancelled")]),
        (format!("/orders/{id}/messages"), vec![("content", "hello")]),
        ("/notifications/read".into(), vec![]),
    ];
    for (path, fields) in &forms {
        for csrf in [
            None,
            Some(""),
            Some("0".repeat(64).as_str()),
            Some(bea_csrf.as_str()),
        ] {
            let mut sent = fields.clone();
            if let Some(csrf) = csrf {
                sent.push(("csrf", csrf));
            }
            let response = post_form(&node, path, &sent, Some(&ana)).await;
            assert_eq!(response.status(), 403, "{path} {csrf:?}");
            assert!(response.text().await.unwrap().contains("reload the page"));
        }
    }
    assert_eq!(order_count(&node).await, 1, "no order was placed");
    assert_eq!(order_state(&node, &id).await, "accepted");
    let messages = order_message::Entity::find().count(&node.ctx.db).await;
    assert_eq!(messages.unwrap(), 0);
    let (_, html) = page(&node, "/notifications", Some(&bea)).await;
    assert!(!html.contains("Notifications (0 unread)"), "still unread");

    // Refusals re-render the form with the reason. The price went up since the quote: 409 with
    // the new total, the typed address kept.
    let response = node
        .update_listing(&bea_api, &listing, &json!({"price": "30.00"}))
        .await;
    assert_eq!(response.status(), 200);
    let csrf = csrf_of(&node, &ana).await;
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("listing", entry.as_str()),
        ("quantity", "1"),
        ("shipping_option", post.as_str()),
        ("country", "MX"),
        ("total", "33.50"),
    ];
    fields.extend(ADDRESS);
    let response = post_form(&node, "/orders", &fields, Some(&ana)).await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("the total is now 35.50 EUR"), "{html}");
    assert_eq!(field(&html, "total"), "35.50");
    assert_eq!(field(&html, "street"), "Calle Alcalá 5");
    assert_eq!(order_count(&node).await, 1);
    // The shop cancelling without a reason: 422 on the order page, nothing changes.
    let (_, html) = page(&node, &format!("/orders/{id}"), Some(&bea)).await;
    assert!(html.contains("(the buyer sees it)"), "{html}");
    let fields = [("csrf", bea_csrf.as_str()), ("state", "cancelled")];
    let response = post_form(&node, &format!("/orders/{id}/state"), &fields, Some(&bea)).await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("tells the buyer why")
    );
    assert_eq!(order_state(&node, &id).await, "accepted");
    node.shutdown().await;
}

#[tokio::test]
async fn orders_are_private_to_their_two_parties() {
    let node = TestNode::spawn().await;
    let (bea_api, listing) = pottery(&node, 3).await;
    let ana = register(&node, "ana").await;
    let (_, html) = page(&node, &format!("/listings/{listing}"), None).await;
    let entry = field(&html, "listing");
    let placed = order_by_post(&node, &ana, &entry, "1").await;
    let id = location(&placed)
        .strip_prefix("/orders/")
        .unwrap()
        .to_string();
    let order_path = format!("/orders/{id}");
    assert_eq!(page(&node, &order_path, Some(&ana)).await.0, 200);

    // A stranger: 404 for the order and its forms, 403 for the shop's list; nothing of it shows.
    let otto = register(&node, "otto").await;
    let (status, html) = page(&node, &order_path, Some(&otto)).await;
    assert_eq!(status, 404);
    assert!(!html.contains("Oaxaca") && !html.contains("Blue glazed mug"));
    assert!(
        html.contains(r#"<a href="/orders">My orders</a>"#),
        "{html}"
    );
    let otto_csrf = csrf_of(&node, &otto).await;
    let fields = [("csrf", otto_csrf.as_str()), ("state", "cancelled")];
    let response = post_form(&node, &format!("{order_path}/state"), &fields, Some(&otto)).await;
    assert_eq!(response.status(), 404);
    let fields = [("csrf", otto_csrf.as_str()), ("content", "mine now")];
    let response = post_form(
        &node,
        &format!("{order_path}/messages"),
        &fields,
        Some(&otto),
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(order_state(&node, &id).await, "accepted");
    let (status, _) = page(&node, "/shops/pottery/orders", Some(&otto)).await;
    assert_eq!(status, 403);
    let (_, mine) = page(&node, "/orders", Some(&otto)).await;
    assert!(mine.contains("You have not ordered anything yet"), "{mine}");

    // Logged out: the order pages send the visitor to log in; the header offers it.
    for path in [
        order_path.as_str(),
        "/orders",
        "/notifications",
        "/shops/pottery/orders",
    ] {
        let response = get(&node, path, None).await;
        assert_eq!(response.status(), 303, "{path}");
        assert!(location(&response).starts_with("/login?next=%2F"), "{path}");
    }
    let (_, home) = page(&node, "/", None).await;
    assert!(home.contains(r#"<a href="/login">Log in</a>"#));
    assert!(home.contains(r#"<a href="/register">Register</a>"#));
    assert!(!home.contains("My orders"));
    // ActivityPub clients get no order here (the Agreement document is for the parties' nodes).
    assert_eq!(node.get_ap(&node.url(&order_path)).await.0, 404);

    // The public pages never show the address; the payment page shows the instructions as
    // escaped text with their paragraphs.
    set_checkout(
        &node,
        &bea_api,
        "Transfer <b>only</b>\nIBAN MX00 1234\n\nThanks & see you",
    )
    .await;
    for path in [
        "/".to_string(),
        "/shops/pottery".to_string(),
        format!("/catalog/items/{entry}"),
        format!("/listings/{listing}"),
        "/shops/pottery/payment".to_string(),
    ] {
        let (status, html) = page(&node, &path, Some(&otto)).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains("Oaxaca") && !html.contains("Ana López"),
            "{path} shows the address"
        );
    }
    let (status, html) = page(&node, "/shops/pottery/payment", None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            "<p>Transfer &#60;b&#62;only&#60;/b&#62;<br>IBAN MX00 1234</p><p>Thanks &#38; see you</p>"
        ),
        "{html}"
    );
    assert_eq!(page(&node, "/shops/nobody/payment", None).await.0, 404);
    node.shutdown().await;
}

#[tokio::test]
async fn a_shop_that_accepts_by_hand_answers_each_order_from_its_pages() {
    let node = TestNode::spawn().await;
    let (bea, listing) = pottery(&node, 3).await;
    let response = node
        .patch_json(
            "/api/v1/shops/pottery",
            Some(&bea.token),
            &json!({"accepts_orders_by_hand": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let carl = register(&node, "carl").await;
    let (_, found) = page(&node, "/search?q=mug", Some(&carl)).await;
    let entry = between(&found, r#"href="/catalog/items/"#, "\"").to_string();
    let stock = || async {
        node.listing(&listing)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["stock"]
            .as_i64()
            .unwrap()
    };

    // Carl's order waits; its items are held; he may only cancel it, and sees no payment
    // details.
    let placed = order_by_post(&node, &carl, &entry, "2").await;
    assert_eq!(placed.status(), 303);
    let first = location(&placed).trim_start_matches("/orders/").to_string();
    let (_, html) = page(&node, &format!("/orders/{first}"), Some(&carl)).await;
    assert!(html.contains("waiting for the shop to accept it"), "{html}");
    assert_eq!(html.matches(r#"name="state""#).count(), 1, "{html}");
    assert!(html.contains(r#"name="state" value="cancelled""#) && !html.contains(INSTRUCTIONS));
    assert_eq!(stock().await, 1);

    // Bea's dashboard counts it; her list offers Accept and Decline.
    let seller = log_in(&node, "bea").await;
    let (_, dashboard) = page(&node, "/selling", Some(&seller)).await;
    assert!(
        dashboard.contains("<strong>1</strong> order waits for you"),
        "{dashboard}"
    );
    let (_, list) = page(&node, "/shops/pottery/orders", Some(&seller)).await;
    assert!(list.contains("waits for your answer"), "{list}");
    assert!(list.contains("Accept the order") && list.contains("Decline the order"));

    // She declines it with a reason: Carl reads it, the items are back.
    let csrf = csrf_of(&node, &seller).await;
    let declined = post_form(
        &node,
        &format!("/orders/{first}/state"),
        &[
            ("csrf", csrf.as_str()),
            ("state", "rejected"),
            ("reason", "Out of clay until March"),
            ("back", "/shops/pottery/orders"),
        ],
        Some(&seller),
    )
    .await;
    assert_eq!(declined.status(), 303);
    assert_eq!(order_state(&node, &first).await, "rejected");
    assert_eq!(stock().await, 3);
    let (_, html) = page(&node, &format!("/orders/{first}"), Some(&carl)).await;
    assert!(html.contains("Reason: Out of clay until March"), "{html}");

    // The next one she accepts from its own page: Carl then sees how to pay.
    let placed = order_by_post(&node, &carl, &entry, "1").await;
    let second = location(&placed).trim_start_matches("/orders/").to_string();
    let (_, html) = page(&node, &format!("/orders/{second}"), Some(&seller)).await;
    assert!(
        html.contains("waits for you to accept or decline it"),
        "{html}"
    );
    let accepted = press(&node, &seller, &second, "accepted", "").await;
    assert_eq!(accepted.status(), 303);
    let (_, html) = page(&node, &format!("/orders/{second}"), Some(&carl)).await;
    assert!(state_is(&html, "Accepted"), "{html}");
    assert!(html.contains("Bank transfer to IBAN MX00 1234"), "{html}");
    let (_, dashboard) = page(&node, "/selling", Some(&seller)).await;
    assert!(
        dashboard.contains("<strong>1</strong> order waits for you"),
        "to mark paid: {dashboard}"
    );
    // Carl cannot answer for the shop.
    let csrf = csrf_of(&node, &carl).await;
    let refused = post_form(
        &node,
        &format!("/orders/{second}/state"),
        &[("csrf", csrf.as_str()), ("state", "rejected")],
        Some(&carl),
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(order_state(&node, &second).await, "accepted");
}

#[tokio::test]
async fn a_buyer_cancels_an_order_still_waiting_for_the_shop_from_its_page() {
    let node = TestNode::spawn().await;
    let (bea, listing) = pottery(&node, 3).await;
    let response = node
        .patch_json(
            "/api/v1/shops/pottery",
            Some(&bea.token),
            &json!({"accepts_orders_by_hand": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let carl = register(&node, "carl").await;
    let (_, found) = page(&node, "/search?q=mug", Some(&carl)).await;
    let entry = between(&found, r#"href="/catalog/items/"#, "\"").to_string();
    let stock = || async {
        node.listing(&listing)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["stock"]
            .as_i64()
            .unwrap()
    };
    let placed = order_by_post(&node, &carl, &entry, "2").await;
    let id = location(&placed).trim_start_matches("/orders/").to_string();
    assert_eq!(stock().await, 1, "held for the shop");
    let (_, html) = page(&node, &format!("/orders/{id}"), Some(&carl)).await;
    assert!(html.contains("Cancel the order"), "{html}");

    // He cancels it with a reason: the items are back on sale, the shop has nothing to answer.
    let (_, html) = page(&node, &format!("/orders/{id}"), Some(&carl)).await;
    let csrf = field(&html, "csrf");
    let cancelled = post_form(
        &node,
        &format!("/orders/{id}/state"),
        &[
            ("csrf", csrf.as_str()),
            ("state", "cancelled"),
            ("reason", "Found one closer to home"),
        ],
        Some(&carl),
    )
    .await;
    assert_eq!(cancelled.status(), 303);
    assert_eq!(order_state(&node, &id).await, "cancelled");
    assert_eq!(stock().await, 3);
    let (_, html) = page(&node, &format!("/orders/{id}"), Some(&carl)).await;
    assert!(html.contains("Reason: Found one closer to home"), "{html}");
    assert!(
        !html.contains(r#"name="state""#),
        "nothing left to do: {html}"
    );
    let seller = log_in(&node, "bea").await;
    let (_, html) = page(&node, &format!("/orders/{id}"), Some(&seller)).await;
    assert!(!html.contains("Accept the order"), "{html}");

    // Pressing again (a second tab) changes nothing.
    let again = post_form(
        &node,
        &format!("/orders/{id}/state"),
        &[("csrf", csrf.as_str()), ("state", "cancelled")],
        Some(&carl),
    )
    .await;
    assert_eq!(again.status(), 409);
    assert_eq!(stock().await, 3);
}
