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
