use harness::{TestNode, peer::Peer, sample_listing};
use serde_json::{Value, json};

#[tokio::test]
async fn a_peer_follows_a_shop_and_receives_its_listings() {
    let node = TestNode::spawn().await;
    let peer = Peer::spawn().await;
    let ana = node.member("ana").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Ana's Pottery")
            .await
            .status(),
        201
    );

    // Discovery: WebFinger, then the actor.
    let shop = peer
        .resolve(&format!("pottery@{}", node.domain))
        .await
        .unwrap();
    assert_eq!(shop.0.kind, "Organization");
    assert_eq!(shop.0.preferred_username, "pottery");

    // Follow: accepted at once, the Accept arrives signed by the shop, echoing the Follow id.
    let follow_id = peer.follow(&shop).await.unwrap();
    let accepts = peer.received_of("Accept");
    assert_eq!(accepts.len(), 1, "{:?}", peer.received());
    assert_eq!(accepts[0]["object"]["id"], follow_id.as_str());
    assert_eq!(accepts[0]["actor"], shop.0.id.inner().as_str());
    // The node fetched Alice to check the Follow's signature, signing as its instance actor.
    let key_ids = peer.fetch_key_ids();
    assert!(
        !key_ids.is_empty() && key_ids.iter().all(|k| *k == node.url("/actor#main-key")),
        "{key_ids:?}"
    );
    // And it answers signed GETs (Mastodon signs every fetch) like any other.
    let signed_get = node
        .http
        .get(node.url("/shops/pottery"))
        .header("accept", "application/activity+json")
        .header("date", httpdate::fmt_http_date(std::time::SystemTime::now()))
        .header("signature", format!(r#"keyId="{}#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA""#, peer.alice_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_get.status(), 200);
    let followers: Value = node
        .http
        .get(node.url("/shops/pottery/followers"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(followers["totalItems"], 1);
    let page = node.get("/shops/pottery/followers", None).await;
    assert_eq!(page.headers()["vary"], "Accept");
    let page = page.text().await.unwrap();
    assert!(
        page.contains("alice Peer")
            && page.contains(&format!(
                "@alice@{}",
                peer.base.trim_start_matches("http://")
            )),
        "{page}"
    );
    assert!(
        !page.contains("<b>Peer"),
        "remote HTML never reaches a page"
    );

    // Create on publish.
    let created = node
        .create_listing(&ana, "pottery", &sample_listing())
        .await;
    let listing: Value = created.json().await.unwrap();
    let id = listing["id"].as_str().unwrap();
    assert_eq!(node.deliver_pending().await, 1);
    let creates = peer.received_of("Create");
    assert_eq!(creates.len(), 1);
    let note = &creates[0]["object"];
    assert_eq!(note["type"], "Note");
    assert_eq!(note["id"], listing["url"]);
    assert!(
        note["content"].as_str().unwrap().contains("28.00 EUR"),
        "{note}"
    );
    assert!(note.get("summary").is_none());

    // Update on a change of price and stock, with a newer `updated`.
    node.update_listing(&ana, id, &json!({"price": "30.00", "stock": 0}))
        .await;
    node.deliver_pending().await;
    let updates = peer.received_of("Update");
    assert_eq!(updates.len(), 1);
    let content = updates[0]["object"]["content"].as_str().unwrap();
    assert!(
        content.contains("30.00 EUR") && content.contains("Sold out"),
        "{content}"
    );
    assert!(updates[0]["object"]["updated"].as_str() > note["updated"].as_str());

    // Delete on withdrawal; the id then serves a Tombstone with 410.
    node.delete(&format!("/api/v1/listings/{id}"), Some(&ana.token))
        .await;
    node.deliver_pending().await;
    let deletes = peer.received_of("Delete");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["object"]["type"], "Tombstone");
    let gone = node
        .http
        .get(listing["url"].as_str().unwrap())
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);

    // Undo: no more deliveries.
    peer.unfollow(&shop, &follow_id).await.unwrap();
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(peer.received_of("Create").len(), 1);
    node.shutdown().await;
}

#[tokio::test]
async fn a_shop_that_approves_followers_answers_requests_by_hand() {
    let node = TestNode::spawn().await;
    let peer = Peer::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let patched = node
        .patch_json(
            "/api/v1/shops/pottery",
            Some(&ana.token),
            &json!({"manually_approves_followers": true}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let shop = peer
        .resolve(&format!("pottery@{}", node.domain))
        .await
        .unwrap();
    assert_eq!(shop.0.rest["manuallyApprovesFollowers"], true);

    let follow_id = peer.follow(&shop).await.unwrap();
    assert!(
        peer.received_of("Accept").is_empty(),
        "nothing until the owner decides"
    );
    let requests: Value = node
        .get("/api/v1/shops/pottery/followers", Some(&ana.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(requests["total"], 1);
    let request = &requests["items"][0];
    assert_eq!(request["state"], "pending");
    assert_eq!(request["actor"], peer.alice_id().as_str());
    assert_eq!(request["name"], "alice Peer", "remote HTML is stripped");

    // Strangers neither see nor decide.
    let bea = node.member("bea").await;
    assert_eq!(
        node.get("/api/v1/shops/pottery/followers", Some(&bea.token))
            .await
            .status(),
        403
    );
    let path = format!("/api/v1/shops/pottery/followers/{}/approve", request["id"]);
    assert_eq!(
        node.post_json(&path, Some(&bea.token), &Value::Null)
            .await
            .status(),
        403
    );
    assert!(peer.received_of("Accept").is_empty());

    assert_eq!(
        node.post_json(&path, Some(&ana.token), &Value::Null)
            .await
            .status(),
        204
    );
    let accepts = peer.received_of("Accept");
    assert_eq!(accepts.len(), 1);
    assert_eq!(accepts[0]["object"]["id"], follow_id.as_str());
    let requests: Value = node
        .get("/api/v1/shops/pottery/followers", Some(&ana.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(requests["items"][0]["state"], "accepted");

    // A second request, rejected: the follower's server hears so and nothing is kept.
    peer.unfollow(&shop, &follow_id).await.unwrap();
    peer.follow(&shop).await.unwrap();
    let requests: Value = node
        .get("/api/v1/shops/pottery/followers", Some(&ana.token))
        .await
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/shops/pottery/followers/{}/reject",
        requests["items"][0]["id"]
    );
    assert_eq!(
        node.post_json(&path, Some(&ana.token), &Value::Null)
            .await
            .status(),
        204
    );
    assert_eq!(peer.received_of("Reject").len(), 1);
    let requests: Value = node
        .get("/api/v1/shops/pottery/followers", Some(&ana.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(requests["total"], 0);
    node.shutdown().await;
}
