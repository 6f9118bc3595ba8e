//! The catalog feed peers copy a node's catalog through: linked from the instance actor,
//! paged by cursor, every listing once (as its FEP-0837 Proposal), and afterwards only what
//! changed.

use harness::{TestNode, sample_listing};
use serde_json::{Value, json};

/// Follow `next` links from `url` to the end; returns the items and the last page's id.
async fn page_through(node: &TestNode, url: &str) -> (Vec<Value>, String, usize) {
    let (mut items, mut url, mut pages) = (Vec::new(), url.to_string(), 0);
    loop {
        let (status, page) = node.get_ap(&url).await;
        assert_eq!(status, 200, "{url}: {page}");
        assert_eq!(page["type"], "OrderedCollectionPage");
        assert_eq!(page["partOf"], node.url("/catalog"));
        pages += 1;
        items.extend(page["orderedItems"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&node.url("/catalog?after=")), "{next}");
                url = next.to_string();
            }
            None => return (items, url, pages),
        }
    }
}

#[tokio::test]
async fn the_catalog_feed_pages_every_listing_once_then_only_what_changed() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let mut ids = Vec::new();
    for n in 0..205 {
        let mut listing = sample_listing();
        listing["title"] = json!(format!("Bowl {n}"));
        let created: Value = node
            .create_listing(&ana, "pottery", &listing)
            .await
            .json()
            .await
            .unwrap();
        ids.push(created["id"].as_str().unwrap().to_string());
    }

    // The instance actor links the feed; the root counts it and points at the first page.
    let (_, actor) = node.get_ap(&node.url("/actor")).await;
    assert_eq!(actor["streams"], json!([node.url("/catalog")]), "{actor}");
    let (status, root) = node.get_ap(&node.url("/catalog")).await;
    assert_eq!(status, 200);
    assert_eq!(root["type"], "OrderedCollection");
    assert_eq!(root["totalItems"], 205);
    let first = root["first"].as_str().unwrap().to_string();

    let (items, end, pages) = page_through(&node, &first).await;
    assert_eq!(pages, 4, "100 + 100 + 5, then an empty page without `next`");
    let seen: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (205, 205), "each listing once");
    assert_eq!(items[0]["type"], "Proposal", "{}", items[0]);
    assert!(
        seen[0].ends_with(&format!("{}/proposal", ids[0])),
        "oldest change first: {}",
        seen[0]
    );
    assert!(seen[204].ends_with(&format!("{}/proposal", ids[204])));

    // Nothing changed: the end is still empty.
    let (again, _, _) = page_through(&node, &end).await;
    assert!(again.is_empty());

    // One listing is repriced and one withdrawn: asked again, the end has exactly those two,
    // the withdrawn one as a Tombstone.
    let updated = node
        .update_listing(&ana, &ids[3], &json!({"price": "99999.99"}))
        .await;
    assert_eq!(updated.status(), 200);
    let withdrawn = node
        .delete(&format!("/api/v1/listings/{}", ids[7]), Some(&ana.token))
        .await;
    assert_eq!(withdrawn.status(), 200);
    let (changed, _, _) = page_through(&node, &end).await;
    let changed_ids: Vec<&str> = changed.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(changed_ids.len(), 2, "{changed_ids:?}");
    assert!(
        changed_ids[0].ends_with(&format!("{}/proposal", ids[3]))
            && changed_ids[1].ends_with(&format!("{}/proposal", ids[7]))
    );
    assert!(
        changed[0].to_string().contains("99999.99"),
        "{}",
        changed[0]
    );
    assert_eq!(changed[1]["type"], "Tombstone", "{}", changed[1]);
    assert_eq!(changed[1]["formerType"], "Proposal", "{}", changed[1]);
    let (_, root) = node.get_ap(&node.url("/catalog")).await;
    assert_eq!(
        root["totalItems"], 205,
        "withdrawn listings stay in the feed as tombstones"
    );

    // A cursor that is not one is refused.
    for bad in ["yesterday", "12.", "x.abc", "1.a b"] {
        let (status, body) = node
            .get_ap(&node.url(&format!("/catalog?after={bad}")))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    node.shutdown().await;
}
