//! A shop that accepts orders by hand: its node holds each order (stock reserved, nothing sent
//! to the buyer) until the owner accepts or declines it, or declines it for the owner after
//! `[orders] answer_days`. Between two real nodes, and inside one node.

use harness::TestNode;
use serde_json::{Value, json};

use crate::orders::{
    buyer, json_ok, mug_entry, notifications, order_mugs, order_view, peer_up, pottery,
    seller_orders, states, step, stock, until, wait_state,
};

/// Switch `pottery` on `node` to accepting orders by hand (or back).
async fn by_hand(node: &TestNode, token: &str, on: bool) {
    let shop = json_ok(
        node.patch_json(
            "/api/v1/shops/pottery",
            Some(token),
            &json!({"accepts_orders_by_hand": on}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(shop["accepts_orders_by_hand"], on);
}

async fn answer(
    node: &TestNode,
    token: &str,
    id: &str,
    state: &str,
    reason: Option<&str>,
) -> reqwest::Response {
    node.post_json(
        &format!("/api/v1/orders/{id}/state"),
        Some(token),
        &json!({"state": state, "reason": reason}),
    )
    .await
}

fn id_of(view: &Value) -> String {
    view["id"].as_str().unwrap().to_string()
}

/// The ids of the shop's orders waiting for an answer, oldest first.
async fn held(node: &TestNode, seller: &harness::Member) -> Vec<String> {
    let mut ids: Vec<(String, String)> = seller_orders(node, seller)
        .await
        .into_iter()
        .filter(|o| o["state"] == "offered")
        .map(|o| (o["created_at"].as_str().unwrap().to_string(), id_of(&o)))
        .collect();
    ids.sort();
    ids.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn a_shop_that_accepts_by_hand_holds_each_order_until_its_owner_answers() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let (bea, listing) = pottery(&b, 4).await;
    by_hand(&b, &bea.token, true).await;
    peer_up(&a, &b).await;
    let ana = buyer(&a, "ana").await;
    let entry = mug_entry(&a, &ana.token).await;

    // Two orders arrive: both held, their items reserved, the buyer told nothing yet.
    let first = id_of(&json_ok(order_mugs(&a, &ana, entry, 1).await, 201).await);
    let second = id_of(&json_ok(order_mugs(&a, &ana, entry, 2).await, 201).await);
    until("both orders reach the shop", || async {
        held(&b, &bea).await.len() == 2
    })
    .await;
    assert_eq!(
        stock(&b, &listing).await,
        1,
        "the held orders' items are reserved"
    );
    let there = held(&b, &bea).await;
    let seller_view = order_view(&b, &bea.token, &there[0]).await;
    assert_eq!(seller_view["actions"], json!(["accepted", "rejected"]));
    assert!(seller_view["agreement_id"].is_null());
    assert!(
        notifications(&b, &bea.token)
            .await
            .iter()
            .any(|n| n.starts_with("New order to accept or decline: 1 × "))
    );
    for id in [&first, &second] {
        let view = order_view(&a, &ana.token, id).await;
        assert_eq!(view["state"], "offered");
        assert_eq!(
            view["actions"],
            json!(["cancelled"]),
            "the buyer may withdraw it"
        );
        assert_eq!(view["payment_instructions"], "");
    }
    // Only the shop answers; a buyer's "accepted" is refused.
    assert_eq!(
        answer(&a, &ana.token, &first, "accepted", None)
            .await
            .status(),
        403
    );

    // Bea accepts the first: the buyer's node gets the Agreement and the payment instructions,
    // and the next steps go through as for any order.
    let accepted = json_ok(
        answer(&b, &bea.token, &there[0], "accepted", None).await,
        200,
    )
    .await;
    assert_eq!(accepted["state"], "accepted");
    assert!(accepted["agreement_id"].is_string());
    let view = wait_state(&a, &ana.token, &first, "accepted").await;
    assert!(
        view["payment_instructions"]
            .as_str()
            .unwrap()
            .contains("IBAN"),
        "{view}"
    );
    assert_eq!(step(&b, &bea.token, &there[0], "paid").await.status(), 200);
    wait_state(&a, &ana.token, &first, "paid").await;
    assert_eq!(
        states(&order_view(&b, &bea.token, &there[0]).await),
        ["offered", "accepted", "paid"]
    );

    // She declines the second, saying why: its items go back, the buyer reads the reason.
    let declined = json_ok(
        answer(
            &b,
            &bea.token,
            &there[1],
            "rejected",
            Some("I can make only one this month"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(declined["state"], "rejected");
    assert_eq!(stock(&b, &listing).await, 3);
    let view = wait_state(&a, &ana.token, &second, "rejected").await;
    assert_eq!(view["reason"], "I can make only one this month");
    assert!(
        notifications(&a, &ana.token)
            .await
            .iter()
            .any(|n| n.contains("I can make only one this month"))
    );
    // An answered order cannot be answered again.
    for (id, state) in [(&there[0], "rejected"), (&there[1], "accepted")] {
        let response = answer(&b, &bea.token, id, state, None).await;
        assert_eq!(response.status(), 409, "{state}");
    }

    // Left unanswered: the node declines it for the shop after `answer_days` (3), and the
    // items go back on sale.
    let third = id_of(&json_ok(order_mugs(&a, &ana, entry, 1).await, 201).await);
    until("the third order reaches the shop", || async {
        held(&b, &bea).await.len() == 1
    })
    .await;
    assert_eq!(stock(&b, &listing).await, 2);
    let data = b.federation.to_request_data();
    let now = chrono::Utc::now();
    let later = |days| now + chrono::Duration::days(days);
    assert_eq!(
        federation::orders::expire_unanswered(&data, later(2))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        federation::orders::expire_unanswered(&data, later(4))
            .await
            .unwrap(),
        1
    );
    assert_eq!(stock(&b, &listing).await, 3);
    let view = wait_state(&a, &ana.token, &third, "rejected").await;
    assert_eq!(view["reason"], "the shop did not answer within 3 days");
    // The accepted-then-paid order was not touched by the sweep.
    assert_eq!(order_view(&a, &ana.token, &first).await["state"], "paid");

    // Switched back, the shop's node accepts on arrival again.
    by_hand(&b, &bea.token, false).await;
    let fourth = id_of(&json_ok(order_mugs(&a, &ana, entry, 1).await, 201).await);
    wait_state(&a, &ana.token, &fourth, "accepted").await;
}

#[tokio::test]
async fn a_local_buyer_waits_for_the_owner_too_and_only_the_owner_answers() {
    let node = TestNode::spawn().await;
    let (bea, listing) = pottery(&node, 2).await;
    by_hand(&node, &bea.token, true).await;
    let carl = buyer(&node, "carl").await;
    let entry = mug_entry(&node, &carl.token).await;
    let placed = json_ok(order_mugs(&node, &carl, entry, 1).await, 201).await;
    assert_eq!(placed["state"], "offered");
    let id = id_of(&placed);
    assert_eq!(stock(&node, &listing).await, 1);
    // The same row carries both sides: the buyer may only cancel, the seller answers.
    assert_eq!(
        order_view(&node, &carl.token, &id).await["actions"],
        json!(["cancelled"])
    );
    assert_eq!(
        answer(&node, &carl.token, &id, "accepted", None)
            .await
            .status(),
        403
    );
    // A step other than the answer is refused while the order waits.
    assert_eq!(step(&node, &bea.token, &id, "paid").await.status(), 409);
    let view = json_ok(answer(&node, &bea.token, &id, "accepted", None).await, 200).await;
    assert_eq!(view["state"], "accepted");
    assert_eq!(
        order_view(&node, &carl.token, &id).await["state"],
        "accepted"
    );
    assert!(
        notifications(&node, &carl.token)
            .await
            .iter()
            .any(|n| n.starts_with("Order accepted: 1 × "))
    );
    // Nothing left to answer.
    assert_eq!(
        answer(&node, &bea.token, &id, "rejected", None)
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn a_buyer_withdraws_an_order_a_peer_shop_holds_and_its_items_go_back() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let (bea, listing) = pottery(&b, 4).await;
    by_hand(&b, &bea.token, true).await;
    peer_up(&a, &b).await;
    let ana = buyer(&a, "ana").await;
    let entry = mug_entry(&a, &ana.token).await;
    let mine = id_of(&json_ok(order_mugs(&a, &ana, entry, 3).await, 201).await);
    until("the order reaches the shop", || async {
        held(&b, &bea).await.len() == 1
    })
    .await;
    let theirs = held(&b, &bea).await.remove(0);
    assert_eq!(stock(&b, &listing).await, 1);

    // Ana cancels while it waits: her node sends Undo{Offer}; the shop's copy is cancelled as
    // the buyer's step and the three mugs are back on sale.
    let view = json_ok(step(&a, &ana.token, &mine, "cancelled").await, 200).await;
    assert_eq!(view["state"], "cancelled");
    assert_eq!(view["actions"], json!([]));
    let there = wait_state(&b, &bea.token, &theirs, "cancelled").await;
    assert_eq!(states(&there), ["offered", "cancelled"]);
    assert_eq!(there["reason"], "the buyer withdrew the order");
    assert_eq!(stock(&b, &listing).await, 4);
    assert!(
        notifications(&b, &bea.token)
            .await
            .iter()
            .any(|n| n.starts_with("Cancelled: 3 × ")),
        "the seller hears of it"
    );
    // Nothing left for the shop to answer; a second cancel is refused on the buyer's side.
    assert_eq!(
        answer(&b, &bea.token, &theirs, "accepted", None)
            .await
            .status(),
        409
    );
    assert_eq!(step(&a, &ana.token, &mine, "cancelled").await.status(), 409);
    assert_eq!(stock(&b, &listing).await, 4);
}
