//! The hostile-peer cases: each is refused with the right status and changes nothing.

use std::time::{Duration, SystemTime};

use harness::{Storage, TestNode, peer::Peer, signing::SignedPost};
use serde_json::{Value, json};

async fn node_with_shop() -> (TestNode, Peer, String) {
    let node = TestNode::spawn().await;
    let peer = Peer::spawn().await;
    let ana = node.member("ana").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Pottery").await.status(),
        201
    );
    let shop = node.url("/shops/pottery");
    (node, peer, shop)
}

fn follow(peer: &Peer, shop: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/{}", peer.base, uuid::Uuid::new_v4()),
        "type": "Follow",
        "actor": peer.alice_id(),
        "object": shop,
    })
}

async fn followers(node: &TestNode) -> u64 {
    let collection: Value = node
        .http
        .get(node.url("/shops/pottery/followers"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    collection["totalItems"].as_u64().unwrap()
}

#[tokio::test]
async fn both_signature_algorithms_are_accepted() {
    let (node, peer, shop) = node_with_shop().await;
    let inbox = node.url("/shops/pottery/inbox");
    let rsa = SignedPost::new(
        &inbox,
        &follow(&peer, &shop),
        &peer.alice_key_id(),
        &peer.alice_private_key(),
    );
    assert_eq!(rsa.send(&node.http).await, 202);
    let mut hs = SignedPost::new(
        &node.url("/inbox"),
        &follow(&peer, &shop),
        &peer.alice_key_id(),
        &peer.alice_private_key(),
    );
    hs.algorithm = "hs2019";
    assert_eq!(hs.send(&node.http).await, 202);
    assert_eq!(followers(&node).await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn unsigned_forged_and_stale_requests_get_401_and_change_nothing() {
    let (node, peer, shop) = node_with_shop().await;
    let inbox = node.url("/shops/pottery/inbox");
    let (key_id, key) = (peer.alice_key_id(), peer.alice_private_key());

    // No signature at all.
    let unsigned = node
        .http
        .post(&inbox)
        .header("content-type", "application/activity+json")
        .header("date", httpdate::fmt_http_date(SystemTime::now()))
        .body(follow(&peer, &shop).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    let mut wrong_digest = SignedPost::new(&inbox, &follow(&peer, &shop), &key_id, &key);
    wrong_digest.digest_override =
        Some("SHA-256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
    assert_eq!(
        wrong_digest.send(&node.http).await,
        401,
        "digest not matching the body"
    );

    let mut unsigned_digest = SignedPost::new(&inbox, &follow(&peer, &shop), &key_id, &key);
    unsigned_digest.unsigned_digest = true;
    assert_eq!(
        unsigned_digest.send(&node.http).await,
        401,
        "digest not signed"
    );

    let mut future = SignedPost::new(&inbox, &follow(&peer, &shop), &key_id, &key);
    future.date = SystemTime::now() + Duration::from_secs(2 * 3600);
    assert_eq!(future.send(&node.http).await, 401, "Date two hours ahead");

    let mut stale = SignedPost::new(&inbox, &follow(&peer, &shop), &key_id, &key);
    stale.date = SystemTime::now() - Duration::from_secs(13 * 3600);
    assert_eq!(stale.send(&node.http).await, 401, "Date thirteen hours old");

    // Alice's key, but the activity claims to be Bob's: the actor is not the key's owner.
    let mut as_bob = follow(&peer, &shop);
    as_bob["actor"] = json!(peer.bob_id());
    assert_eq!(
        SignedPost::new(&inbox, &as_bob, &key_id, &key)
            .send(&node.http)
            .await,
        401
    );
    // Bob's key id, signed with Alice's key.
    let bob_key = format!("{}#main-key", peer.bob_id());
    assert_eq!(
        SignedPost::new(&inbox, &as_bob, &bob_key, &key)
            .send(&node.http)
            .await,
        401
    );

    assert_eq!(followers(&node).await, 0);
    assert!(peer.received().is_empty(), "no Accept was sent");
    node.shutdown().await;
}

#[tokio::test]
async fn malformed_oversized_and_misaddressed_activities_get_4xx() {
    let (node, peer, shop) = node_with_shop().await;
    let inbox = node.url("/inbox");
    let (key_id, key) = (peer.alice_key_id(), peer.alice_private_key());

    let mut malformed = SignedPost::new(&inbox, &json!({}), &key_id, &key);
    malformed.body = b"{\"type\": \"Follow\", ".to_vec();
    assert_eq!(malformed.send(&node.http).await, 400);

    let mut huge = SignedPost::new(&inbox, &json!({}), &key_id, &key);
    huge.body = format!("{{\"pad\": \"{}\"}}", "x".repeat(1024 * 1024 + 10)).into_bytes();
    assert_eq!(huge.send(&node.http).await, 413);

    let nobody = follow(&peer, &node.url("/shops/nobody"));
    assert_eq!(
        SignedPost::new(&inbox, &nobody, &key_id, &key)
            .send(&node.http)
            .await,
        404
    );

    // The activity id on another server than its actor.
    let mut elsewhere = follow(&peer, &shop);
    elsewhere["id"] = json!("http://elsewhere.example/follows/1");
    assert_eq!(
        SignedPost::new(&inbox, &elsewhere, &key_id, &key)
            .send(&node.http)
            .await,
        400
    );

    assert_eq!(followers(&node).await, 0);
    node.shutdown().await;
}

#[tokio::test]
async fn a_replayed_activity_has_one_effect() {
    let (node, peer, shop) = node_with_shop().await;
    let activity = follow(&peer, &shop);
    let inbox = node.url("/shops/pottery/inbox");
    for _ in 0..3 {
        let post = SignedPost::new(
            &inbox,
            &activity,
            &peer.alice_key_id(),
            &peer.alice_private_key(),
        );
        assert_eq!(post.send(&node.http).await, 202);
    }
    assert_eq!(followers(&node).await, 1);
    assert_eq!(
        peer.received_of("Accept").len(),
        1,
        "one Accept for one Follow"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn an_actor_cannot_undo_someone_elses_follow() {
    let (node, peer, shop) = node_with_shop().await;
    let shop_actor = peer
        .resolve(&format!("pottery@{}", node.domain))
        .await
        .unwrap();
    peer.follow(&shop_actor).await.unwrap();
    assert_eq!(followers(&node).await, 1);
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/undo/1", peer.base),
        "type": "Undo",
        "actor": peer.alice_id(),
        "object": {"id": format!("{}/follows/x", peer.base), "type": "Follow", "actor": peer.bob_id(), "object": shop},
    });
    let post = SignedPost::new(
        &node.url("/inbox"),
        &undo,
        &peer.alice_key_id(),
        &peer.alice_private_key(),
    );
    assert_eq!(post.send(&node.http).await, 403);
    assert_eq!(followers(&node).await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn unknown_activity_types_are_verified_then_ignored() {
    let (node, peer, shop) = node_with_shop().await;
    let like = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/likes/1", peer.base), "type": "Like", "actor": peer.alice_id(), "object": shop,
    });
    let inbox = node.url("/inbox");
    let signed = SignedPost::new(
        &inbox,
        &like,
        &peer.alice_key_id(),
        &peer.alice_private_key(),
    );
    assert_eq!(signed.send(&node.http).await, 202);
    let unsigned = node
        .http
        .post(&inbox)
        .header("date", httpdate::fmt_http_date(SystemTime::now()))
        .body(like.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401, "ignored types are still checked");
    node.shutdown().await;
}

#[tokio::test]
async fn without_debug_mode_no_fetch_reaches_a_local_address() {
    let node = TestNode::spawn_with(Storage::Default, |c| c.federation.debug = false).await;
    let peer = Peer::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let activity = follow(&peer, &node.url("/shops/pottery"));
    let post = SignedPost::new(
        &node.url("/inbox"),
        &activity,
        &peer.alice_key_id(),
        &peer.alice_private_key(),
    );
    let status = post.send(&node.http).await;
    assert_eq!(status, 400, "a loopback actor is refused");
    assert_eq!(
        peer.actor_fetches(),
        0,
        "the node never fetched the loopback actor"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn an_activity_from_another_host_than_its_id_is_refused() {
    // Distinct host names (ports do not count as different domains): alpha.test is the peer,
    // evil.test claims to speak for it. Both resolve to 127.0.0.1 for the node only.
    let alpha = Peer::spawn_named("alpha.test").await;
    let node = TestNode::spawn_with(Storage::Default, |c| {
        c.federation.resolve = vec![
            ("alpha.test".into(), "127.0.0.1:0".parse().unwrap()),
            ("evil.test".into(), "127.0.0.1:0".parse().unwrap()),
        ];
    })
    .await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let shop = node.url("/shops/pottery");
    let mut activity = follow(&alpha, &shop);
    activity["id"] = json!(format!("http://evil.test:{}/follows/1", alpha.port()));
    let post = SignedPost::new(
        &node.url("/inbox"),
        &activity,
        &alpha.alice_key_id(),
        &alpha.alice_private_key(),
    );
    assert_eq!(post.send(&node.http).await, 400);
    // The same Follow with its own id goes through (the node reaches alpha.test).
    let ok = SignedPost::new(
        &node.url("/inbox"),
        &follow(&alpha, &shop),
        &alpha.alice_key_id(),
        &alpha.alice_private_key(),
    );
    assert_eq!(ok.send(&node.http).await, 202);
    assert_eq!(followers(&node).await, 1);
    node.shutdown().await;
}
