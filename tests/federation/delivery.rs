//! Deliveries as a receiving server sees them: one per shared inbox, signed by the shop.

use harness::{TestNode, sample_listing, sink::Sink};
use serde_json::Value;

#[tokio::test]
async fn followers_on_one_server_cost_one_delivery_and_every_signature_verifies() {
    let (node, sink, ana) = node_and_sink(harness::Storage::Default).await;
    let shop = node.url("/shops/pottery");

    // Five followers behind the sink's shared inbox, two with only their own inbox.
    let inbox = node.url("/inbox");
    for name in [
        "shared1", "shared2", "shared3", "shared4", "shared5", "solo1", "solo2",
    ] {
        assert_eq!(
            sink.follow(&node.http, name, &shop, &inbox).await,
            202,
            "{name}"
        );
    }
    let accepts = sink
        .received()
        .iter()
        .filter(|r| r.kind == "Accept")
        .count();
    assert_eq!(
        accepts, 7,
        "one Accept per Follow, each to the follower's own inbox"
    );

    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let creates: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|r| r.kind == "Create")
        .collect();
    let mut paths: Vec<&str> = creates.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/inbox", "/users/solo1/inbox", "/users/solo2/inbox"]
    );
    assert!(creates.iter().all(|r| r.signature_valid), "{creates:?}");
    assert!(sink.received().iter().all(|r| r.signature_valid));
    node.shutdown().await;
}

/// A node with a shop whose key the sink trusts.
async fn node_and_sink(storage: harness::Storage) -> (TestNode, Sink, harness::Member) {
    let node = TestNode::spawn_with(storage, |_| {}).await;
    let sink = Sink::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let actor: Value = node
        .http
        .get(node.url("/shops/pottery"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    sink.trust_key(
        actor["publicKey"]["id"].as_str().unwrap(),
        actor["publicKey"]["publicKeyPem"].as_str().unwrap(),
    );
    (node, sink, ana)
}

/// ... and one follower behind the sink's shared inbox.
async fn node_with_follower(storage: harness::Storage) -> (TestNode, Sink, harness::Member) {
    let (node, sink, ana) = node_and_sink(storage).await;
    let shop = node.url("/shops/pottery");
    assert_eq!(
        sink.follow(&node.http, "shared1", &shop, &node.url("/inbox"))
            .await,
        202
    );
    (node, sink, ana)
}

fn creates(sink: &Sink) -> Vec<harness::sink::Received> {
    sink.received()
        .into_iter()
        .filter(|r| r.kind == "Create")
        .collect()
}

#[tokio::test]
async fn a_failing_inbox_gets_the_activity_after_retries_with_growing_delays() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    sink.script("/inbox", &[503, 500]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let first = creates(&sink);
    assert_eq!(first.len(), 1);
    let activity_id = first[0].activity_id.clone();
    let rows = deliveries::of_activity(&node.ctx, &activity_id)
        .await
        .unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("pending", 1));
    let first_delay = rows[0].next_attempt_at - rows[0].updated_at;

    let status = deliveries::status(&node.ctx).await.unwrap();
    assert_eq!(status.pending, 1);
    assert_eq!(status.failing_hosts.len(), 1);
    assert_eq!(
        status.failing_hosts[0].host,
        sink.base.trim_start_matches("http://")
    );
    assert!(
        status.failing_hosts[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("503")
    );

    // Not due yet: nothing is sent.
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1);

    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let rows = deliveries::of_activity(&node.ctx, &activity_id)
        .await
        .unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("pending", 2));
    let second_delay = rows[0].next_attempt_at - rows[0].updated_at;
    assert!(
        second_delay > first_delay,
        "backoff grows: {first_delay} then {second_delay}"
    );

    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let rows = deliveries::of_activity(&node.ctx, &activity_id)
        .await
        .unwrap();
    assert_eq!(rows[0].state, "done");
    let all = creates(&sink);
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 500, 202]
    );
    assert!(
        all.iter()
            .all(|r| r.activity_id == activity_id && r.signature_valid),
        "same activity, signed each time"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_refusal_is_final_and_not_retried() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    sink.script("/inbox", &[403]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let activity_id = creates(&sink)[0].activity_id.clone();
    assert_eq!(
        deliveries::of_activity(&node.ctx, &activity_id)
            .await
            .unwrap()[0]
            .state,
        "refused"
    );
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1, "a 403 is not retried");
    assert_eq!(deliveries::status(&node.ctx).await.unwrap().refused, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Durable).await;
    sink.script("/inbox", &[503]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let activity_id = creates(&sink)[0].activity_id.clone();

    let node = node.restart().await;
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let all = creates(&sink);
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[1].status, all[1].activity_id.as_str()),
        (202, activity_id.as_str())
    );
    assert_eq!(
        deliveries::of_activity(&node.ctx, &activity_id)
            .await
            .unwrap()[0]
            .state,
        "done"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn deliveries_to_one_host_respect_the_per_host_cap() {
    let (node, sink, ana) = node_and_sink(harness::Storage::Default).await;
    let shop = node.url("/shops/pottery");
    for n in 0..12 {
        let name = format!("solo{n}");
        assert_eq!(
            sink.follow(&node.http, &name, &shop, &node.url("/inbox"))
                .await,
            202
        );
    }
    sink.set_delay(std::time::Duration::from_millis(100));
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 12, "one per personal inbox");
    let most = sink.max_in_flight();
    assert!(
        (2..=market::service::deliveries::PER_HOST).contains(&most),
        "{most} at once to one host"
    );
    node.shutdown().await;
}
