//! The books through `/admin/ledger`: balances, closing a period, a cost, a payout, the CSV.

use market::service::{ledger, periods};

use super::{follow, refused, submit};
use crate::order_pages::browser::{log_in, page};
use harness::TestNode;

#[tokio::test]
async fn an_admin_closes_a_period_and_books_costs_and_payouts_through_the_ledger_page() {
    let node = TestNode::spawn().await;
    node.admin("root").await;
    let root = log_in(&node, "root").await;

    let (_, html) = page(&node, "/admin/ledger", Some(&root)).await;
    assert!(
        html.contains("equity:member_shares:root"),
        "the founder's share: {html}"
    );
    assert!(html.contains("No period closed yet."));

    // Bad input: the page again with the reason, nothing booked.
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/ledger/cost",
            &[
                ("amount", "twelve"),
                ("currency", "EUR"),
                ("memo", "hosting"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("not a decimal amount"), "{html}");
    assert!(
        html.contains(r#"value="twelve""#),
        "the form keeps what was typed"
    );
    let (status, html) =
        refused(submit(&node, &root, "/admin/ledger/close", &[("label", "")]).await).await;
    assert_eq!(status, 422);
    assert!(html.contains("1 to 40 letters"), "{html}");
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/ledger/close",
            &[("label", "2026-Q1"), ("until", "someday")],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("a date such as 2026-12-31"), "{html}");
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/ledger/pay",
            &[
                ("account", "liabilities:seller_payable:pottery"),
                ("amount", "-3"),
                ("currency", "EUR"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("must not be negative"), "{html}");
    let (status, html) = refused(
        submit(
            &node,
            &root,
            "/admin/ledger/pay",
            &[
                ("account", "liabilities:seller_payable:pottery"),
                ("amount", "3.00"),
                ("currency", "EUR"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "nothing is owed: {html}");
    assert!(
        !ledger::trial_balance(&node.ctx)
            .await
            .unwrap()
            .keys()
            .any(|(_, account)| account.starts_with("expenses"))
    );

    let cost = submit(
        &node,
        &root,
        "/admin/ledger/cost",
        &[
            ("amount", "12.50"),
            ("currency", "EUR"),
            ("memo", "hosting"),
        ],
    )
    .await;
    let (_, html) = follow(&node, cost, &root).await;
    assert!(
        html.contains("a cost of 12.5 EUR for hosting")
            || html.contains("a cost of 12.50 EUR for hosting"),
        "{html}"
    );
    assert!(html.contains("expenses:"), "{html}");

    let closed = submit(&node, &root, "/admin/ledger/close", &[("label", "2026-Q1")]).await;
    let (_, html) = follow(&node, closed, &root).await;
    assert!(html.contains("Closed period 2026-Q1"), "{html}");
    assert!(
        html.contains(r##"<a href="#period-2026-Q1">2026-Q1</a>"##),
        "{html}"
    );
    assert!(
        html.contains("<h3 id=\"period-h-1\">Period 2026-Q1</h3>"),
        "{html}"
    );
    assert!(html.contains("-12.50"), "the loss: {html}");
    assert_eq!(periods::list(&node.ctx).await.unwrap().len(), 1);
    let (status, html) =
        refused(submit(&node, &root, "/admin/ledger/close", &[("label", "2026-Q1")]).await).await;
    assert!(
        (400..500).contains(&status),
        "the same label twice: {status}"
    );
    assert!(html.contains(r#"role="alert""#));

    let csv = crate::order_pages::browser::get(&node, "/admin/ledger.csv", Some(&root)).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.text().await.unwrap().contains("hosting"));
    let (_, overview) = page(&node, "/admin", Some(&root)).await;
    assert!(overview.contains("<strong>2026-Q1</strong>"), "{overview}");
}
