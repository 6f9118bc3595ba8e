//! Federated orders (FEP-0837 and our lifecycle extension) between real nodes: a buyer on one
//! node orders from a shop on a peer node and the order goes through every step; rejection; the
//! last-item race; cancellation giving stock back; a third node's forged step; privacy (never to
//! followers, outboxes or public pages; the Agreement's id is 404 to strangers); and the same
//! flow inside one node.

use std::{future::Future, time::Duration};

use federation::peering;
use harness::{
    Member, TestNode, sample_listing,
    signing::{SignedPost, signed_get},
    sink::Sink,
};
use market::{
    entities::{delivery, order},
    service::{accounts, peers},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

pub(crate) async fn until<F, Fut>(what: &str, check: F)
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
pub(crate) async fn peer_up(a: &TestNode, b: &TestNode) {
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

pub(crate) async fn json_ok(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A buyer registers on `node` and logs in.
pub(crate) async fn buyer(node: &TestNode, name: &str) -> Member {
    let response = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": name, "password": "a long enough secret"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let login = json_ok(node.login(name, "a long enough secret").await, 200).await;
    Member {
        username: name.into(),
        token: login["token"].as_str().unwrap().into(),
    }
}

/// Bea's pottery on `node`: a mug (28.00 EUR, `stock` in stock), post to MX and DE at 5.50, or
/// pickup. Returns (seller, listing id).
pub(crate) async fn pottery(node: &TestNode, stock: i64) -> (Member, String) {
    let bea = node.member("bea").await;
    node.create_shop(&bea, "pottery", "Bea's Pottery").await;
    let mut body = sample_listing();
    body["stock"] = json!(stock);
    let listing = json_ok(node.create_listing(&bea, "pottery", &body).await, 201).await;
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
    (bea, listing["id"].as_str().unwrap().to_string())
}

/// The catalog entry id of the mug on `node`.
pub(crate) async fn mug_entry(node: &TestNode, token: &str) -> i64 {
    let found = json_ok(node.get("/api/v1/catalog?q=mug", Some(token)).await, 200).await;
    found["items"][0]["id"].as_i64().unwrap()
}

fn address() -> Value {
    json!({"name": "Ana López", "street": "Calle Alcalá 5", "city": "Oaxaca",
           "postal_code": "68000", "country": "mx"})
}

/// Quote, then order `quantity` mugs by post, confirming the quoted total.
pub(crate) async fn order_mugs(
    node: &TestNode,
    buyer: &Member,
    entry: i64,
    quantity: i64,
) -> reqwest::Response {
    let quote = json_ok(
        node.post_json(
            "/api/v1/orders/quote",
            Some(&buyer.token),
            &json!({"listing": entry, "quantity": quantity}),
        )
        .await,
        200,
    )
    .await;
    let post = quote["shipping_options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Post")
        .unwrap()["id"]
        .clone();
    let priced = json_ok(
        node.post_json(
            "/api/v1/orders/quote",
            Some(&buyer.token),
            &json!({"listing": entry, "quantity": quantity, "shipping_option": post, "country": "MX"}),
        )
        .await,
        200,
    )
    .await;
    node.post_json(
        "/api/v1/orders",
        Some(&buyer.token),
        &json!({"listing": entry, "quantity": quantity, "shipping_option": post,
                "address": address(), "total": priced["total"]}),
    )
    .await
}

pub(crate) async fn order_view(node: &TestNode, token: &str, id: &str) -> Value {
    json_ok(
        node.get(&format!("/api/v1/orders/{id}"), Some(token)).await,
        200,
    )
    .await
}

pub(crate) async fn wait_state(node: &TestNode, token: &str, id: &str, state: &str) -> Value {
    until(&format!("order {id} is {state}"), || async {
        order_view(node, token, id).await["state"] == state
    })
    .await;
    order_view(node, token, id).await
}

pub(crate) async fn step(node: &TestNode, token: &str, id: &str, state: &str) -> reqwest::Response {
    node.post_json(
        &format!("/api/v1/orders/{id}/state"),
        Some(token),
        &json!({"state": state}),
    )
    .await
}

/// The seller's copy of the only order of the shop `pottery` on `node`.
pub(crate) async fn seller_orders(node: &TestNode, seller: &Member) -> Vec<Value> {
    let page = json_ok(
        node.get("/api/v1/shops/pottery/orders", Some(&seller.token))
            .await,
        200,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

pub(crate) async fn stock(node: &TestNode, listing: &str) -> i64 {
    json_ok(node.listing(listing).await, 200).await["stock"]
        .as_i64()
        .unwrap()
}

pub(crate) async fn notifications(node: &TestNode, token: &str) -> Vec<String> {
    let page = json_ok(node.get("/api/v1/notifications", Some(token)).await, 200).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn states(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_buyer_orders_from_a_peer_nodes_shop_and_the_order_goes_to_completion() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let (bea, listing) = pottery(&b, 3).await;
    peer_up(&a, &b).await;
    let ana = buyer(&a, "ana").await;
    let entry = mug_entry(&a, &ana.token).await;

    // The quote comes from B: options in the listing's currency, and the total once one is
    // chosen.
    let quote = json_ok(
        a.post_json(
            "/api/v1/orders/quote",
            Some(&ana.token),
            &json!({"listing": entry, "quantity": 2}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(quote["items"], "56.00");
    assert_eq!(quote["shipping_options"].as_array().unwrap().len(), 2);
    assert_eq!(quote["total"], Value::Null);
    // A total the buyer was not shown is refused before anything is sent.
    let post = quote["shipping_options"][0]["id"].clone();
    let cheap = a
        .post_json(
            "/api/v1/orders",
            Some(&ana.token),
            &json!({"listing": entry, "quantity": 2, "shipping_option": post,
                    "address": address(), "total": "56.00"}),
        )
        .await;
    assert_eq!(cheap.status(), 409);
    assert!(cheap.text().await.unwrap().contains("61.50"));
    // Post does not reach Japan.
    let japan = a
        .post_json(
            "/api/v1/orders/quote",
            Some(&ana.token),
            &json!({"listing": entry, "quantity": 2, "shipping_option": post, "country": "JP"}),
        )
        .await;
    assert_eq!(japan.status(), 422);

    let placed = json_ok(order_mugs(&a, &ana, entry, 2).await, 201).await;
    let id = placed["id"].as_str().unwrap().to_string();
    let view = wait_state(&a, &ana.token, &id, "accepted").await;
    assert_eq!(view["total"], "61.50");
    assert_eq!(view["shipping"], "5.50");
    assert!(
        view["payment_instructions"]
            .as_str()
            .unwrap()
            .contains("IBAN MX00 1234")
    );
    assert_eq!(
        view["payment_url"],
        format!("{}/shops/pottery/payment", b.base)
    );
    let agreement = view["agreement_id"].as_str().unwrap().to_string();
    assert!(agreement.starts_with(&format!("{}/orders/", b.base)));
    assert_eq!(view["actions"], json!(["cancelled"]));

    // B reserved the stock; the change reaches A's copy of the listing (as it does followers).
    assert_eq!(stock(&b, &listing).await, 1);
    b.deliver_pending().await;
    until("A's catalog shows the new stock", || async {
        let found = json_ok(a.get("/api/v1/catalog?q=mug", None).await, 200).await;
        found["items"][0]["stock"] == 1
    })
    .await;

    // B's order inbox: the address is there, with the actions the seller may take.
    let sold = seller_orders(&b, &bea).await;
    assert_eq!(sold.len(), 1);
    let theirs = sold[0]["id"].as_str().unwrap().to_string();
    assert_eq!(sold[0]["state"], "accepted");
    assert_eq!(sold[0]["buyer"], format!("ana@{}", a.domain));
    assert_eq!(sold[0]["address"]["city"], "Oaxaca");
    assert_eq!(sold[0]["address"]["country"], "MX");
    assert_eq!(sold[0]["actions"], json!(["paid", "cancelled"]));

    // Refusals: the buyer cannot mark it paid (403), the seller cannot skip to shipped (409);
    // nothing changes.
    assert_eq!(step(&a, &ana.token, &id, "paid").await.status(), 403);
    assert_eq!(step(&b, &bea.token, &theirs, "shipped").await.status(), 409);
    assert_eq!(
        step(&b, &bea.token, &theirs, "accepted").await.status(),
        409
    );
    assert_eq!(
        order_view(&b, &bea.token, &theirs).await["state"],
        "accepted"
    );

    // Messages: one thread, on both sides.
    let posted = a
        .post_json(
            &format!("/api/v1/orders/{id}/messages"),
            Some(&ana.token),
            &json!({"content": "Could you wrap it as a gift?\n\nThanks!"}),
        )
        .await;
    assert_eq!(posted.status(), 201);
    until("B has the buyer's message", || async {
        order_view(&b, &bea.token, &theirs).await["messages"]
            .as_array()
            .unwrap()
            .len()
            == 1
    })
    .await;
    assert_eq!(
        order_view(&b, &bea.token, &theirs).await["messages"][0]["content"],
        "Could you wrap it as a gift?\n\nThanks!",
        "paragraphs survive the trip"
    );
    let reply = b
        .post_json(
            &format!("/api/v1/orders/{theirs}/messages"),
            Some(&bea.token),
            &json!({"content": "Of course <b>gladly</b>."}),
        )
        .await;
    assert_eq!(reply.status(), 201);
    until("A has the reply", || async {
        order_view(&a, &ana.token, &id).await["messages"]
            .as_array()
            .unwrap()
            .len()
            == 2
    })
    .await;
    let thread = order_view(&a, &ana.token, &id).await["messages"].clone();
    assert_eq!(thread[0]["party"], "buyer");
    assert_eq!(
        thread[0]["content"],
        "Could you wrap it as a gift?\n\nThanks!"
    );
    assert_eq!(thread[1]["party"], "seller");
    assert_eq!(thread[1]["from"], format!("pottery@{}", b.domain));
    assert_eq!(thread[1]["content"], "Of course <b>gladly</b>.");

    // Every step, by the party allowed to take it, reaches the other node.
    assert_eq!(step(&b, &bea.token, &theirs, "paid").await.status(), 200);
    wait_state(&a, &ana.token, &id, "paid").await;
    assert_eq!(step(&b, &bea.token, &theirs, "shipped").await.status(), 200);
    wait_state(&a, &ana.token, &id, "shipped").await;
    assert_eq!(step(&a, &ana.token, &id, "cancelled").await.status(), 409);
    assert_eq!(step(&a, &ana.token, &id, "delivered").await.status(), 200);
    wait_state(&b, &bea.token, &theirs, "delivered").await;
    assert_eq!(step(&a, &ana.token, &id, "completed").await.status(), 403);
    assert_eq!(
        step(&b, &bea.token, &theirs, "completed").await.status(),
        200
    );
    let done = wait_state(&a, &ana.token, &id, "completed").await;
    assert_eq!(
        states(&done),
        [
            "offered",
            "accepted",
            "paid",
            "shipped",
            "delivered",
            "completed"
        ]
    );
    assert_eq!(done["actions"], json!([]));
    let seller_view = order_view(&b, &bea.token, &theirs).await;
    assert_eq!(
        states(&seller_view),
        ["accepted", "paid", "shipped", "delivered", "completed"]
    );

    // B booked the sale once: 61.50 collected, 5 % commission (3.075 → 3.08), 58.42 owed to
    // the seller. A, the buyer's node, books nothing.
    let balances = market::service::ledger::trial_balance(&b.ctx)
        .await
        .unwrap();
    let eur = |account: &str| {
        balances
            .get(&("EUR".to_string(), account.to_string()))
            .cloned()
            .unwrap_or_default()
    };
    // Besides the sale, each node's founding members paid in their 20.00 shares.
    let shares_paid = |balances: &std::collections::BTreeMap<
        (String, String),
        market::service::ledger::Balance,
    >|
     -> i64 {
        balances
            .iter()
            .filter(|((_, account), _)| account.starts_with("equity:member_shares:"))
            .map(|(_, b)| b.credit)
            .sum()
    };
    assert_eq!(eur("assets:cash").debit, 6150 + shares_paid(&balances));
    assert_eq!(eur("revenue:commission").credit, 308);
    assert_eq!(eur("liabilities:seller_payable:pottery").credit, 5842);
    let a_books = market::service::ledger::trial_balance(&a.ctx)
        .await
        .unwrap();
    assert!(
        a_books
            .keys()
            .all(|(_, account)| account == "assets:cash"
                || account.starts_with("equity:member_shares:")),
        "A books no sale: {a_books:?}"
    );

    // Notifications: each party hears of what the other did.
    let ana_heard = notifications(&a, &ana.token).await;
    for expected in [
        "Order accepted",
        "Payment received",
        "Shipped",
        "Completed",
        "Message from",
    ] {
        assert!(
            ana_heard.iter().any(|n| n.starts_with(expected)),
            "{expected} not in {ana_heard:?}"
        );
    }
    assert!(
        !ana_heard.iter().any(|n| n.starts_with("Delivered")),
        "{ana_heard:?}"
    );
    let bea_heard = notifications(&b, &bea.token).await;
    for expected in ["Order accepted", "Delivered", "Message from"] {
        assert!(
            bea_heard.iter().any(|n| n.starts_with(expected)),
            "{expected} not in {bea_heard:?}"
        );
    }
    let unread = json_ok(
        a.get("/api/v1/notifications?unread=true", Some(&ana.token))
            .await,
        200,
    )
    .await;
    assert_eq!(unread["unread"], ana_heard.len());
    json_ok(
        a.post_json("/api/v1/notifications/read", Some(&ana.token), &json!({}))
            .await,
        200,
    )
    .await;
    let unread = json_ok(
        a.get("/api/v1/notifications?unread=true", Some(&ana.token))
            .await,
        200,
    )
    .await;
    assert_eq!(unread["unread"], 0);

    // Another user of A sees nothing of it.
    let other = buyer(&a, "otto").await;
    assert_eq!(
        a.get(&format!("/api/v1/orders/{id}"), Some(&other.token))
            .await
            .status(),
        404
    );
    let mine = json_ok(a.get("/api/v1/orders", Some(&other.token)).await, 200).await;
    assert_eq!(mine["total"], 0);
}

#[tokio::test]
async fn the_last_item_goes_to_one_of_two_buyers_and_cancelling_gives_it_back() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let (bea, listing) = pottery(&b, 1).await;
    peer_up(&a, &b).await;
    let ana = buyer(&a, "ana").await;
    let cleo = buyer(&a, "cleo").await;
    let entry = mug_entry(&a, &ana.token).await;

    // Both were quoted while one mug was left; both offers arrive together.
    let (first, second) = tokio::join!(
        order_mugs(&a, &ana, entry, 1),
        order_mugs(&a, &cleo, entry, 1)
    );
    let first = json_ok(first, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = json_ok(second, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    until("both offers are answered", || async {
        let x = order_view(&a, &ana.token, &first).await["state"].clone();
        let y = order_view(&a, &cleo.token, &second).await["state"].clone();
        x != "offered" && y != "offered"
    })
    .await;
    let x = order_view(&a, &ana.token, &first).await;
    let y = order_view(&a, &cleo.token, &second).await;
    let mut outcomes = vec![x["state"].as_str().unwrap(), y["state"].as_str().unwrap()];
    outcomes.sort();
    assert_eq!(outcomes, ["accepted", "rejected"]);
    let (winner, winner_id, loser) = if x["state"] == "accepted" {
        (&ana, &first, &y)
    } else {
        (&cleo, &second, &x)
    };
    assert_eq!(loser["reason"], "sold out");
    assert_eq!(stock(&b, &listing).await, 0);
    assert_eq!(
        json_ok(b.listing(&listing).await, 200).await["status"],
        "sold_out"
    );

    // An order now is rejected at the quote: nothing is sent.
    let late = buyer(&a, "dora").await;
    let refused = a
        .post_json(
            "/api/v1/orders/quote",
            Some(&late.token),
            &json!({"listing": entry, "quantity": 1}),
        )
        .await;
    assert_eq!(refused.status(), 409);

    // The seller cancels without a reason: refused. With one: the mug is back on sale, and the
    // buyer's node learns why.
    let theirs = seller_orders(&b, &bea)
        .await
        .into_iter()
        .find(|o| o["state"] == "accepted")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let no_reason = step(&b, &bea.token, &theirs, "cancelled").await;
    assert_eq!(no_reason.status(), 422);
    let cancelled = b
        .post_json(
            &format!("/api/v1/orders/{theirs}/state"),
            Some(&bea.token),
            &json!({"state": "cancelled", "reason": "It broke in the kiln, sorry."}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(stock(&b, &listing).await, 1);
    assert_eq!(
        json_ok(b.listing(&listing).await, 200).await["status"],
        "active"
    );
    let view = wait_state(&a, &winner.token, winner_id, "cancelled").await;
    assert_eq!(view["reason"], "It broke in the kiln, sorry.");
    // Nothing was paid, so nothing is refunded.
    assert_eq!(
        step(&b, &bea.token, &theirs, "refunded").await.status(),
        409
    );

    // A buyer's cancellation gives stock back too.
    let again = json_ok(order_mugs(&a, &late, entry, 1).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_state(&a, &late.token, &again, "accepted").await;
    assert_eq!(stock(&b, &listing).await, 0);
    assert_eq!(
        step(&a, &late.token, &again, "cancelled").await.status(),
        200
    );
    until("B put the mug back", || async {
        stock(&b, &listing).await == 1
    })
    .await;
}

#[tokio::test]
async fn a_third_node_cannot_move_someone_elses_order_and_orders_stay_private() {
    let (a, b, c) = tokio::join!(TestNode::spawn(), TestNode::spawn(), TestNode::spawn());
    let (bea, _) = pottery(&b, 3).await;
    // A Mastodon-like follower of the shop, to see what followers get.
    let sink = Sink::spawn().await;
    let shop = format!("{}/shops/pottery", b.base);
    assert_eq!(
        sink.follow(&b.http, "fan", &shop, &format!("{shop}/inbox"))
            .await,
        202
    );
    peer_up(&a, &b).await;
    peer_up(&c, &b).await;
    let ana = buyer(&a, "ana").await;
    let entry = mug_entry(&a, &ana.token).await;
    let id = json_ok(order_mugs(&a, &ana, entry, 1).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let view = wait_state(&a, &ana.token, &id, "accepted").await;
    let agreement = view["agreement_id"].as_str().unwrap().to_string();
    let theirs = seller_orders(&b, &bea).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(step(&b, &bea.token, &theirs, "paid").await.status(), 200);
    wait_state(&a, &ana.token, &id, "paid").await;

    // C's member signs an Update claiming the order shipped, to A's buyer and to B's shop.
    let cid = c.member("cid").await;
    let cid_user = accounts::find_user(&c.ctx, "cid").await.unwrap().unwrap();
    let keys = accounts::user_keys(&c.ctx, cid_user.id).await.unwrap();
    let cid_actor = format!("{}/users/cid", c.base);
    let _ = cid;
    for (inbox, target) in [
        (
            format!("{}/users/ana/inbox", a.base),
            format!("{}/users/ana", a.base),
        ),
        (format!("{shop}/inbox"), shop.clone()),
    ] {
        let forged = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/activities/{}", c.base, uuid::Uuid::new_v4()),
            "type": "Update",
            "actor": cid_actor,
            "to": [target],
            "object": {"type": "Agreement", "id": agreement, "tianguis:state": "shipped"},
        });
        let status = SignedPost::new(
            &inbox,
            &forged,
            &format!("{cid_actor}#main-key"),
            &keys.private_key_pem,
        )
        .send(&a.http)
        .await;
        assert_eq!(status, 403, "{inbox}");
    }
    assert_eq!(order_view(&a, &ana.token, &id).await["state"], "paid");
    assert_eq!(order_view(&b, &bea.token, &theirs).await["state"], "paid");
    // The buyer forging a seller's step is refused too: paid → shipped is the seller's.
    let ana_user = accounts::find_user(&a.ctx, "ana").await.unwrap().unwrap();
    let ana_keys = accounts::user_keys(&a.ctx, ana_user.id).await.unwrap();
    let ana_actor = format!("{}/users/ana", a.base);
    let forged = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/activities/{}", a.base, uuid::Uuid::new_v4()),
        "type": "Update",
        "actor": ana_actor,
        "to": [shop],
        "object": {"type": "Agreement", "id": agreement, "tianguis:state": "shipped"},
    });
    let status = SignedPost::new(
        &format!("{shop}/inbox"),
        &forged,
        &format!("{ana_actor}#main-key"),
        &ana_keys.private_key_pem,
    )
    .send(&a.http)
    .await;
    assert_eq!(status, 403);
    assert_eq!(order_view(&b, &bea.token, &theirs).await["state"], "paid");

    // Privacy. The follower got the listing's stock updates, and nothing of the order.
    b.deliver_pending().await;
    a.deliver_pending().await;
    let received = sink.received();
    assert!(
        received.iter().any(|r| r.kind == "Update"),
        "the stock change reaches followers"
    );
    for r in &received {
        let text = r.body.to_string();
        assert!(
            !text.contains(&agreement)
                && !text.contains("Oaxaca")
                && !text.contains("/users/ana")
                && r.body["object"]["type"] != "Agreement"
                && r.kind != "Offer",
            "a follower received order data: {text}"
        );
    }
    // No outbox or public page holds it.
    for (node, path) in [
        (&b, "/shops/pottery/outbox?page=1".to_string()),
        (&a, "/users/ana/outbox".to_string()),
        (&b, "/catalog".to_string()),
    ] {
        let (status, body) = node.get_ap(&node.url(&path)).await;
        assert_eq!(status, 200, "{path}");
        let text = body.to_string();
        assert!(
            !text.contains(&agreement) && !text.contains("Oaxaca") && !text.contains("ana@"),
            "{path}: {text}"
        );
        if path.starts_with("/users/") {
            assert_eq!(body["totalItems"], 0);
        }
    }
    for (node, path) in [
        (&b, "/".to_string()),
        (&b, "/shops/pottery".to_string()),
        (&a, "/search?q=mug".to_string()),
    ] {
        let text = node.get(&path, None).await.text().await.unwrap();
        assert!(
            !text.contains("Oaxaca") && !text.contains("Ana López"),
            "{path} shows order data"
        );
    }
    // The Agreement's id: 404 to an unsigned fetch and to a stranger's signed one; the buyer's
    // signed fetch gets it.
    let (status, _) = b.get_ap(&agreement).await;
    assert_eq!(status, 404);
    let (status, _) = signed_get(
        &b.http,
        &agreement,
        &format!("{cid_actor}#main-key"),
        &keys.private_key_pem,
    )
    .await;
    assert_eq!(status, 404);
    let (status, document) = signed_get(
        &b.http,
        &agreement,
        &format!("{ana_actor}#main-key"),
        &ana_keys.private_key_pem,
    )
    .await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(document["type"], "Agreement");
    assert_eq!(document["id"], agreement);
    assert_eq!(document["tianguis:state"], "paid");
    assert_eq!(document["attributedTo"], shop);
    assert_eq!(
        document["stipulates"]["resourceQuantity"]["hasNumericalValue"],
        "1"
    );

    // On C, nothing: no order row at all.
    let rows = order::Entity::find().all(&c.ctx.db).await.unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn orders_inside_one_node_follow_the_same_rules_without_activities() {
    let b = TestNode::spawn().await;
    let (bea, listing) = pottery(&b, 2).await;
    let ana = buyer(&b, "ana").await;
    let entry = mug_entry(&b, &ana.token).await;

    // The owner cannot order from their own shop.
    let own = order_mugs(&b, &bea, entry, 1).await;
    assert_eq!(own.status(), 409);

    let placed = json_ok(order_mugs(&b, &ana, entry, 1).await, 201).await;
    assert_eq!(placed["state"], "accepted", "answered at once");
    let id = placed["id"].as_str().unwrap().to_string();
    assert_eq!(stock(&b, &listing).await, 1);
    // One row carries both sides.
    let sold = seller_orders(&b, &bea).await;
    assert_eq!(sold.len(), 1);
    assert_eq!(sold[0]["id"], id);
    assert_eq!(sold[0]["role"], "seller");

    assert_eq!(step(&b, &ana.token, &id, "paid").await.status(), 403);
    for (who, state) in [
        (&bea, "paid"),
        (&bea, "shipped"),
        (&ana, "delivered"),
        (&bea, "completed"),
    ] {
        let view = json_ok(step(&b, &who.token, &id, state).await, 200).await;
        assert_eq!(view["state"], state);
    }
    assert_eq!(step(&b, &bea.token, &id, "refunded").await.status(), 409);
    let view = order_view(&b, &ana.token, &id).await;
    assert_eq!(
        states(&view),
        [
            "offered",
            "accepted",
            "paid",
            "shipped",
            "delivered",
            "completed"
        ]
    );
    let heard = notifications(&b, &ana.token).await;
    assert!(
        heard.iter().any(|n| n.starts_with("Completed")),
        "{heard:?}"
    );
    assert!(
        !heard.iter().any(|n| n.starts_with("Delivered")),
        "{heard:?}"
    );

    // No activity left the node for it.
    let queued = delivery::Entity::find()
        .filter(delivery::Column::Inbox.contains("/users/"))
        .all(&b.ctx.db)
        .await
        .unwrap();
    assert!(queued.is_empty());
}

/// Sign `activity` as `user` of `node` and post it to `inbox`; returns the status.
async fn post_as(node: &TestNode, user: &str, inbox: &str, activity: &Value) -> u16 {
    let row = accounts::find_user(&node.ctx, user).await.unwrap().unwrap();
    let keys = accounts::user_keys(&node.ctx, row.id).await.unwrap();
    let actor = format!("{}/users/{user}", node.base);
    SignedPost::new(
        inbox,
        activity,
        &format!("{actor}#main-key"),
        &keys.private_key_pem,
    )
    .send(&node.http)
    .await
}

#[tokio::test]
async fn the_specs_own_offer_is_accepted_and_broken_offers_get_a_clear_answer() {
    let Some(fixtures) = harness::optional::fixtures_dir() else {
        return;
    };
    let (b, c) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    // A shop with pickup only: a plain FEP-0837 Offer (no shipping fields) can be fulfilled.
    let bea = b.member("bea").await;
    b.create_shop(&bea, "pottery", "Bea's Pottery").await;
    let listing = json_ok(
        b.create_listing(&bea, "pottery", &sample_listing()).await,
        201,
    )
    .await;
    let listing = listing["id"].as_str().unwrap().to_string();
    let response = b
        .http
        .put(b.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&bea.token)
        .json(&json!({"payment_instructions": "Cash at the stall.",
                      "shipping_options": [{"name": "Pickup", "price": "0.00", "currency": "EUR", "pickup": true}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    c.member("cid").await;
    let cid = format!("{}/users/cid", c.base);
    let shop = format!("{}/shops/pottery", b.base);
    let inbox = format!("{shop}/inbox");
    let proposal = format!("{}/listings/{listing}/proposal", b.base);

    // The FEP's normative example, pointed at our listing: 2 items for 2 × 28.00.
    let path = fixtures.join("fep-0837/offer_agreement.json");
    let mut offer: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let offer_id = format!("{}/offers/{}", c.base, uuid::Uuid::new_v4());
    offer["id"] = json!(offer_id);
    offer["actor"] = json!(cid);
    offer["to"] = json!(shop);
    offer["object"]["stipulates"]["satisfies"] = json!(format!("{proposal}#primary"));
    offer["object"]["stipulates"]["resourceQuantity"]["hasNumericalValue"] = json!("2");
    offer["object"]["stipulatesReciprocal"]["satisfies"] = json!(format!("{proposal}#reciprocal"));
    offer["object"]["stipulatesReciprocal"]["resourceQuantity"]["hasNumericalValue"] =
        json!("56.00");
    assert_eq!(post_as(&c, "cid", &inbox, &offer).await, 202);
    let row = order::Entity::find()
        .filter(order::Column::OfferId.eq(&offer_id))
        .one(&b.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "accepted");
    assert_eq!(row.quantity, 2);
    assert_eq!(row.total_minor, 5600);
    assert_eq!(row.buyer_name, format!("cid@{}", c.domain));
    assert_eq!(stock(&b, &listing).await, 1);
    // The Accept went to the buyer's inbox, with the finalized Agreement.
    until("the Accept is delivered", || async {
        delivery::Entity::find()
            .filter(delivery::Column::Inbox.eq(format!("{cid}/inbox")))
            .filter(delivery::Column::State.eq(delivery::STATE_DONE))
            .one(&b.ctx.db)
            .await
            .unwrap()
            .is_some()
    })
    .await;

    // The same offer again: already answered (409), nothing changes.
    assert_eq!(post_as(&c, "cid", &inbox, &offer).await, 409);
    assert_eq!(stock(&b, &listing).await, 1);

    // Malformed: a Proposal that is not this node's, or no Commitment at all: 400.
    let mut foreign = offer.clone();
    foreign["id"] = json!(format!("{}/offers/{}", c.base, uuid::Uuid::new_v4()));
    foreign["object"]["stipulates"]["satisfies"] =
        json!("https://market.example/proposals/ddde9d6f#primary");
    assert_eq!(post_as(&c, "cid", &inbox, &foreign).await, 400);
    let mut empty = offer.clone();
    empty["id"] = json!(format!("{}/offers/{}", c.base, uuid::Uuid::new_v4()));
    empty["object"] = json!({"type": "Agreement"});
    assert_eq!(post_as(&c, "cid", &inbox, &empty).await, 400);

    // Well-formed but unfulfillable: answered with a Reject naming the reason, stock untouched.
    for (change, reason) in [
        (json!({"hasUnit": "kg", "hasNumericalValue": "1"}), "unit"),
        (
            json!({"hasUnit": "one", "hasNumericalValue": "1.5"}),
            "whole number",
        ),
        (
            json!({"hasUnit": "one", "hasNumericalValue": "5"}),
            "only 1 left",
        ),
    ] {
        let mut odd = offer.clone();
        let id = format!("{}/offers/{}", c.base, uuid::Uuid::new_v4());
        odd["id"] = json!(id);
        odd["object"]["stipulates"]["resourceQuantity"] = change;
        odd["object"]["stipulatesReciprocal"]["resourceQuantity"]["hasNumericalValue"] =
            json!("140.00");
        assert_eq!(post_as(&c, "cid", &inbox, &odd).await, 202, "{reason}");
        let sent = market::entities::outbox_activity::Entity::find()
            .all(&b.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.body.contains("\"Reject\"") && a.body.contains(&id))
            .unwrap_or_else(|| panic!("no Reject for the {reason} offer"));
        assert!(sent.body.contains(reason), "{reason}: {}", sent.body);
    }
    // A price the shop does not ask: rejected, the current price named.
    let mut cheap = offer.clone();
    let id = format!("{}/offers/{}", c.base, uuid::Uuid::new_v4());
    cheap["id"] = json!(id);
    cheap["object"]["stipulates"]["resourceQuantity"]["hasNumericalValue"] = json!("1");
    cheap["object"]["stipulatesReciprocal"]["resourceQuantity"]["hasNumericalValue"] = json!("1");
    assert_eq!(post_as(&c, "cid", &inbox, &cheap).await, 202);
    let rejected = order::Entity::find()
        .filter(order::Column::OfferId.eq(&id))
        .one(&b.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rejected.state, "rejected");
    assert!(rejected.reason.unwrap().contains("28.00"));
    assert_eq!(stock(&b, &listing).await, 1);

    // An Update of an Agreement nobody here knows: 404.
    let unknown = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/activities/{}", c.base, uuid::Uuid::new_v4()),
        "type": "Update", "actor": cid, "to": [shop],
        "object": {"type": "Agreement", "id": format!("{}/orders/{}", b.base, uuid::Uuid::new_v4()),
                   "tianguis:state": "cancelled"},
    });
    assert_eq!(post_as(&c, "cid", &inbox, &unknown).await, 404);
    // An unknown state: 400.
    let mut bogus = unknown.clone();
    bogus["id"] = json!(format!("{}/activities/{}", c.base, uuid::Uuid::new_v4()));
    bogus["object"]["id"] = json!(row.agreement_id.clone().unwrap());
    bogus["object"]["tianguis:state"] = json!("teleported");
    assert_eq!(post_as(&c, "cid", &inbox, &bogus).await, 400);
    // The buyer cancels through the protocol: the two mugs go back.
    let mut cancel = unknown.clone();
    cancel["id"] = json!(format!("{}/activities/{}", c.base, uuid::Uuid::new_v4()));
    cancel["object"]["id"] = json!(row.agreement_id.clone().unwrap());
    assert_eq!(post_as(&c, "cid", &inbox, &cancel).await, 202);
    assert_eq!(stock(&b, &listing).await, 3);
}

#[tokio::test]
async fn an_order_left_unpaid_past_the_deadline_is_cancelled_and_its_items_go_back() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let (bea, listing) = pottery(&b, 3).await;
    peer_up(&a, &b).await;
    let ana = buyer(&a, "ana").await;
    let entry = mug_entry(&a, &ana.token).await;
    let unpaid = json_ok(order_mugs(&a, &ana, entry, 1).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let paid = json_ok(order_mugs(&a, &ana, entry, 1).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_state(&a, &ana.token, &unpaid, "accepted").await;
    wait_state(&a, &ana.token, &paid, "accepted").await;
    assert_eq!(stock(&b, &listing).await, 1);
    let paid_there = seller_orders(&b, &bea)
        .await
        .into_iter()
        .find(|o| o["state"] == "accepted")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        step(&b, &bea.token, &paid_there, "paid").await.status(),
        200
    );

    let data = b.federation.to_request_data();
    let now = chrono::Utc::now();
    // Within the week: nothing happens.
    assert_eq!(
        federation::orders::expire_unpaid(&data, now + chrono::Duration::days(6))
            .await
            .unwrap(),
        0
    );
    // Past it: the unpaid one is cancelled with the reason, the paid one is left alone.
    assert_eq!(
        federation::orders::expire_unpaid(&data, now + chrono::Duration::days(8))
            .await
            .unwrap(),
        1
    );
    assert_eq!(stock(&b, &listing).await, 2);
    let a_paid = if order_view(&a, &ana.token, &paid).await["state"] == "paid" {
        (&paid, &unpaid)
    } else {
        (&unpaid, &paid)
    };
    let view = wait_state(&a, &ana.token, a_paid.1, "cancelled").await;
    assert_eq!(view["reason"], "not paid within 7 days");
    assert_eq!(order_view(&a, &ana.token, a_paid.0).await["state"], "paid");
    // A second sweep finds nothing more.
    assert_eq!(
        federation::orders::expire_unpaid(&data, now + chrono::Duration::days(8))
            .await
            .unwrap(),
        0
    );
}
