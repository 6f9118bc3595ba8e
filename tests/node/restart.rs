use harness::{Storage, TestNode, png};
use serde_json::Value;

#[tokio::test]
async fn data_and_images_survive_a_restart() {
    let node = TestNode::spawn_with(Storage::Durable, |_| {}).await;
    let ana = node.member("ana").await;
    let listing = node.shop_with_listing(&ana, "pottery").await;
    let id = listing["id"].as_str().unwrap().to_string();
    let image = node
        .upload_image(&ana, &id, png(64, 48), Some("A mug"))
        .await;
    assert_eq!(image.status(), 201);
    let image: Value = image.json().await.unwrap();

    let node = node.restart().await;
    let after: Value = node.listing(&id).await.json().await.unwrap();
    assert_eq!(after["title"], listing["title"]);
    assert_eq!(after["price"], "28.00");
    assert_eq!(after["currency"], "EUR");
    assert_eq!(after["stock"], 3);
    assert_eq!(after["tags"], listing["tags"]);
    assert_eq!(after["images"][0]["alt"], "A mug");
    // Media files are on disk, served by the restarted node.
    let path = image["url"]
        .as_str()
        .unwrap()
        .split_once("/media/")
        .unwrap()
        .1
        .to_string();
    let served = node.get(&format!("/media/{path}"), None).await;
    assert_eq!(served.status(), 200);
    // The token issued before the restart still works.
    assert_eq!(node.get("/api/v1/me", Some(&ana.token)).await.status(), 200);
    node.shutdown().await;
}
