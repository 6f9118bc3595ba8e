//! The admin pages under `/admin`, driven as a browser without JavaScript drives them: only
//! admins see them, every form needs the session's CSRF value, each action shows its result
//! once on the page it returns to, and a refused form shows its page again with the reason.

use std::{future::Future, time::Duration};

mod books;

use crate::order_pages::browser::{csrf_of, location, log_in, page, post_form, register};
use harness::TestNode;
use market::service::{deliveries, domains, ledger, membership, peers, periods};
use reqwest::Response;
use sea_orm::EntityTrait;

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

/// Follow a form's 303 as a browser does, carrying the note cookie it set: the page's status
/// and HTML.
pub(crate) async fn follow(node: &TestNode, answer: Response, session: &str) -> (u16, String) {
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
    let to = location(&answer);
    let note = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("tianguis_admin_note="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("a note for the next page");
    let response = node
        .http
        .get(node.url(&to))
        .header("cookie", format!("tianguis_session={session}; {note}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// `POST path` with the session's CSRF value added.
pub(crate) async fn submit(
    node: &TestNode,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    let csrf = csrf_of(node, session).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    post_form(node, path, &all, Some(session)).await
}

/// A refused form: its status, and the page with the reason.
pub(crate) async fn refused(answer: Response) -> (u16, String) {
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap())
}

const PAGES: [&str; 8] = [
    "/admin",
    "/admin/members",
    "/admin/peers",
    "/admin/federation",
    "/admin/federation/blocklist.csv",
    "/admin/deliveries",
    "/admin/ledger",
    "/admin/ledger.csv",
];

#[tokio::test]
async fn only_admins_see_the_admin_pages_and_others_forms_change_nothing() {
    let node = TestNode::spawn().await;
    node.admin("root").await;
    node.member("bea").await;
    let root = log_in(&node, "root").await;
    let bea = log_in(&node, "bea").await;
    let dan = register(&node, "dan").await;

    for path in PAGES {
        let (status, html) = page(&node, path, Some(&root)).await;
        assert_eq!(status, 200, "{path}: {html}");
        for (who, session) in [("a member", &bea), ("a buyer", &dan)] {
            let (status, html) = page(&node, path, Some(session)).await;
            assert_eq!(status, 403, "{who} on {path}");
            assert!(html.contains("only the co-op"), "{html}");
        }
        let anonymous = crate::order_pages::browser::get(&node, path, None).await;
        assert_eq!(anonymous.status(), 303, "{path}");
        assert!(location(&anonymous).starts_with("/login?next="));
    }
    let (_, overview) = page(&node, "/admin", Some(&root)).await;
    assert!(
        overview.contains(r#"href="/coop/proposals""#) && overview.contains("2</strong> members"),
        "{overview}"
    );

    // A member's forms, with their own valid CSRF value: refused, nothing changes.
    let balance_before = ledger::trial_balance(&node.ctx).await.unwrap();
    let forms: [(&str, &[(&str, &str)]); 10] = [
        (
            "/admin/members/role",
            &[("username", "bea"), ("role", "admin")],
        ),
        (
            "/admin/members/remove",
            &[("username", "root"), ("shops", "close")],
        ),
        (
            "/admin/members/decide",
            &[("username", "dan"), ("decision", "approve")],
        ),
        ("/admin/peers", &[("address", "http://localhost:1")]),
        ("/admin/peers/remove", &[("domain", "localhost:1")]),
        ("/admin/federation/block", &[("domain", "spam.example")]),
        ("/admin/deliveries/retry", &[("host", "localhost:1")]),
        ("/admin/ledger/close", &[("label", "2026-Q1")]),
        (
            "/admin/ledger/cost",
            &[("amount", "5.00"), ("currency", "EUR"), ("memo", "x")],
        ),
        (
            "/admin/ledger/pay",
            &[
                ("account", "liabilities:x"),
                ("amount", "1.00"),
                ("currency", "EUR"),
            ],
        ),
    ];
    for (path, fields) in forms {
        let answer = submit(&node, &bea, path, fields).await;
        assert_eq!(answer.status(), 403, "{path}");
    }
    let bea_now = market::service::accounts::find_user(&node.ctx, "bea")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bea_now.role, "member");
    assert!(
        membership::status(&node.ctx, &bea_now)
            .await
            .unwrap()
            .status
            == "active"
    );
    assert!(domains::list(&node.ctx).await.unwrap().is_empty());
    assert!(periods::list(&node.ctx).await.unwrap().is_empty());
    assert!(peers::list(&node.ctx).await.unwrap().is_empty());
    assert_eq!(
        ledger::trial_balance(&node.ctx).await.unwrap(),
        balance_before
    );
}

#[tokio::test]
async fn admin_forms_without_the_sessions_csrf_value_are_refused() {
    let node = TestNode::spawn().await;
    node.admin("root").await;
    node.member("bea").await;
    let root = log_in(&node, "root").await;
    for csrf in [None, Some("0".repeat(64))] {
        let mut fields = vec![("username", "bea"), ("role", "admin")];
        if let Some(csrf) = &csrf {
            fields.push(("csrf", csrf));
        }
        let answer = post_form(&node, "/admin/members/role", &fields, Some(&root)).await;
        assert_eq!(answer.status(), 403);
        let mut fields = vec![("domain", "spam.example")];
        if let Some(csrf) = &csrf {
            fields.push(("csrf", csrf));
        }
        let answer = post_form(&node, "/admin/federation/block", &fields, Some(&root)).await;
        assert_eq!(answer.status(), 403);
    }
    let bea = market::service::accounts::find_user(&node.ctx, "bea")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bea.role, "member");
    assert!(domains::list(&node.ctx).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_admin_changes_roles_admits_an_applicant_and_removes_a_member() {
    let node = TestNode::spawn().await;
    node.admin("root").await;
    let bea_member = node.member("bea").await;
    node.shop_with_listing(&bea_member, "pottery").await;
    let root = log_in(&node, "root").await;

    // Dan applies through his membership page.
    let dan = register(&node, "dan").await;
    let applied = submit(
        &node,
        &dan,
        "/coop/membership/apply",
        &[("statement", "I weave <b>rugs</b>.")],
    )
    .await;
    assert_eq!(applied.status(), 303);

    let (status, html) = page(&node, "/admin/members", Some(&root)).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<th scope="row">bea</th>"#), "{html}");
    assert!(html.contains(r#"<a href="/shops/pottery">pottery</a>"#));
    assert!(
        html.contains("I weave &#60;b&#62;rugs&#60;/b&#62;."),
        "escaped: {html}"
    );
    assert!(html.contains(r#"name="decision" value="approve""#));

    // Promote and demote.
    let promoted = submit(
        &node,
        &root,
        "/admin/members/role",
        &[("username", "bea"), ("role", "admin")],
    )
    .await;
    let (status, html) = follow(&node, promoted, &root).await;
    assert_eq!(status, 200);
    assert!(html.contains("bea is now an admin."), "{html}");
    let role = |name: &'static str| {
        let ctx = node.ctx.clone();
        async move {
            market::service::accounts::find_user(&ctx, name)
                .await
                .unwrap()
                .unwrap()
                .role
        }
    };
    assert_eq!(role("bea").await, "admin");
    let demoted = submit(
        &node,
        &root,
        "/admin/members/role",
        &[("username", "bea"), ("role", "member")],
    )
    .await;
    let (_, html) = follow(&node, demoted, &root).await;
    assert!(html.contains("bea is now an ordinary member."), "{html}");
    assert_eq!(role("bea").await, "member");
    // The note is shown once.
    let (_, html) = page(&node, "/admin/members", Some(&root)).await;
    assert!(!html.contains("is now an ordinary member"));

    // Refusals show the page again with the reason.
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/members/role",
            &[("username", "bea"), ("role", "king")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("admin or member"), "{html}");
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/members/role",
            &[("username", "root"), ("role", "member")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    assert!(html.contains("at least one admin"), "{html}");
    assert_eq!(role("root").await, "admin");

    // Admit dan.
    let admitted = submit(
        &node,
        &root,
        "/admin/members/decide",
        &[("username", "dan"), ("decision", "approve")],
    )
    .await;
    let (_, html) = follow(&node, admitted, &root).await;
    assert!(html.contains("dan is admitted"), "{html}");
    assert!(html.contains(r#"<th scope="row">dan</th>"#), "{html}");
    assert!(html.contains("No application is waiting."));
    assert_eq!(role("dan").await, "member");

    // Remove bea, closing her shop: a bad choice first.
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/members/remove",
            &[("username", "bea"), ("shops", "burn")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("close or go to another member"), "{html}");
    assert_eq!(role("bea").await, "member");
    let removed = submit(
        &node,
        &root,
        "/admin/members/remove",
        &[("username", "bea"), ("shops", "close")],
    )
    .await;
    let (_, html) = follow(&node, removed, &root).await;
    assert!(
        html.contains("bea is no longer a member") && html.contains("Shops closed: pottery."),
        "{html}"
    );
    assert!(!html.contains(r#"<th scope="row">bea</th>"#));
    assert_eq!(role("bea").await, "buyer");
    let listings = market::entities::listing::Entity::find()
        .all(&node.ctx.db)
        .await
        .unwrap();
    assert_eq!(listings.len(), 1);
    assert_eq!(listings[0].status, "withdrawn", "the shop is closed");
}

#[tokio::test]
async fn removing_a_member_whose_shop_has_an_open_order_is_refused_and_changes_nothing() {
    let node = TestNode::spawn().await;
    node.admin("root").await;
    let (_, listing) = crate::order_pages::pottery(&node, 3).await;
    let carl = register(&node, "carl").await;
    let (_, found) = page(&node, "/search?q=mug", Some(&carl)).await;
    let entry =
        crate::order_pages::browser::between(&found, r#"href="/catalog/items/"#, "\"").to_string();
    let placed = crate::order_pages::order_by_post(&node, &carl, &entry, "1").await;
    assert_eq!(placed.status(), 303);
    let root = log_in(&node, "root").await;

    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/members/remove",
            &[("username", "bea"), ("shops", "close")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    assert!(html.contains("1 order(s) are still open"), "{html}");
    assert!(html.contains(r#"<th scope="row">bea</th>"#), "{html}");
    let bea = market::service::accounts::find_user(&node.ctx, "bea")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bea.role, "member");
    let listing = market::entities::listing::Entity::find_by_id(listing)
        .one(&node.ctx.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listing.status, "active", "the shop stays open");
}

#[tokio::test]
async fn an_admin_adds_and_removes_a_peer_node_through_the_page() {
    let a = TestNode::spawn().await;
    let b = TestNode::spawn().await;
    a.admin("root").await;
    let bea = b.member("bea").await;
    b.shop_with_listing(&bea, "pottery").await;
    let root = log_in(&a, "root").await;

    // A bad address: the form again, with the reason and what was typed.
    let (status, html) =
        refused(submit(&a, &root, "/admin/peers", &[("address", "not a node!")]).await).await;
    assert!((400..500).contains(&status), "{status}: {html}");
    assert!(
        html.contains(r#"role="alert""#) && html.contains(r#"value="not a node!""#),
        "{html}"
    );
    let (status, html) =
        refused(submit(&a, &root, "/admin/peers", &[("address", " ")]).await).await;
    assert_eq!(status, 422);
    assert!(html.contains("the other node"), "{html}");
    // A well-formed address where no node answers: the reason, and no peer row left behind.
    let (status, html) = refused(
        submit(
            &a,
            &root,
            "/admin/peers",
            &[("address", "http://localhost:1")],
        )
        .await,
    )
    .await;
    assert!((400..500).contains(&status), "{status}: {html}");
    assert!(html.contains(r#"role="alert""#), "{html}");
    assert!(peers::list(&a.ctx).await.unwrap().is_empty());

    let added = submit(&a, &root, "/admin/peers", &[("address", &b.base)]).await;
    let (_, html) = follow(&a, added, &root).await;
    assert!(html.contains(&b.domain), "{html}");
    until("b accepts and its catalog is copied", || async {
        peers::find(&a.ctx, &b.domain)
            .await
            .unwrap()
            .is_some_and(|p| p.outgoing == "accepted" && p.backfilled)
    })
    .await;
    let (_, html) = page(&a, "/admin/peers", Some(&root)).await;
    let row = &html[html.find(&format!(">{}</a>", b.domain)).expect("b's row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(r#"<td class="state">accepted</td>"#), "{row}");
    assert!(
        row.contains("<td>1</td>") && row.contains("forgets 1 listing)"),
        "{row}"
    );
    let (_, overview) = page(&a, "/admin", Some(&root)).await;
    assert!(overview.contains("1 federating"), "{overview}");

    let removed = submit(&a, &root, "/admin/peers/remove", &[("domain", &b.domain)]).await;
    let (_, html) = follow(&a, removed, &root).await;
    assert!(
        html.contains(&format!(
            "Removed {}: 1 listing copied from it forgotten.",
            b.domain
        )),
        "{html}"
    );
    assert!(html.contains("No peer node yet."));
    assert!(peers::find(&a.ctx, &b.domain).await.unwrap().is_none());
    let (status, html) =
        refused(submit(&a, &root, "/admin/peers/remove", &[("domain", &b.domain)]).await).await;
    assert_eq!(status, 404, "{html}");
}

#[tokio::test]
async fn an_admin_blocks_a_domain_which_purges_it_and_unblocks_it() {
    let a = TestNode::spawn().await;
    let b = TestNode::spawn().await;
    a.admin("root").await;
    let bea = b.member("bea").await;
    b.shop_with_listing(&bea, "pottery").await;
    let root = log_in(&a, "root").await;
    let added = submit(&a, &root, "/admin/peers", &[("address", &b.base)]).await;
    assert_eq!(added.status(), 303);
    until("b's catalog is copied", || async {
        peers::find(&a.ctx, &b.domain)
            .await
            .unwrap()
            .is_some_and(|p| p.backfilled)
    })
    .await;

    let (_, html) = page(&a, "/admin/federation", Some(&root)).await;
    assert!(
        html.contains("<strong>Open.</strong>") && html.contains("config file"),
        "{html}"
    );
    assert!(html.contains("No domain is blocked."));

    let (status, html) = refused(
        submit(
            &a,
            &root,
            "/admin/federation/block",
            &[("domain", "not a domain")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("a domain like example.com"), "{html}");

    let blocked = submit(
        &a,
        &root,
        "/admin/federation/block",
        &[("domain", &b.domain), ("reason", "spam <script>")],
    )
    .await;
    let (_, html) = follow(&a, blocked, &root).await;
    assert!(
        html.contains(&format!("Blocked {}.", b.domain))
            && html.contains("1 copied listing,")
            && html.contains("1 peer node;"),
        "{html}"
    );
    assert!(html.contains("spam &#60;script&#62;"), "escaped: {html}");
    assert!(peers::find(&a.ctx, &b.domain).await.unwrap().is_none());
    let csv =
        crate::order_pages::browser::get(&a, "/admin/federation/blocklist.csv", Some(&root)).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.text()
            .await
            .unwrap()
            .contains(&format!("{},suspend", b.domain))
    );

    let unblocked = submit(
        &a,
        &root,
        "/admin/federation/unblock",
        &[("domain", &b.domain)],
    )
    .await;
    let (_, html) = follow(&a, unblocked, &root).await;
    assert!(html.contains(&format!("Unblocked {}.", b.domain)), "{html}");
    assert!(html.contains("No domain is blocked."));
    assert!(domains::list(&a.ctx).await.unwrap().is_empty());
    let (status, _) = refused(
        submit(
            &a,
            &root,
            "/admin/federation/unblock",
            &[("domain", &b.domain)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_deliveries_page_shows_a_failing_host_and_retry_makes_it_due() {
    let node = TestNode::spawn().await;
    node.admin("root").await;
    let root = log_in(&node, "root").await;
    // An activity for an inbox where nothing listens.
    let actor = node.url("/actor");
    let body = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Announce",
        "id": node.url("/activities/test-dead"),
        "actor": actor,
        "object": node.url("/"),
    })
    .to_string();
    let ids = deliveries::enqueue(
        &node.ctx,
        &node.url("/activities/test-dead"),
        &actor,
        &body,
        &["http://localhost:1/inbox".to_string()],
    )
    .await
    .unwrap();
    node.deliver_pending().await;
    let status = deliveries::status(&node.ctx).await.unwrap();
    assert_eq!(status.failing_hosts.len(), 1, "{status:?}");

    let (code, html) = page(&node, "/admin/deliveries", Some(&root)).await;
    assert_eq!(code, 200);
    assert!(
        html.contains(r#"<th scope="row">localhost:1</th>"#),
        "{html}"
    );
    assert!(html.contains(r#"name="host" value="localhost:1""#));
    let before = delivery_row(&node, ids[0]).await;
    assert!(
        before.next_attempt_at > chrono::Utc::now(),
        "waiting for its retry"
    );

    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/deliveries/retry",
            &[("host", "a host/with a path")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("a host name"), "{html}");

    let retried = submit(
        &node,
        &root,
        "/admin/deliveries/retry",
        &[("host", "localhost:1")],
    )
    .await;
    let (_, html) = follow(&node, retried, &root).await;
    assert!(
        html.contains("1 delivery to localhost:1 is due now"),
        "{html}"
    );
    let after = delivery_row(&node, ids[0]).await;
    assert!(
        after.next_attempt_at <= chrono::Utc::now() || after.attempts > before.attempts,
        "due now (or already tried again): {after:?}"
    );
}

async fn delivery_row(node: &TestNode, id: i32) -> market::entities::delivery::Model {
    market::entities::delivery::Entity::find_by_id(id)
        .one(&node.ctx.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn with_admission_by_vote_the_members_page_links_the_vote_instead_of_buttons() {
    let node = TestNode::spawn_with(harness::Storage::Default, |config| {
        config.coop.admission = server::config::AdmissionMode::Vote;
    })
    .await;
    node.admin("root").await;
    let root = log_in(&node, "root").await;
    let dan = register(&node, "dan").await;
    let applied = submit(
        &node,
        &dan,
        "/coop/membership/apply",
        &[("statement", "rugs")],
    )
    .await;
    assert_eq!(applied.status(), 303);
    let vote = membership::pending(&node.ctx).await.unwrap()[0]
        .proposal_id
        .clone()
        .expect("an admission vote");

    let (_, html) = page(&node, "/admin/members", Some(&root)).await;
    assert!(
        html.contains("admit members by a vote of the members"),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"<a href="/coop/proposals/{vote}">"#)),
        "{html}"
    );
    assert!(
        !html.contains(r#"name="decision""#),
        "no Admit button: {html}"
    );
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/members/decide",
            &[("username", "dan"), ("decision", "approve")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert!(html.contains("by a vote of the members"), "{html}");
    let (_, overview) = page(&node, "/admin", Some(&root)).await;
    assert!(overview.contains("waiting for the members"), "{overview}");
}

#[tokio::test]
async fn on_an_allowlist_node_an_admin_approves_a_peer_that_asked() {
    let a = TestNode::spawn_with(harness::Storage::Default, |c| {
        c.federation.mode = server::config::FederationMode::Allowlist;
    })
    .await;
    let c = TestNode::spawn().await;
    a.admin("root").await;
    let ana = a.member("ana").await;
    a.shop_with_listing(&ana, "pottery").await;
    let root = log_in(&a, "root").await;

    // C asks to federate; A's page shows the request with an Approve button.
    federation::peering::add(&c.federation.to_request_data(), &a.base)
        .await
        .unwrap();
    let (_, html) = page(&a, "/admin/peers", Some(&root)).await;
    assert!(html.contains("allowlist mode"), "{html}");
    assert!(html.contains("asked, waiting for you"), "{html}");
    assert!(html.contains(r#"action="/admin/peers/approve""#), "{html}");
    let (_, overview) = page(&a, "/admin", Some(&root)).await;
    assert!(overview.contains("1 asking"), "{overview}");
    assert_eq!(
        peers::find(&c.ctx, &a.domain)
            .await
            .unwrap()
            .unwrap()
            .outgoing,
        "pending"
    );

    // Approving answers C's request: C follows A and copies its catalog.
    let approved = submit(&a, &root, "/admin/peers/approve", &[("domain", &c.domain)]).await;
    let (status, html) = follow(&a, approved, &root).await;
    assert_eq!(status, 200);
    assert!(!html.contains("asked, waiting for you"), "{html}");
    assert!(
        peers::find(&a.ctx, &c.domain)
            .await
            .unwrap()
            .unwrap()
            .approved
    );
    until("C's follow of A is accepted", || async {
        peers::find(&c.ctx, &a.domain)
            .await
            .unwrap()
            .is_some_and(|p| p.outgoing == "accepted")
    })
    .await;
    // An unknown domain: 404 with the message, nothing approved.
    let (status, html) = refused(
        submit(
            &a,
            &root,
            "/admin/peers/approve",
            &[("domain", "nowhere.example")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 404, "{html}");
}
