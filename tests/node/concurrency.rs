use futures::future::join_all;
use harness::{Storage, TestNode, png, sample_listing};
use market::service::{
    listings::{self, ListingDraft},
    shops::Authority,
};
use serde_json::{Value, json};

/// Many writers at once, through the API and through a second connection pool on the same
/// database (as the CLI is, while the server runs): every write succeeds, none sees
/// "database is locked", and the counts add up.
#[tokio::test]
async fn concurrent_writers_all_succeed() {
    let node = TestNode::spawn_with(Storage::Durable, |_| {}).await;
    let members = join_all(["ana", "bea", "cai", "dru"].map(|name| node.member(name))).await;
    for (i, member) in members.iter().enumerate() {
        assert_eq!(
            node.create_shop(member, &format!("shop{i}"), "Shop")
                .await
                .status(),
            201
        );
    }
    // A second pool on the same database: the "CLI process".
    let other = market::Context::new(
        market::db::connect(&node.config.database.url)
            .await
            .unwrap(),
        (*node.ctx.instance).clone(),
    );

    let api_writes = (0..40).map(|n| {
        let (node, member) = (&node, &members[n % members.len()]);
        async move {
            let shop = format!("shop{}", n % 4);
            let created = node.create_listing(member, &shop, &sample_listing()).await;
            assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
            let id = created.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            let patched = node
                .update_listing(member, &id, &json!({"stock": n, "price": "9.99"}))
                .await;
            assert_eq!(patched.status(), 200, "{}", patched.text().await.unwrap());
            if n % 8 == 0 {
                let image = node
                    .upload_image(member, &id, png(32, 32), Some("photo"))
                    .await;
                assert_eq!(image.status(), 201, "{}", image.text().await.unwrap());
            }
        }
    });
    let cli_writes = (0..20).map(|n| {
        let other = &other;
        async move {
            let draft = ListingDraft::parse("From the CLI", None, "1.00", "EUR", 1, &[]).unwrap();
            listings::create_listing(
                other,
                Authority::Operator,
                &format!("shop{}", n % 4),
                draft,
                vec![],
            )
            .await
            .unwrap();
        }
    });
    let api = join_all(api_writes);
    let cli = join_all(cli_writes);
    tokio::join!(api, cli);

    let all: Value = node
        .get("/api/v1/listings?per_page=100", None)
        .await
        .json()
        .await
        .unwrap();
    // Listings patched to stock 0 are sold out but still listed.
    assert_eq!(all["total"], 60);
    let with_images = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["images"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(with_images, 5);
    node.shutdown().await;
}
