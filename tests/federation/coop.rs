//! The co-op itself: applying, admission by an admin, the member share in the books, leaving
//! (shops closed or transferred, share refunded), and closing a fiscal period: surplus,
//! reserve and patronage dividends worked by hand, each member's statement, paying out.

use market::service::{
    ledger::{self, Balance},
    periods,
};
use serde_json::{Value, json};

use crate::orders::{buyer, json_ok, order_mugs, pottery, step};
use harness::{Member, TestNode, sample_listing};

type Books = std::collections::BTreeMap<(String, String), Balance>;

fn net_credit(books: &Books, account: &str) -> i64 {
    books
        .get(&("EUR".to_string(), account.to_string()))
        .map(|b| b.credit - b.debit)
        .unwrap_or_default()
}

/// A second seller on the same node: `cai` with the shop `weaving` selling the sample mug.
async fn weaving(node: &TestNode) -> Member {
    let cai = node.member("cai").await;
    node.create_shop(&cai, "weaving", "Cai's Weaving").await;
    json_ok(
        node.create_listing(&cai, "weaving", &sample_listing())
            .await,
        201,
    )
    .await;
    let response = node
        .http
        .put(node.url("/api/v1/shops/weaving/checkout"))
        .bearer_auth(&cai.token)
        .json(&json!({
            "payment_instructions": "Pay the co-op, reference: your order.",
            "shipping_options": [
                {"name": "Post", "price": "5.50", "currency": "EUR", "regions": ["MX"]},
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    cai
}

/// The catalog entry of `shop`'s mug.
async fn entry_of(node: &TestNode, shop: &str) -> i64 {
    let found = json_ok(node.get("/api/v1/catalog?q=mug", None).await, 200).await;
    found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["shop"]["handle"].as_str().unwrap().contains(shop))
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Order `quantity` mugs from `shop` and take the order to completion.
async fn completed_sale(
    node: &TestNode,
    buyer: &Member,
    seller: &Member,
    shop: &str,
    quantity: i64,
) {
    let entry = entry_of(node, shop).await;
    let placed = json_ok(order_mugs(node, buyer, entry, quantity).await, 201).await;
    let id = placed["id"].as_str().unwrap();
    for (state, who) in [
        ("paid", seller),
        ("shipped", seller),
        ("delivered", buyer),
        ("completed", seller),
    ] {
        assert_eq!(step(node, &who.token, id, state).await.status(), 200);
    }
}

async fn apply(node: &TestNode, who: &Member, statement: &str) -> reqwest::Response {
    node.post_json(
        "/api/v1/membership",
        Some(&who.token),
        &json!({"statement": statement}),
    )
    .await
}

#[tokio::test]
async fn applicants_are_admitted_by_an_admin_pay_a_share_and_can_leave() {
    let node = TestNode::spawn().await;
    let root = node.admin("root").await;
    let (bea, mug) = pottery(&node, 10).await;
    let dan = buyer(&node, "dan").await;

    // A buyer is not a member and cannot open a shop.
    let status = json_ok(node.get("/api/v1/membership", Some(&dan.token)).await, 200).await;
    assert_eq!(status["status"], "none");
    assert_eq!(node.create_shop(&dan, "dans", "Dan's").await.status(), 403);
    // Applying: once; a long statement is refused; members see no application of theirs.
    let long = "x".repeat(2_001);
    assert_eq!(apply(&node, &dan, &long).await.status(), 422);
    let applied = json_ok(apply(&node, &dan, "I make tables.").await, 201).await;
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["share"], "20.00");
    assert_eq!(apply(&node, &dan, "again").await.status(), 409);
    assert_eq!(
        apply(&node, &bea, "me too").await.status(),
        409,
        "bea is a member"
    );

    // Only admins decide; the list shows the application.
    let path = "/api/v1/admin/applications/dan/approve";
    assert_eq!(
        node.post_json(path, Some(&bea.token), &json!({}))
            .await
            .status(),
        403
    );
    let pending = json_ok(
        node.get("/api/v1/admin/applications", Some(&root.token))
            .await,
        200,
    )
    .await;
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["statement"], "I make tables.");
    let admitted = json_ok(
        node.post_json(path, Some(&root.token), &json!({})).await,
        200,
    )
    .await;
    assert_eq!(admitted["status"], "active");
    assert_eq!(admitted["role"], "member");
    assert_eq!(admitted["decided_by"], "admin:root");
    assert_eq!(
        node.post_json(path, Some(&root.token), &json!({}))
            .await
            .status(),
        409,
        "nothing pending any more"
    );
    // The share is in the books, and dan can open a shop now.
    let books = ledger::trial_balance(&node.ctx).await.unwrap();
    assert_eq!(net_credit(&books, "equity:member_shares:dan"), 2000);
    assert_eq!(
        node.create_shop(&dan, "tables", "Dan's Tables")
            .await
            .status(),
        201
    );
    let table = json_ok(
        node.create_listing(&dan, "tables", &sample_listing()).await,
        201,
    )
    .await;
    let members = json_ok(node.get("/api/v1/members", Some(&dan.token)).await, 200).await;
    let names: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"dan") && names.contains(&"bea") && names.contains(&"root"));

    // A rejected applicant may apply again; buyers cannot see the member list.
    let eve = buyer(&node, "eve").await;
    assert_eq!(apply(&node, &eve, "").await.status(), 201);
    let rejected = json_ok(
        node.post_json(
            "/api/v1/admin/applications/eve/reject",
            Some(&root.token),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["role"], "buyer");
    assert_eq!(apply(&node, &eve, "please").await.status(), 201);
    assert_eq!(
        node.get("/api/v1/members", Some(&eve.token)).await.status(),
        403
    );

    // Leaving without a transfer closes the shops (listings withdrawn) and refunds the share.
    let gone = json_ok(
        node.post_json("/api/v1/membership/leave", Some(&dan.token), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(gone["closed_shops"], json!(["tables"]));
    assert_eq!(gone["refunded"], "20.00");
    assert_eq!(gone["membership"]["status"], "left");
    assert_eq!(gone["membership"]["role"], "buyer");
    let table = json_ok(node.listing(table["id"].as_str().unwrap()).await, 200).await;
    assert_eq!(table["status"], "withdrawn");
    assert_eq!(
        node.create_listing(&dan, "tables", &sample_listing())
            .await
            .status(),
        403,
        "a former member no longer runs the shop"
    );
    let books = ledger::trial_balance(&node.ctx).await.unwrap();
    assert_eq!(net_credit(&books, "equity:member_shares:dan"), 0);
    assert_eq!(
        node.post_json("/api/v1/membership/leave", Some(&dan.token), &json!({}))
            .await
            .status(),
        409,
        "not a member any more"
    );

    // Open orders keep a seller from closing their shop; a transfer to another member works.
    let ana = buyer(&node, "ana").await;
    let found = json_ok(node.get("/api/v1/catalog?q=mug", None).await, 200).await;
    let entry = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["listing_id"] == mug.as_str())
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    json_ok(order_mugs(&node, &ana, entry, 1).await, 201).await;
    let refused = node
        .post_json("/api/v1/membership/leave", Some(&bea.token), &json!({}))
        .await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("still open"));
    assert_eq!(
        node.post_json(
            "/api/v1/membership/leave",
            Some(&bea.token),
            &json!({"transfer_shops_to": "eve"})
        )
        .await
        .status(),
        422,
        "shops go to a member"
    );
    // An admin removes bea, handing pottery to root.
    let moved = json_ok(
        node.post_json(
            "/api/v1/admin/members/bea/remove",
            Some(&root.token),
            &json!({"transfer_shops_to": "root"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["transferred_shops"], json!(["pottery"]));
    assert_eq!(moved["transferred_to"], "root");
    let shop = market::service::shops::get_shop(&node.ctx, "pottery")
        .await
        .unwrap();
    assert_eq!(
        market::service::shops::owner_of(&node.ctx, &shop)
            .await
            .unwrap()
            .username,
        "root"
    );
    // The last admin cannot leave.
    let last = node
        .post_json("/api/v1/membership/leave", Some(&root.token), &json!({}))
        .await;
    assert_eq!(last.status(), 409);
    // Roles: only admins change them, only members hold them, the last admin stays one.
    let root_token = root.token.clone();
    let role = |who: &str, role: &str| {
        let body = json!({"role": role});
        let path = format!("/api/v1/admin/members/{who}/role");
        let node = &node;
        let token = root_token.clone();
        async move { node.post_json(&path, Some(&token), &body).await }
    };
    assert_eq!(role("root", "member").await.status(), 409, "the last admin");
    assert_eq!(role("eve", "admin").await.status(), 409, "not a member");
    assert_eq!(role("fay", "boss").await.status(), 422, "no such role");
    assert_eq!(
        role("nobody", "admin").await.status(),
        404,
        "no such account"
    );
    let dan_member = node.member("fay").await;
    assert_eq!(
        node.post_json(
            "/api/v1/admin/members/fay/role",
            Some(&dan_member.token),
            &json!({"role": "admin"})
        )
        .await
        .status(),
        403
    );
    let promoted = json_ok(role("fay", "admin").await, 200).await;
    assert_eq!(promoted["role"], "admin");
    // Now root may leave (pottery goes back to fay).
    let gone = json_ok(
        node.post_json(
            "/api/v1/membership/leave",
            Some(&root.token),
            &json!({"transfer_shops_to": "fay"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(gone["transferred_to"], "fay");
    // The books still balance.
    let books = ledger::trial_balance(&node.ctx).await.unwrap();
    let debits: i64 = books.values().map(|b| b.debit).sum();
    let credits: i64 = books.values().map(|b| b.credit).sum();
    assert_eq!(debits, credits);
}

#[tokio::test]
async fn closing_a_period_shares_the_surplus_between_reserve_and_patronage() {
    let node = TestNode::spawn_with(harness::Storage::Default, |c| {
        c.coop.commission_percent = 10.0;
    })
    .await;
    let root = node.admin("root").await;
    let (bea, _) = pottery(&node, 10).await;
    let cai = weaving(&node).await;
    let ana = buyer(&node, "ana").await;

    // Worked by hand. bea sells 2 mugs (2 × 28.00 + 5.50 post = 61.50), cai 1 (33.50).
    // Commission 10 %: 6.15 + 3.35 = 9.50 revenue. Hosting costs 2.50. Surplus 7.00:
    // reserve 30 % = 2.10, patronage 70 % = 4.90, split by sales 6150 : 3350 (of 9500):
    // bea 490 × 6150 / 9500 = 317.2 → 317, cai 490 × 3350 / 9500 = 172.8 → 172, and the
    // cent left over goes to the larger remainder, cai: 3.17 and 1.73.
    completed_sale(&node, &ana, &bea, "pottery", 2).await;
    completed_sale(&node, &ana, &cai, "weaving", 1).await;
    let hosting =
        market::types::Money::parse("2.50", market::types::Currency::parse("EUR").unwrap())
            .unwrap();
    ledger::record_cost(&node.ctx, hosting, "hosting")
        .await
        .unwrap();

    // Only admins close; bad labels and future ends are refused.
    let close = |token: &str, body: Value| {
        let token = token.to_string();
        let node = &node;
        async move {
            node.post_json("/api/v1/admin/periods", Some(&token), &body)
                .await
        }
    };
    assert_eq!(
        close(&bea.token, json!({"label": "2026-Q4"}))
            .await
            .status(),
        403
    );
    assert_eq!(
        close(&root.token, json!({"label": "2026 Q4"}))
            .await
            .status(),
        422
    );
    assert_eq!(
        close(
            &root.token,
            json!({"label": "2026-Q4", "until": "2999-01-01T00:00:00Z"})
        )
        .await
        .status(),
        422
    );
    let closed = json_ok(close(&root.token, json!({"label": "2026-Q4"})).await, 201).await;
    let eur = &closed["results"][0];
    assert_eq!(eur["currency"], "EUR");
    assert_eq!(eur["revenue_minor"], 950);
    assert_eq!(eur["expenses_minor"], 250);
    assert_eq!(eur["surplus_minor"], 700);
    assert_eq!(eur["reserve_minor"], 210);
    assert_eq!(eur["dividends_minor"], 490);
    assert_eq!(
        eur["dividends"],
        json!([
            {"username": "bea", "patronage": 6150, "dividend_minor": 317},
            {"username": "cai", "patronage": 3350, "dividend_minor": 173},
        ])
    );
    assert_eq!(closed["reserve_percent"], 30.0);
    assert_eq!(closed["patronage_measure"], "sales");
    assert_eq!(
        close(&root.token, json!({"label": "2026-Q4"}))
            .await
            .status(),
        409,
        "labels are unique"
    );

    // The closing entry moved revenue and costs to the reserve and the members' dividends.
    let books = ledger::trial_balance(&node.ctx).await.unwrap();
    assert_eq!(net_credit(&books, "revenue:commission"), 0);
    assert_eq!(net_credit(&books, "expenses:operating"), 0);
    assert_eq!(net_credit(&books, periods::RESERVE), 210);
    assert_eq!(net_credit(&books, "liabilities:dividends_payable:bea"), 317);
    assert_eq!(net_credit(&books, "liabilities:dividends_payable:cai"), 173);
    let debits: i64 = books.values().map(|b| b.debit).sum();
    let credits: i64 = books.values().map(|b| b.credit).sum();
    assert_eq!(debits, credits);

    // Each member's statement; only admins read someone else's; members see totals only.
    let statement = json_ok(
        node.get("/api/v1/periods/2026-Q4/statement", Some(&bea.token))
            .await,
        200,
    )
    .await;
    let line = &statement["lines"][0];
    assert_eq!(line["orders"], 1);
    assert_eq!(line["sales"], "61.50");
    assert_eq!(line["commission"], "6.15");
    assert_eq!(line["seller_payable"], "55.35");
    assert_eq!(line["patronage"], 6150);
    assert_eq!(line["total_patronage"], 9500);
    assert_eq!(line["dividend"], "3.17");
    assert_eq!(line["surplus"], "7.00");
    assert_eq!(
        node.get(
            "/api/v1/periods/2026-Q4/statement?member=cai",
            Some(&bea.token)
        )
        .await
        .status(),
        403
    );
    let cai_statement = json_ok(
        node.get(
            "/api/v1/periods/2026-Q4/statement?member=cai",
            Some(&root.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cai_statement["lines"][0]["dividend"], "1.73");
    // bea's membership page shows the same statement.
    let login = node
        .http
        .post(node.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=bea&password={}",
            harness::PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = node
        .http
        .get(node.url("/coop/membership"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(
            "<td>2026-Q4</td><td>EUR</td><td>1</td><td>61.50</td><td>6.15</td><td>55.35</td>"
        ),
        "{html}"
    );
    assert!(html.contains("<td>3.17 of 4.90</td>"), "{html}");
    let seen = json_ok(node.get("/api/v1/periods", Some(&bea.token)).await, 200).await;
    assert_eq!(seen[0]["results"][0]["dividends_minor"], 490);
    assert_eq!(seen[0]["results"][0]["dividends"], json!([]));
    assert_eq!(
        node.get("/api/v1/periods", Some(&ana.token)).await.status(),
        403
    );

    // Paying bea's dividend out: once, not more than owed.
    let owed = market::types::Money::parse("3.17", market::types::Currency::parse("EUR").unwrap())
        .unwrap();
    ledger::pay_out(&node.ctx, "liabilities:dividends_payable:bea", owed, "bank")
        .await
        .unwrap();
    assert!(matches!(
        ledger::pay_out(&node.ctx, "liabilities:dividends_payable:bea", owed, "bank").await,
        Err(market::Error::Conflict(_))
    ));
    assert!(matches!(
        ledger::pay_out(&node.ctx, "assets:cash", owed, "").await,
        Err(market::Error::Invalid { .. })
    ));

    // The next period: a loss is taken from the reserve, and nobody gets a dividend.
    let rent = market::types::Money::parse("5.00", market::types::Currency::parse("EUR").unwrap())
        .unwrap();
    ledger::record_cost(&node.ctx, rent, "rent").await.unwrap();
    let lean = json_ok(close(&root.token, json!({"label": "2027-Q1"})).await, 201).await;
    assert_eq!(lean["results"][0]["surplus_minor"], -500);
    assert_eq!(lean["results"][0]["reserve_minor"], -500);
    assert_eq!(lean["results"][0]["dividends"], json!([]));
    let books = ledger::trial_balance(&node.ctx).await.unwrap();
    assert_eq!(net_credit(&books, periods::RESERVE), 210 - 500);
    // It started where the first ended; the first is unchanged when read back.
    let first = periods::get(&node.ctx, "2026-Q4").await.unwrap();
    assert_eq!(lean["starts_at"], json!(first.ends_at));
    assert_eq!(first.results[0].surplus_minor, 700);
    assert_eq!(first.results[0].dividends.len(), 2);
}

#[tokio::test]
async fn patronage_can_be_measured_by_orders_instead_of_sales() {
    let node = TestNode::spawn_with(harness::Storage::Default, |c| {
        c.coop.commission_percent = 10.0;
        c.coop.patronage_measure = server::config::PatronageMeasureSetting::Orders;
        c.coop.reserve_percent = 0.0;
        c.coop.patronage_percent = 100.0;
    })
    .await;
    node.admin("root").await;
    let (bea, _) = pottery(&node, 10).await;
    let cai = weaving(&node).await;
    let ana = buyer(&node, "ana").await;
    // bea: two orders of one mug (33.50 each); cai: one order of three (89.50). Commission
    // 3.35 + 3.35 + 8.95 = 15.65, all to patronage, by orders 2 : 1: bea 1043.3 → 1043,
    // cai 521.7 → 522 (the larger remainder). By sales cai would have had more.
    completed_sale(&node, &ana, &bea, "pottery", 1).await;
    completed_sale(&node, &ana, &bea, "pottery", 1).await;
    completed_sale(&node, &ana, &cai, "weaving", 3).await;
    let closed = periods::close(&node.ctx, "operator", "2026", None)
        .await
        .unwrap();
    let eur = &closed.results[0];
    assert_eq!(eur.surplus_minor, 1565);
    assert_eq!(eur.reserve_minor, 0);
    let got: Vec<(&str, i64, i64)> = eur
        .dividends
        .iter()
        .map(|d| (d.username.as_str(), d.patronage, d.dividend_minor))
        .collect();
    assert_eq!(got, vec![("bea", 2, 1043), ("cai", 1, 522)]);
}

#[tokio::test]
async fn with_admission_by_vote_the_members_decide_each_application() {
    use crate::governance::{cast, end_window};
    let node = TestNode::spawn_with(harness::Storage::Default, |c| {
        c.coop.admission = server::config::AdmissionMode::Vote;
    })
    .await;
    let root = node.admin("root").await;
    let bea = node.member("bea").await;
    let cai = node.member("cai").await;
    let dan = buyer(&node, "dan").await;
    let eve = buyer(&node, "eve").await;

    // Applying opens a yes/no admission vote; admins cannot decide by hand.
    let applied = json_ok(apply(&node, &dan, "I make tables.\nGood ones.").await, 201).await;
    let vote = applied["proposal_id"].as_str().unwrap().to_string();
    let proposal = json_ok(
        node.get(&format!("/api/v1/proposals/{vote}"), Some(&bea.token))
            .await,
        200,
    )
    .await;
    assert_eq!(proposal["kind"], "admission");
    assert_eq!(proposal["subject"], "dan");
    assert_eq!(proposal["title"], "Admit dan as a member?");
    assert_eq!(proposal["options"], json!(["yes", "no"]));
    assert!(proposal["text"].as_str().unwrap().contains("> Good ones."));
    assert_eq!(
        node.post_json(
            "/api/v1/admin/applications/dan/approve",
            Some(&root.token),
            &json!({})
        )
        .await
        .status(),
        403
    );
    // The applicant is not a member and cannot vote on their own admission.
    assert_eq!(cast(&node, &dan, &vote, json!("yes")).await.status(), 403);
    assert_eq!(cast(&node, &bea, &vote, json!("yes")).await.status(), 201);
    assert_eq!(cast(&node, &cai, &vote, json!("yes")).await.status(), 201);
    assert_eq!(cast(&node, &root, &vote, json!("no")).await.status(), 201);
    // eve's application is voted down.
    let eve_vote = json_ok(apply(&node, &eve, "").await, 201).await["proposal_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        cast(&node, &bea, &eve_vote, json!("no")).await.status(),
        201
    );
    assert_eq!(
        cast(&node, &cai, &eve_vote, json!("no")).await.status(),
        201
    );

    // At close (time travel, then a read), dan is admitted with his share booked, eve is not.
    end_window(&node, &vote).await;
    end_window(&node, &eve_vote).await;
    let closed = json_ok(
        node.get(&format!("/api/v1/proposals/{vote}"), None).await,
        200,
    )
    .await;
    assert_eq!(closed["result"]["adopted"], "yes");
    let dan_now = json_ok(node.get("/api/v1/membership", Some(&dan.token)).await, 200).await;
    assert_eq!(dan_now["status"], "active");
    assert_eq!(dan_now["role"], "member");
    assert_eq!(dan_now["decided_by"], format!("vote:{vote}"));
    let books = ledger::trial_balance(&node.ctx).await.unwrap();
    assert_eq!(net_credit(&books, "equity:member_shares:dan"), 2000);
    let eve_now = json_ok(node.get("/api/v1/membership", Some(&eve.token)).await, 200).await;
    assert_eq!(eve_now["status"], "rejected");
    assert_eq!(net_credit(&books, "equity:member_shares:eve"), 0);

    // The governance log tells the story, naming no voter.
    let log = json_ok(
        node.get("/api/v1/governance/log?per_page=100", Some(&dan.token))
            .await,
        200,
    )
    .await;
    let kinds: Vec<String> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["kind"].as_str().unwrap(),
                e["actor"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "member_applied dan".to_string(),
        format!("member_admitted vote:{vote}"),
        format!("member_rejected vote:{eve_vote}"),
        "proposal_closed system".to_string(),
    ] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "vote_cast")
            .all(|e| e["actor"] == "system" && e["detail"] == "a vote was cast")
    );
}
