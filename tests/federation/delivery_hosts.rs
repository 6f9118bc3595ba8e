//! Hosts that keep failing: marked unavailable after failing on three separate days, skipped,
//! probed, and brought back by a probe, an admin or an activity from them.

use harness::{TestNode, sample_listing};
use serde_json::Value;

use crate::delivery::{creates, node_with_follower};

#[tokio::test]
async fn a_host_failing_on_three_days_is_skipped_until_it_answers_again() {
    use market::{entities::delivery_host, service::deliveries};
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    let host = sink.base.trim_start_matches("http://").to_string();
    // It failed yesterday and the day before (replayed); today it fails again.
    let now = chrono::Utc::now();
    for days_ago in [2, 1] {
        deliveries::record_host_failure(&node.ctx, &host, now - chrono::Duration::days(days_ago))
            .await
            .unwrap();
    }
    let after_two = deliveries::status(&node.ctx).await.unwrap();
    assert!(
        after_two.unavailable_hosts.is_empty(),
        "two days are not enough"
    );
    sink.script("/inbox", &[503]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1);
    let status = deliveries::status(&node.ctx).await.unwrap();
    assert_eq!(status.unavailable_hosts.len(), 1, "{status:?}");
    assert_eq!(status.unavailable_hosts[0].host, host);
    assert_eq!(status.unavailable_hosts[0].failure_days, 3);

    // Skipped: neither the retry of the first nor a new activity is attempted.
    deliveries::record(&node.ctx, Vec::new()).await.unwrap();
    market::entities::delivery::Entity::update_many()
        .col_expr(
            market::entities::delivery::Column::NextAttemptAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now()),
        )
        .exec(&node.ctx.db)
        .await
        .unwrap();
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(
        creates(&sink).len(),
        1,
        "nothing goes to an unavailable host"
    );
    let status = deliveries::status(&node.ctx).await.unwrap();
    assert_eq!(status.unavailable_hosts[0].pending, 2);

    // The probe: when it is due, one delivery is tried; the host answers, so it is available
    // again and everything waiting for it goes out in the same pass.
    delivery_host::ActiveModel {
        host: Set(host.clone()),
        next_probe_at: Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        ..Default::default()
    }
    .update(&node.ctx.db)
    .await
    .unwrap();
    node.deliver_pending().await;
    let all = creates(&sink);
    assert_eq!(all.len(), 3, "the probe, then the other one: {all:?}");
    assert!(
        all[1..]
            .iter()
            .all(|r| r.status == 202 && r.signature_valid)
    );
    let status = deliveries::status(&node.ctx).await.unwrap();
    assert!(
        status.unavailable_hosts.is_empty() && status.pending == 0,
        "{status:?}"
    );
    assert!(
        delivery_host::Entity::find_by_id(host.clone())
            .one(&node.ctx.db)
            .await
            .unwrap()
            .is_none(),
        "its failures are forgotten"
    );
    node.shutdown().await;
}

/// Make `host` unavailable now, as three days of failures would.
async fn mark_unavailable(node: &TestNode, host: &str) {
    use market::service::deliveries;
    let now = chrono::Utc::now();
    for days_ago in [2, 1, 0] {
        deliveries::record_host_failure(&node.ctx, host, now - chrono::Duration::days(days_ago))
            .await
            .unwrap();
    }
    let status = deliveries::status(&node.ctx).await.unwrap();
    assert!(
        status.unavailable_hosts.iter().any(|h| h.host == host),
        "{status:?}"
    );
}

#[tokio::test]
async fn an_unavailable_host_comes_back_when_an_admin_retries_it_or_it_sends_us_something() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    let host = sink.base.trim_start_matches("http://").to_string();
    let admin = node.admin("root").await;

    mark_unavailable(&node, &host).await;
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 0, "skipped while unavailable");

    // The admin API shows it, to admins only, and retrying it brings it back.
    let refused = node.get("/api/v1/admin/deliveries", Some(&ana.token)).await;
    assert_eq!(refused.status(), 403);
    let status: Value = node
        .get("/api/v1/admin/deliveries", Some(&admin.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["pending"], 1, "{status}");
    assert_eq!(
        status["unavailable_hosts"][0]["host"],
        host.as_str(),
        "{status}"
    );
    assert_eq!(status["unavailable_hosts"][0]["pending"], 1, "{status}");
    let bad = node
        .post_json(
            "/api/v1/admin/deliveries/retry",
            Some(&admin.token),
            &serde_json::json!({"host": "a host/with a path"}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let retried: Value = node
        .post_json(
            "/api/v1/admin/deliveries/retry",
            Some(&admin.token),
            &serde_json::json!({"host": host}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retried["due"], 1, "{retried}");
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1);
    assert!(
        deliveries::status(&node.ctx)
            .await
            .unwrap()
            .unavailable_hosts
            .is_empty()
    );

    // Unavailable again; then one of its actors sends us a signed activity: it is up.
    mark_unavailable(&node, &host).await;
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1);
    let shop = node.url("/shops/pottery");
    assert_eq!(
        sink.follow(&node.http, "shared2", &shop, &node.url("/inbox"))
            .await,
        202
    );
    assert!(
        deliveries::status(&node.ctx)
            .await
            .unwrap()
            .unavailable_hosts
            .is_empty()
    );
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 2, "what waited went out");
    node.shutdown().await;
}

#[tokio::test]
async fn deliveries_to_a_host_down_for_over_a_week_are_given_up() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    let host = sink.base.trim_start_matches("http://").to_string();
    // Failed on three days, the last eight days ago: unavailable since then.
    let now = chrono::Utc::now();
    for days_ago in [10, 9, 8] {
        deliveries::record_host_failure(&node.ctx, &host, now - chrono::Duration::days(days_ago))
            .await
            .unwrap();
    }
    // Its last probe failed a moment ago; the next is hours away.
    {
        use sea_orm::{ActiveModelTrait, Set};
        market::entities::delivery_host::ActiveModel {
            host: Set(host.clone()),
            next_probe_at: Set(Some(now + chrono::Duration::hours(5))),
            ..Default::default()
        }
        .update(&node.ctx.db)
        .await
        .unwrap();
    }
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 0);
    let status = deliveries::status(&node.ctx).await.unwrap();
    assert_eq!((status.pending, status.unavailable_hosts.len()), (1, 1));

    assert_eq!(
        deliveries::give_up_on_dead_hosts(&node.ctx).await.unwrap(),
        1
    );
    let status = deliveries::status(&node.ctx).await.unwrap();
    assert_eq!((status.pending, status.failed), (0, 1), "{status:?}");
    assert_eq!(status.unavailable_hosts.len(), 1, "still probed");

    // A host down for less than the week keeps its deliveries.
    let other = "recent.example".to_string();
    for days_ago in [2, 1, 0] {
        deliveries::record_host_failure(&node.ctx, &other, now - chrono::Duration::days(days_ago))
            .await
            .unwrap();
    }
    deliveries::enqueue(
        &node.ctx,
        "https://x.test/a/9",
        "https://x.test/s",
        "{}",
        &["https://recent.example/inbox".to_string()],
    )
    .await
    .unwrap();
    assert_eq!(
        deliveries::give_up_on_dead_hosts(&node.ctx).await.unwrap(),
        0
    );
    assert_eq!(deliveries::status(&node.ctx).await.unwrap().pending, 1);
    node.shutdown().await;
}
