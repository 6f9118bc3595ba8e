//! Thumbnails of peers' listing images: fetched from the listing's own node only, made small,
//! served by us; failures tried three times, then given up; a peer's update that lands while
//! the node is fetching is kept.

use chrono::{DateTime, Duration, Utc};
use federation::media::cache_thumbnails;
use harness::{Storage, TestNode, image_host::ImageHost, jpeg, png};
use market::{
    entities::{catalog_entry, domain_block},
    service::catalog::{self, CatalogImage, RemoteListing, Stored},
};
use sea_orm::{ActiveModelTrait, Set};

fn image(url: String, alt: &str) -> CatalogImage {
    CatalogImage {
        url,
        media_type: "image/png".into(),
        alt: alt.into(),
        width: 1200,
        height: 600,
        thumbnail: None,
        local_thumbnail: None,
        thumbnail_attempts: 0,
    }
}

/// Listing `n` of the shop `pottery` on `peer`, as its Proposal would arrive.
fn listing(
    peer: &ImageHost,
    n: u32,
    images: Vec<CatalogImage>,
    updated: DateTime<Utc>,
) -> RemoteListing {
    RemoteListing {
        object_id: peer.url(&format!("/listings/{n}/proposal")),
        url: peer.url(&format!("/listings/{n}")),
        origin: peer.domain.clone(),
        shop_id: peer.url("/shops/pottery"),
        shop_name: "Pottery".into(),
        shop_handle: "pottery".into(),
        title: format!("Bowl {n}"),
        description_html: "<p>Stoneware</p>".into(),
        tags: vec!["pottery".into()],
        price: "12.00".into(),
        currency: "EUR".into(),
        stock: 2,
        images,
        published: updated,
        updated,
    }
}

async fn store(node: &TestNode, item: &RemoteListing) -> catalog_entry::Model {
    catalog::upsert_remote(&node.ctx, item).await.unwrap();
    row(node, item).await
}

async fn row(node: &TestNode, item: &RemoteListing) -> catalog_entry::Model {
    catalog::find_by_object(&node.ctx, &item.object_id)
        .await
        .unwrap()
        .unwrap()
}

fn images_of(row: &catalog_entry::Model) -> Vec<CatalogImage> {
    serde_json::from_str(&row.images).unwrap()
}

async fn pass(node: &TestNode) -> usize {
    cache_thumbnails(&node.federation.to_request_data(), 50)
        .await
        .unwrap()
}

/// The files under the node's `media/remote`.
fn remote_files(node: &TestNode) -> usize {
    std::fs::read_dir(node.config.media.dir.join("remote")).map_or(0, |d| d.count())
}

#[tokio::test]
async fn thumbnails_are_made_from_the_listings_own_node_and_served() {
    let node = TestNode::spawn().await;
    let peer = ImageHost::spawn().await;
    let elsewhere = ImageHost::spawn().await;
    peer.serve("/media/wide.png", 200, "image/png", png(1200, 600));
    peer.serve("/media/tall.jpg", 200, "image/jpeg", jpeg(300, 900));
    elsewhere.serve("/tracker.png", 200, "image/png", png(64, 64));
    let item = listing(
        &peer,
        1,
        vec![
            image(peer.url("/media/wide.png"), "A wide bowl"),
            image(peer.url("/media/tall.jpg"), "A tall vase"),
            image(elsewhere.url("/tracker.png"), "Somewhere else"),
        ],
        Utc::now(),
    );
    let entry = store(&node, &item).await;
    assert!(entry.thumbs_pending);
    let view = catalog::get_entry(&node.ctx, entry.id).await.unwrap();
    assert!(view.images.iter().all(|i| i.thumbnail_url.is_none()));

    assert_eq!(pass(&node).await, 2);
    assert_eq!(elsewhere.hits("/tracker.png"), 0, "only the listing's node");
    assert_eq!(
        (peer.hits("/media/wide.png"), peer.hits("/media/tall.jpg")),
        (1, 1)
    );

    let view = catalog::get_entry(&node.ctx, entry.id).await.unwrap();
    assert_eq!(view.images[1].alt, "A tall vase");
    assert_eq!(view.images[2].thumbnail_url, None);
    for (image, size) in view.images[..2].iter().zip([(480, 240), (160, 480)]) {
        let url = image.thumbnail_url.clone().expect("a thumbnail");
        let name = url
            .strip_prefix(&node.url("/media/"))
            .unwrap_or_else(|| panic!("{url} is ours"));
        assert!(name.starts_with("remote/"), "{name}");
        let file = image::open(node.config.media.dir.join(name)).unwrap();
        assert_eq!((file.width(), file.height()), size, "{url}");

        let response = node.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        let served = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
        assert_eq!((served.width(), served.height()), size);
    }
    let entry = row(&node, &item).await;
    assert!(!entry.thumbs_pending, "nothing left to try");
    assert_eq!(
        images_of(&entry)[2].thumbnail_attempts,
        market::service::images::MAX_THUMBNAIL_ATTEMPTS,
        "another host's image is given up at once"
    );

    // Nothing is fetched again.
    assert_eq!(pass(&node).await, 0);
    assert_eq!(peer.hits("/media/wide.png"), 1);
    assert_eq!(remote_files(&node), 2);
    node.shutdown().await;
}

#[tokio::test]
async fn a_failing_image_is_tried_three_times_then_given_up() {
    let node = TestNode::spawn_with(Storage::Default, |config| {
        config.media.max_image_bytes = 256 * 1024;
    })
    .await;
    let peer = ImageHost::spawn().await;
    peer.serve("/good.png", 200, "image/png", png(600, 600));
    peer.serve(
        "/page.png",
        200,
        "text/html",
        b"<html>a page</html>".to_vec(),
    );
    peer.serve(
        "/broken.png",
        200,
        "image/png",
        b"not a PNG at all".to_vec(),
    );
    peer.serve("/huge.png", 200, "image/png", vec![0u8; 300 * 1024]);
    peer.serve_endless("/endless.png");
    let failing = [
        "/missing.png",
        "/page.png",
        "/broken.png",
        "/huge.png",
        "/endless.png",
    ];
    let mut images = vec![image(peer.url("/good.png"), "Good")];
    images.extend(failing.iter().map(|p| image(peer.url(p), "Bad")));
    let item = listing(&peer, 2, images, Utc::now());
    store(&node, &item).await;

    // One good image among five bad ones still gets its thumbnail.
    assert_eq!(pass(&node).await, 1);
    for (round, made) in [(2, 0), (3, 0)] {
        let entry = row(&node, &item).await;
        assert!(entry.thumbs_pending, "before round {round}");
        let attempts: Vec<u8> = images_of(&entry)[1..]
            .iter()
            .map(|i| i.thumbnail_attempts)
            .collect();
        assert_eq!(attempts, vec![round - 1; 5], "before round {round}");
        assert_eq!(pass(&node).await, made);
    }
    let entry = row(&node, &item).await;
    assert!(!entry.thumbs_pending, "given up");
    let stored = images_of(&entry);
    assert!(stored[0].thumbnail.is_some());
    assert!(
        stored[1..]
            .iter()
            .all(|i| i.thumbnail.is_none() && i.thumbnail_attempts == 3)
    );

    assert_eq!(pass(&node).await, 0);
    for path in failing {
        assert_eq!(peer.hits(path), 3, "{path}");
    }
    assert_eq!(peer.hits("/good.png"), 1);
    // Reading stopped at the limit: three attempts at an endless body took a few MiB of
    // socket buffers at most (a reader that went on for its 15 s would take gigabytes).
    assert!(
        peer.endless_bytes_sent() < 64 << 20,
        "{} bytes sent",
        peer.endless_bytes_sent()
    );
    assert_eq!(remote_files(&node), 1);
    node.shutdown().await;
}

#[tokio::test]
async fn a_peer_update_during_caching_is_not_overwritten() {
    let node = TestNode::spawn().await;
    let peer = ImageHost::spawn().await;
    peer.serve("/a.png", 200, "image/png", png(800, 800));
    peer.serve("/b.png", 200, "image/png", png(900, 300));
    let first = Utc::now() - Duration::minutes(5);
    let item = listing(
        &peer,
        3,
        vec![image(peer.url("/a.png"), "First alt")],
        first,
    );
    store(&node, &item).await;

    let mut held = peer.hold("/a.png");
    let data = node.federation.to_request_data();
    let caching = tokio::spawn(async move { cache_thumbnails(&data, 50).await.unwrap() });
    held.arrived().await;
    // The peer edits the listing while the node waits for the image.
    let newer = listing(
        &peer,
        3,
        vec![
            image(peer.url("/a.png"), "Better alt"),
            image(peer.url("/b.png"), "A second photo"),
        ],
        Utc::now(),
    );
    assert_eq!(
        catalog::upsert_remote(&node.ctx, &newer).await.unwrap(),
        Stored::Updated
    );
    held.release();
    assert_eq!(caching.await.unwrap(), 0, "the thumbnail was not stored");

    let entry = row(&node, &item).await;
    assert_eq!(
        images_of(&entry),
        newer.images,
        "the peer's update is intact"
    );
    assert!(entry.thumbs_pending);
    assert_eq!(remote_files(&node), 0, "the unused thumbnail was removed");

    // The next pass makes both, on top of the update.
    assert_eq!(pass(&node).await, 2);
    let view = catalog::get_entry(&node.ctx, entry.id).await.unwrap();
    assert_eq!(view.images[0].alt, "Better alt");
    assert!(view.images.iter().all(|i| i.thumbnail_url.is_some()));
    assert!(!row(&node, &item).await.thumbs_pending);
    assert_eq!(remote_files(&node), 2);
    node.shutdown().await;
}

#[tokio::test]
async fn nothing_is_fetched_from_a_blocked_domain() {
    let node = TestNode::spawn().await;
    let peer = ImageHost::spawn().await;
    peer.serve("/a.png", 200, "image/png", png(100, 100));
    let item = listing(
        &peer,
        4,
        vec![image(peer.url("/a.png"), "A bowl")],
        Utc::now(),
    );
    store(&node, &item).await;
    // Blocked just after the entry was stored (`domain block` also forgets the entries; the
    // thumbnailer must not fetch from the domain in between).
    domain_block::ActiveModel {
        domain: Set(peer.domain.clone()),
        reason: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&node.ctx.db)
    .await
    .unwrap();

    assert_eq!(pass(&node).await, 0);
    assert_eq!(peer.hits("/a.png"), 0);
    let entry = row(&node, &item).await;
    assert!(images_of(&entry)[0].thumbnail.is_none());
    node.shutdown().await;
}
