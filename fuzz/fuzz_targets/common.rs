//! One node per fuzzing process: a real node of the test harness (in-memory SQLite, real HTTP
//! on loopback), started once and kept for every input.

use std::sync::OnceLock;

use harness::TestNode;
use tokio::runtime::Runtime;

pub struct Fixture {
    pub runtime: Runtime,
    pub node: TestNode,
    /// A shop with a listing in stock, for Offers to name.
    pub proposal: String,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// The node, started at the first call.
pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let (node, proposal) = runtime.block_on(async {
            let node = TestNode::spawn().await;
            let bea = node.member("bea").await;
            node.create_shop(&bea, "pottery", "Bea's Pottery").await;
            let mut listing = harness::sample_listing();
            listing["stock"] = serde_json::json!(1_000_000);
            let created: serde_json::Value = node
                .create_listing(&bea, "pottery", &listing)
                .await
                .json()
                .await
                .expect("a listing");
            let id = created["id"].as_str().expect("a listing id").to_string();
            let proposal = format!("{}/listings/{id}/proposal", node.base);
            (node, proposal)
        });
        Fixture {
            runtime,
            node,
            proposal,
        }
    })
}
