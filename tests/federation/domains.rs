//! The domain blocklist: a blocked server's activities are refused with 403, and blocking it
//! forgets its followers and the deliveries waiting for it.

use harness::sample_listing;
use market::service::{deliveries, domains};

use crate::delivery::{creates, node_with_follower};

#[tokio::test]
async fn a_blocked_server_is_refused_and_forgotten_until_unblocked() {
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    let host = sink.base.trim_start_matches("http://").to_string();
    // A delivery waiting for the sink's server.
    sink.script("/inbox", &[503]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let activity_id = creates(&sink)[0].activity_id.clone();

    let (entry, purged) = domains::block(&node.ctx, &host.to_uppercase(), Some("spam"))
        .await
        .unwrap();
    assert_eq!(entry, host);
    assert_eq!((purged.actors, purged.deliveries), (1, 1));
    let rows = deliveries::of_activity(&node.ctx, &activity_id)
        .await
        .unwrap();
    assert_eq!(rows[0].state, "refused");
    assert!(
        rows[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("domain blocked")
    );
    let followers: serde_json::Value = node
        .get("/api/v1/shops/pottery/followers", Some(&ana.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(followers["total"], 0, "{followers}");

    // Its activities are refused, with a reason, and nothing is stored.
    let shop = node.url("/shops/pottery");
    let before = sink.received().len();
    assert_eq!(
        sink.follow(&node.http, "shared2", &shop, &node.url("/inbox"))
            .await,
        403
    );
    assert_eq!(sink.received().len(), before, "no Accept went out");
    let followers: serde_json::Value = node
        .get("/api/v1/shops/pottery/followers", Some(&ana.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(followers["total"], 0);
    // Nothing goes to it either.
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1);

    assert!(domains::unblock(&node.ctx, &host).await.unwrap());
    assert_eq!(
        sink.follow(&node.http, "shared2", &shop, &node.url("/inbox"))
            .await,
        202
    );
    node.shutdown().await;
}
