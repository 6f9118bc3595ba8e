//! Joining the co-op through pages: a registered buyer applies at `/coop/membership`, an admin
//! admits them there, and forms without the session's CSRF value change nothing.

use crate::order_pages::browser::{csrf_of, log_in, page, post_form, register};
use harness::TestNode;

#[tokio::test]
async fn a_buyer_applies_and_an_admin_admits_them_through_pages() {
    let node = TestNode::spawn().await;
    node.admin("root").await;
    let dan = register(&node, "dan").await;
    let (status, html) = page(&node, "/coop/membership", Some(&dan)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Apply to join"), "{html}");
    assert!(
        html.contains("20.00 EUR"),
        "the share price is shown: {html}"
    );
    // Without a session: to the login page.
    let anonymous = crate::order_pages::browser::get(&node, "/coop/membership", None).await;
    assert_eq!(anonymous.status(), 303);

    // A forged form (no CSRF value) changes nothing.
    let forged = post_form(
        &node,
        "/coop/membership/apply",
        &[("statement", "forged")],
        Some(&dan),
    )
    .await;
    assert_eq!(forged.status(), 403);
    assert!(
        market::service::membership::pending(&node.ctx)
            .await
            .unwrap()
            .is_empty()
    );

    let csrf = csrf_of(&node, &dan).await;
    let applied = post_form(
        &node,
        "/coop/membership/apply",
        &[("csrf", &csrf), ("statement", "I weave <b>rugs</b>.")],
        Some(&dan),
    )
    .await;
    assert_eq!(applied.status(), 303);
    let (_, html) = page(&node, "/coop/membership", Some(&dan)).await;
    assert!(html.contains("waiting for an admin"), "{html}");

    // The admin sees the application, escaped, and admits dan.
    let root = log_in(&node, "root").await;
    let (_, html) = page(&node, "/coop/membership", Some(&root)).await;
    assert!(
        html.contains("I weave &#60;b&#62;rugs&#60;/b&#62;."),
        "{html}"
    );
    let root_csrf = csrf_of(&node, &root).await;
    let bad = post_form(
        &node,
        "/coop/membership/decide",
        &[
            ("csrf", &root_csrf),
            ("username", "dan"),
            ("decision", "maybe"),
        ],
        Some(&root),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let admitted = post_form(
        &node,
        "/coop/membership/decide",
        &[
            ("csrf", &root_csrf),
            ("username", "dan"),
            ("decision", "approve"),
        ],
        Some(&root),
    )
    .await;
    assert_eq!(admitted.status(), 303);
    let (_, html) = page(&node, "/coop/membership", Some(&dan)).await;
    assert!(html.contains("You are a member"), "{html}");
    // A member's decide form is refused (not an admin).
    let dan_csrf = csrf_of(&node, &dan).await;
    let refused = post_form(
        &node,
        "/coop/membership/decide",
        &[
            ("csrf", &dan_csrf),
            ("username", "dan"),
            ("decision", "reject"),
        ],
        Some(&dan),
    )
    .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn a_member_proposes_votes_and_checks_the_receipt_through_pages() {
    use crate::order_pages::browser::{between, location};
    let node = TestNode::spawn().await;
    node.member("bea").await;
    let bea = log_in(&node, "bea").await;
    let buyer = register(&node, "ana").await;

    // Only members get the form; a buyer's post is refused.
    let (_, html) = page(&node, "/coop/proposals", Some(&bea)).await;
    assert!(html.contains("New proposal"), "{html}");
    let (_, html) = page(&node, "/coop/proposals", Some(&buyer)).await;
    assert!(!html.contains("New proposal"));
    let ana_csrf = csrf_of(&node, &buyer).await;
    let refused = post_form(
        &node,
        "/coop/proposals",
        &[("csrf", &ana_csrf), ("title", "Free mugs")],
        Some(&buyer),
    )
    .await;
    assert_eq!(refused.status(), 403);

    // Without the CSRF value: refused, nothing made.
    let forged = post_form(&node, "/coop/proposals", &[("title", "x")], Some(&bea)).await;
    assert_eq!(forged.status(), 403);
    let csrf = csrf_of(&node, &bea).await;
    let bad = post_form(
        &node,
        "/coop/proposals",
        &[("csrf", &csrf), ("title", "Market day"), ("days", "soon")],
        Some(&bea),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let made = post_form(
        &node,
        "/coop/proposals",
        &[
            ("csrf", &csrf),
            ("title", "Market day"),
            ("text", "Which day?"),
            ("options", "Saturday\nSunday\n"),
            ("days", "3"),
        ],
        Some(&bea),
    )
    .await;
    assert_eq!(made.status(), 303);
    let path = location(&made);
    let (_, html) = page(&node, &path, Some(&bea)).await;
    assert!(
        html.contains("Market day") && html.contains("Sunday"),
        "{html}"
    );

    // Vote for Sunday (option 1): the receipt is shown once; checking it names Sunday.
    let voted = post_form(
        &node,
        &format!("{path}/vote"),
        &[("csrf", &csrf), ("option", "1")],
        Some(&bea),
    )
    .await;
    assert_eq!(voted.status(), 200);
    assert_eq!(voted.headers()["cache-control"], "no-store");
    let html = voted.text().await.unwrap();
    let receipt = between(&html, "Your receipt: <code>", "</code>").to_string();
    let again = post_form(
        &node,
        &format!("{path}/vote"),
        &[("csrf", &csrf), ("option", "0")],
        Some(&bea),
    )
    .await;
    assert_eq!(again.status(), 409, "one vote");
    let checked = post_form(
        &node,
        &format!("{path}/receipt"),
        &[("csrf", &csrf), ("receipt", &receipt)],
        Some(&bea),
    )
    .await;
    let html = checked.text().await.unwrap();
    assert!(
        between(&html, "role=\"status\">", "</p>").contains("Sunday"),
        "{html}"
    );
    let (_, html) = page(&node, &path, Some(&bea)).await;
    assert!(!html.contains(&receipt), "the receipt is shown only once");
}
