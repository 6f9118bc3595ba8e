//! Our own documents, fetched as Mastodon fetches them, checked against the rules in
//! research/MASTODON-REQUIREMENTS.md (what Mastodon drops or degrades, with its source files).

use harness::{TestNode, png, sample_listing};
use serde_json::Value;

const MASTODON_ACCEPT: &str = r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams", application/activity+json, text/html;q=0.1"#;

async fn fetch(node: &TestNode, url: &str) -> (u16, String, Value) {
    let response = node
        .http
        .get(url)
        .header("accept", MASTODON_ACCEPT)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (
        status,
        content_type,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn has_as_context(doc: &Value) -> bool {
    doc["@context"].as_array().is_some_and(|c| {
        c.iter()
            .any(|v| v == "https://www.w3.org/ns/activitystreams")
    })
}

#[tokio::test]
async fn webfinger_actor_note_and_proposal_follow_mastodons_rules() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Ana's Pottery").await;
    let listing: Value = node
        .create_listing(&ana, "pottery", &sample_listing())
        .await
        .json()
        .await
        .unwrap();
    let id = listing["id"].as_str().unwrap();
    for n in 0..5 {
        let r = node
            .upload_image(&ana, id, png(40 + n, 30), Some(&format!("photo {n}")))
            .await;
        assert!(r.status() == 201 || r.status() == 409);
    }

    // WebFinger, with the resource unencoded as Mastodon sends it, and encoded.
    for query in [
        format!("acct:pottery@{}", node.domain),
        format!("acct%3Apottery%40{}", node.domain),
    ] {
        let wf = node
            .http
            .get(node.url(&format!("/.well-known/webfinger?resource={query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(wf.status(), 200);
        assert!(
            wf.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/jrd+json")
        );
        let wf: Value = wf.json().await.unwrap();
        assert_eq!(wf["subject"], format!("acct:pottery@{}", node.domain));
        let selfs: Vec<&Value> = wf["links"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["rel"] == "self")
            .collect();
        assert_eq!(selfs.len(), 1);
        assert_eq!(selfs[0]["type"], "application/activity+json");
        assert_eq!(selfs[0]["href"], node.url("/shops/pottery"));
    }
    let missing = node
        .http
        .get(node.url(&format!(
            "/.well-known/webfinger?resource=acct:nobody@{}",
            node.domain
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // The actor.
    let actor_url = node.url("/shops/pottery");
    let (status, content_type, actor) = fetch(&node, &actor_url).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/activity+json");
    assert!(has_as_context(&actor));
    assert_eq!(actor["id"], actor_url, "id equals the fetched URL");
    assert!(
        ["Person", "Organization", "Service", "Application", "Group"]
            .contains(&actor["type"].as_str().unwrap())
    );
    assert_eq!(actor["preferredUsername"], "pottery");
    for key in ["inbox", "outbox", "followers", "following"] {
        assert!(actor[key].as_str().unwrap().starts_with("http"), "{key}");
    }
    assert!(actor["endpoints"]["sharedInbox"].is_string());
    assert_eq!(actor["publicKey"]["owner"], actor_url);
    assert!(
        actor["publicKey"]["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{actor_url}#"))
    );
    assert!(
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let url = url::Url::parse(actor["url"].as_str().unwrap()).unwrap();
    assert_eq!(
        url.host_str(),
        url::Url::parse(&actor_url).unwrap().host_str(),
        "url on the same host"
    );
    assert!(actor["attachment"].is_array());
    assert!(
        actor["attachment"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["type"] == "PropertyValue")
    );
    assert!(actor["discoverable"].is_boolean() && actor["manuallyApprovesFollowers"].is_boolean());

    // Collections report totalItems and a first page (else Mastodon treats them as hidden).
    for collection in ["outbox", "followers"] {
        let (status, _, doc) = fetch(&node, actor[collection].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert!(
            doc["totalItems"].is_u64() && doc["first"].is_string(),
            "{collection}: {doc}"
        );
    }

    // The Note.
    let (status, content_type, note) = fetch(&node, listing["url"].as_str().unwrap()).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/activity+json")
    );
    assert!(has_as_context(&note));
    assert_eq!(
        note["type"], "Note",
        "Mastodon shows only Note and Question in full"
    );
    assert_eq!(note["id"], listing["url"]);
    assert!(
        note.get("summary").is_none(),
        "a Note's summary is a content warning"
    );
    assert_eq!(note["attributedTo"], actor_url);
    let content = note["content"].as_str().unwrap();
    assert!(
        content.contains("Blue glazed mug")
            && content.contains("28.00 EUR")
            && content.contains("3 in stock")
    );
    assert!(
        note["to"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "https://www.w3.org/ns/activitystreams#Public")
    );
    assert!(note["updated"].is_string(), "edits need `updated`");
    let images: Vec<&Value> = note["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "Image")
        .collect();
    assert_eq!(images.len(), 4, "at most 4 media attachments");
    for image in &images {
        assert!(image["mediaType"].as_str().unwrap().starts_with("image/"));
        assert!(
            image["name"].as_str().unwrap().starts_with("photo"),
            "alt text in name"
        );
    }
    let link = note["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "Link")
        .unwrap();
    assert_eq!(
        link["rel"],
        serde_json::json!(["payment", "https://w3id.org/valueflows/ont/vf#Proposal"])
    );
    let tags: Vec<&str> = note["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["#pottery", "#mug"]);

    // Our own output reads back into our wire types unchanged.
    for (doc, parsed) in [
        (
            &actor,
            serde_json::to_value(
                serde_json::from_value::<federation::protocol::actor::ShopActor>(actor.clone())
                    .unwrap(),
            ),
        ),
        (
            &note,
            serde_json::to_value(
                serde_json::from_value::<federation::protocol::listing::ListingNote>(note.clone())
                    .unwrap(),
            ),
        ),
    ] {
        let mut doc = doc.clone();
        doc.as_object_mut().unwrap().remove("@context");
        assert_eq!(parsed.unwrap(), doc);
    }

    // The Proposal behind the payment link: the same price and stock, structured.
    let (status, _, proposal) = fetch(&node, link["href"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(proposal["type"], "Proposal");
    assert_eq!(proposal["purpose"], "offer");
    assert_eq!(
        proposal["publishes"]["availableQuantity"]["hasNumericalValue"],
        "3"
    );
    assert_eq!(
        proposal["reciprocal"]["resourceQuantity"]["hasNumericalValue"],
        "28.00"
    );
    assert_eq!(
        proposal["reciprocal"]["resourceConformsTo"],
        "urn:iso:std:iso:4217:EUR"
    );
    assert_eq!(proposal["unitBased"], true);
    node.shutdown().await;
}

#[tokio::test]
async fn one_url_serves_html_to_browsers_and_json_ld_to_activitypub_clients() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let listing: Value = node
        .create_listing(&ana, "pottery", &sample_listing())
        .await
        .json()
        .await
        .unwrap();
    for url in [
        node.url("/shops/pottery"),
        listing["url"].as_str().unwrap().to_string(),
    ] {
        let html = node
            .http
            .get(&url)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        assert_eq!(html.headers()["vary"], "Accept");
        assert!(
            html.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = html.text().await.unwrap();
        assert!(
            body.contains(&format!(
                r#"<link rel="alternate" type="application/activity+json" href="{url}">"#
            )),
            "{body}"
        );
        for accept in [
            "application/activity+json",
            r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#,
        ] {
            let json = node
                .http
                .get(&url)
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(
                json.headers()["content-type"],
                "application/activity+json",
                "{url} {accept}"
            );
            assert_eq!(json.headers()["vary"], "Accept");
        }
    }
    let nodeinfo: Value = node
        .get("/.well-known/nodeinfo", None)
        .await
        .json()
        .await
        .unwrap();
    let href = nodeinfo["links"][0]["href"].as_str().unwrap();
    let doc: Value = node
        .http
        .get(href)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["software"]["name"], "tianguis");
    assert_eq!(doc["protocols"], serde_json::json!(["activitypub"]));
    assert_eq!(doc["usage"]["users"]["total"], 1);
    assert_eq!(doc["usage"]["localPosts"], 1);
    let host_meta = node
        .get("/.well-known/host-meta", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(host_meta.contains("lrdd"));
    let (_, _, instance) = fetch(&node, &node.url("/actor")).await;
    assert_eq!(instance["type"], "Application");
    node.shutdown().await;
}

#[tokio::test]
async fn the_outbox_pages_newest_first() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let mut urls = Vec::new();
    for n in 0..22 {
        let mut body = sample_listing();
        body["title"] = serde_json::json!(format!("Mug {n}"));
        let listing: Value = node
            .create_listing(&ana, "pottery", &body)
            .await
            .json()
            .await
            .unwrap();
        urls.push(listing["url"].as_str().unwrap().to_string());
    }
    let (status, content_type, root) = fetch(&node, &node.url("/shops/pottery/outbox")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/activity+json")
    );
    assert_eq!(root["type"], "OrderedCollection");
    assert_eq!(root["totalItems"], 22);
    let (_, _, first) = fetch(&node, root["first"].as_str().unwrap()).await;
    assert_eq!(first["type"], "OrderedCollectionPage");
    assert_eq!(first["partOf"], root["id"]);
    let items = first["orderedItems"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert!(
        items
            .iter()
            .all(|i| i["type"] == "Create" && i["object"]["type"] == "Note")
    );
    assert_eq!(items[0]["object"]["id"], urls[21].as_str(), "newest first");
    let (_, _, second) = fetch(&node, first["next"].as_str().unwrap()).await;
    let items = second["orderedItems"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["object"]["id"], urls[0].as_str());
    assert!(second.get("next").is_none() && second["prev"] == first["id"]);
    node.shutdown().await;
}
