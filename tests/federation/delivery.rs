//! Deliveries as a receiving server sees them: one per shared inbox, signed by the shop.

use harness::{TestNode, sample_listing, sink::Sink};
use serde_json::Value;

#[tokio::test]
async fn followers_on_one_server_cost_one_delivery_and_every_signature_verifies() {
    let node = TestNode::spawn().await;
    let sink = Sink::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let shop = node.url("/shops/pottery");
    let actor: Value = node
        .http
        .get(&shop)
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
