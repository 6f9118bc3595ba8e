//! Image decoding is bounded per node: however many maximum-size uploads arrive at once, only
//! `[media] decodes_at_once` are decoded at a time, so the node's peak memory is that of so
//! many decodes, not of as many as clients send.

use futures::future::join_all;
use harness::{gradient_jpeg, procfs::peak_rss_kb};

use crate::{BIN, LOG};

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_maximum_size_uploads_take_the_memory_of_one_decode() {
    let site = harness::process::Site::new(BIN)
        .await
        .with_env("TIANGUIS__MEDIA__DECODES_AT_ONCE", "1")
        // Uploads wait their turn: on a loaded test machine the fourth may wait over a minute.
        .with_env("TIANGUIS__SERVER__REQUEST_TIMEOUT_SECS", "600");
    site.shop("ana", "pottery");
    let node = site.serve(LOG).await;
    let token = node.login("ana", harness::PASSWORD).await;
    let (first, second) = (listing(&node, &token).await, listing(&node, &token).await);
    // 7296×5472: 39.9 megapixels, just under the default budget of 40.
    let photo = gradient_jpeg(7296, 5472);
    let pid = node.pid();

    let idle = peak_rss_kb(pid);
    let one = node.upload_image(&token, &first, photo.clone()).await;
    assert_eq!(one.status(), 201, "{}", one.text().await.unwrap());
    let after_one = peak_rss_kb(pid);
    let decode = after_one.saturating_sub(idle);
    assert!(
        decode > 100_000,
        "one decode of 40 megapixels should show: {idle} kB idle, {after_one} kB after"
    );

    let uploads = (0..4).map(|_| node.upload_image(&token, &second, photo.clone()));
    for response in join_all(uploads).await {
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let after_four = peak_rss_kb(pid);
    assert!(
        after_four < after_one + decode / 2,
        "four at once took {} kB above idle, one took {decode} kB",
        after_four - idle
    );
    drop(node);
    site.remove().await;
}

async fn listing(node: &harness::process::NodeProcess, token: &str) -> String {
    let listing = node
        .create_listing(token, "pottery", &harness::sample_listing())
        .await;
    listing["id"].as_str().unwrap().to_string()
}
