//! What a sender can rely on from the inbox: an activity whose processing failed on our side is
//! answered 5xx and processed when the sender retries it; a signed time far in the future is
//! refused; a rotated key verifies after one refetch of the actor, the old one no longer; the
//! replay table forgets ids after the replay window.

use std::time::{Duration, SystemTime};

use harness::{Storage, TestNode, peer::Peer, signing::SignedPost, sink::Sink};
use market::entities::received_activity;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use serde_json::{Value, json};

async fn node_with_shop(node: TestNode) -> (TestNode, String) {
    let ana = node.member("ana").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Pottery").await.status(),
        201
    );
    let shop = node.url("/shops/pottery");
    (node, shop)
}

fn follow_of(actor: &str, shop: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/follows/{}", uuid::Uuid::new_v4()),
        "type": "Follow",
        "actor": actor,
        "object": shop,
    })
}

async fn followers(node: &TestNode) -> u64 {
    let (status, collection) = node.get_ap(&node.url("/shops/pottery/followers")).await;
    assert_eq!(status, 200);
    collection["totalItems"].as_u64().unwrap()
}

/// Send `activity` signed by the sink's actor `name` with `key`; the response.
async fn send_as(
    node: &TestNode,
    sink: &Sink,
    name: &str,
    activity: &Value,
    key: &str,
) -> reqwest::Response {
    let post = SignedPost::new(
        &node.url("/inbox"),
        activity,
        &format!("{}#main-key", sink.actor_id(name)),
        key,
    );
    node.http.execute(post.build(&node.http)).await.unwrap()
}

#[tokio::test]
async fn an_activity_whose_effect_failed_is_processed_when_the_sender_retries() {
    let (node, shop) = node_with_shop(TestNode::spawn().await).await;
    let peer = Peer::spawn().await;
    let follow = follow_of(peer.alice_id().as_str(), &shop);
    let send = || async {
        SignedPost::new(
            &node.url("/shops/pottery/inbox"),
            &follow,
            &peer.alice_key_id(),
            &peer.alice_private_key(),
        )
        .send(&node.http)
        .await
    };
    // The follow's effect fails on our side: its table is briefly gone.
    node.ctx
        .db
        .execute_unprepared("ALTER TABLE follows RENAME TO follows_away")
        .await
        .unwrap();
    let status = send().await;
    assert!(
        status >= 500,
        "our failure is a 5xx (the sender retries), got {status}"
    );
    node.ctx
        .db
        .execute_unprepared("ALTER TABLE follows_away RENAME TO follows")
        .await
        .unwrap();
    assert_eq!(followers(&node).await, 0);

    // The sender's retry of the same activity id is processed, not dropped as a replay.
    assert_eq!(send().await, 202);
    assert_eq!(followers(&node).await, 1, "the retried Follow took effect");
    assert_eq!(peer.received_of("Accept").len(), 1, "and was accepted");
    // A third copy is a replay: no second effect.
    assert_eq!(send().await, 202);
    assert_eq!(peer.received_of("Accept").len(), 1);
    node.shutdown().await;
}

#[tokio::test]
async fn ten_copies_of_one_follow_at_once_make_one_follower() {
    let (node, shop) = node_with_shop(TestNode::spawn().await).await;
    let peer = Peer::spawn().await;
    let follow = follow_of(peer.alice_id().as_str(), &shop);
    let statuses = futures::future::join_all((0..10).map(|_| {
        let post = SignedPost::new(
            &node.url("/shops/pottery/inbox"),
            &follow,
            &peer.alice_key_id(),
            &peer.alice_private_key(),
        );
        let http = node.http.clone();
        async move { post.send(&http).await }
    }))
    .await;
    // One copy runs the effect; those arriving meanwhile are asked to retry (503), those after
    // it are replays (202).
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(followers(&node).await, 1);
    let accepts = peer.received_of("Accept");
    assert_eq!(accepts.len(), 1, "one Accept for ten copies of one Follow");
    assert_eq!(accepts[0]["object"]["id"], follow["id"]);
    // The senders' retries of the copies refused meanwhile change nothing either.
    let post = SignedPost::new(
        &node.url("/shops/pottery/inbox"),
        &follow,
        &peer.alice_key_id(),
        &peer.alice_private_key(),
    );
    assert_eq!(post.send(&node.http).await, 202);
    assert_eq!(followers(&node).await, 1);
    assert_eq!(peer.received_of("Accept").len(), 1);
    node.shutdown().await;
}

#[tokio::test]
async fn the_database_unavailable_is_503_with_retry_after_not_4xx() {
    let (node, shop) = node_with_shop(TestNode::spawn().await).await;
    let peer = Peer::spawn().await;
    node.ctx.db.clone().close().await.unwrap();
    let post = SignedPost::new(
        &node.url("/inbox"),
        &follow_of(peer.alice_id().as_str(), &shop),
        &peer.alice_key_id(),
        &peer.alice_private_key(),
    );
    let response = node.http.execute(post.build(&node.http)).await.unwrap();
    assert_eq!(response.status(), 503);
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(retry_after > 0);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("retry"),
        "{body}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn an_inbox_request_that_runs_out_of_time_is_503_and_processed_on_retry() {
    let (node, shop) = node_with_shop(TestNode::spawn().await).await;
    let sink = Sink::spawn().await;
    // The sender's server hangs when the node fetches its actor (to check the signature).
    sink.set_actor_delay(Duration::from_secs(12));
    let follow = follow_of(&sink.actor_id("carol"), &shop);
    let response = send_as(&node, &sink, "carol", &follow, &sink.private_key()).await;
    assert_eq!(
        response.status(),
        503,
        "a timeout is ours to retry, not 400"
    );
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(followers(&node).await, 0);

    sink.set_actor_delay(Duration::ZERO);
    let response = send_as(&node, &sink, "carol", &follow, &sink.private_key()).await;
    assert_eq!(response.status(), 202);
    assert_eq!(followers(&node).await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn a_signature_created_two_hours_ahead_is_refused_and_changes_nothing() {
    let (node, shop) = node_with_shop(TestNode::spawn().await).await;
    let peer = Peer::spawn().await;
    let signed = |created: SystemTime| {
        let mut post = SignedPost::new(
            &node.url("/inbox"),
            &follow_of(peer.alice_id().as_str(), &shop),
            &peer.alice_key_id(),
            &peer.alice_private_key(),
        );
        post.algorithm = "hs2019";
        post.created = Some(created);
        post
    };
    let ahead = signed(SystemTime::now() + Duration::from_secs(2 * 3600));
    let response = node.http.execute(ahead.build(&node.http)).await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("created"),
        "{body}"
    );
    assert_eq!(followers(&node).await, 0, "no follower added");
    assert!(peer.received_of("Accept").is_empty());

    // Within the window (a clock a few minutes off either way) it is accepted.
    let behind = signed(SystemTime::now() - Duration::from_secs(300));
    assert_eq!(behind.send(&node.http).await, 202);
    let slightly_ahead = signed(SystemTime::now() + Duration::from_secs(300));
    assert_eq!(slightly_ahead.send(&node.http).await, 202);
    assert_eq!(followers(&node).await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn a_rotated_key_verifies_after_one_refetch_and_the_old_key_stops_verifying() {
    let (node, shop) = node_with_shop(TestNode::spawn().await).await;
    let sink = Sink::spawn().await;
    let carol = sink.actor_id("carol");
    let old_key = sink.private_key();
    let response = send_as(&node, &sink, "carol", &follow_of(&carol, &shop), &old_key).await;
    assert_eq!(response.status(), 202);
    assert_eq!(sink.actor_fetches(), 1, "carol fetched once, and stored");

    let new_key = {
        sink.rotate_key();
        sink.private_key()
    };
    let response = send_as(&node, &sink, "carol", &follow_of(&carol, &shop), &new_key).await;
    assert_eq!(
        response.status(),
        202,
        "signed with the new key: {}",
        response.text().await.unwrap()
    );
    assert_eq!(sink.actor_fetches(), 2, "the actor was refetched once");

    let response = send_as(&node, &sink, "carol", &follow_of(&carol, &shop), &old_key).await;
    assert_eq!(response.status(), 401, "the old key no longer verifies");
    let response = send_as(&node, &sink, "carol", &follow_of(&carol, &shop), &new_key).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        sink.actor_fetches(),
        2,
        "no further fetch: the bad signature did not make us refetch again so soon"
    );
    assert_eq!(followers(&node).await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn bad_signatures_from_a_known_actor_refetch_it_at_most_once() {
    let (node, shop) = node_with_shop(TestNode::spawn().await).await;
    let sink = Sink::spawn().await;
    let carol = sink.actor_id("carol");
    let key = sink.private_key();
    let response = send_as(&node, &sink, "carol", &follow_of(&carol, &shop), &key).await;
    assert_eq!(response.status(), 202);
    let stranger = activitypub_federation::http_signatures::generate_actor_keypair()
        .unwrap()
        .private_key;
    // Ten forged requests at once, in carol's name.
    let forged = futures::future::join_all((0..10).map(|_| {
        let follow = follow_of(&carol, &shop);
        let (node, sink, stranger) = (&node, &sink, &stranger);
        async move {
            send_as(node, sink, "carol", &follow, stranger)
                .await
                .status()
        }
    }))
    .await;
    assert!(forged.iter().all(|s| *s == 401), "{forged:?}");
    assert_eq!(
        sink.actor_fetches(),
        2,
        "one refetch for ten bad signatures"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn received_activity_ids_are_forgotten_after_the_replay_window() {
    let node = TestNode::spawn_with(Storage::Durable, |_| {}).await;
    let now = chrono::Utc::now();
    for (id, age) in [
        ("http://old.example/activities/1", chrono::Duration::days(8)),
        (
            "http://old.example/activities/2",
            chrono::Duration::days(30),
        ),
        (
            "http://recent.example/activities/1",
            chrono::Duration::days(1),
        ),
        (
            "http://recent.example/activities/2",
            chrono::Duration::zero(),
        ),
    ] {
        received_activity::Entity::insert(received_activity::ActiveModel {
            ap_id: Set(id.into()),
            received_at: Set(now - age),
        })
        .exec(&node.ctx.db)
        .await
        .unwrap();
    }
    // The delivery worker prunes when it starts, then hourly.
    let mut node = node;
    node.config.federation.deliver = true;
    let node = node.restart().await;
    let ctx = node.ctx.clone();
    let remaining = || async {
        let mut ids: Vec<String> = received_activity::Entity::find()
            .all(&ctx.db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.ap_id)
            .collect();
        ids.sort();
        ids
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while remaining().await.len() > 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        remaining().await,
        vec![
            "http://recent.example/activities/1".to_string(),
            "http://recent.example/activities/2".to_string()
        ]
    );
    node.shutdown().await;
}
