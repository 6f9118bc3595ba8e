//! Peer co-op nodes, three real nodes in one test: instance follows instance, backfill by
//! paging the catalog, live Create/Update/Delete, reconciliation of a lost delivery, resume of an
//! interrupted copy, allowlist mode, blocking, and `next` links to another origin.

use std::{collections::HashMap, future::Future, time::Duration};

use federation::peering;
use harness::{Member, Storage, TestNode, png, sample_listing};
use market::{
    entities::{catalog_entry, delivery, peer},
    service::{catalog, peers},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

/// Wait (at most 20 s) until `check` returns true.
async fn until<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn peer_row(node: &TestNode, domain: &str) -> Option<peer::Model> {
    peers::find(&node.ctx, domain).await.unwrap()
}

/// `a` adds `b` as a peer and waits until the first copy of b's catalog is done.
async fn peer_up(a: &TestNode, b: &TestNode) {
    let added = peering::add(&a.federation.to_request_data(), &b.base)
        .await
        .unwrap();
    assert!(added.follow_sent);
    until("the peer's catalog is copied", || async {
        peer_row(a, &b.domain)
            .await
            .is_some_and(|p| p.outgoing == "accepted" && p.backfilled)
    })
    .await;
}

/// Live (not withdrawn) entries on `node` from `origin`, by title.
async fn entries_from(node: &TestNode, origin: &str) -> HashMap<String, catalog_entry::Model> {
    catalog_entry::Entity::find()
        .filter(catalog_entry::Column::Origin.eq(origin))
        .filter(catalog_entry::Column::Deleted.eq(false))
        .all(&node.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.title.clone(), e))
        .collect()
}

async fn count_from(node: &TestNode, origin: &str) -> u64 {
    catalog::count_by_origin(&node.ctx)
        .await
        .unwrap()
        .get(origin)
        .copied()
        .unwrap_or(0)
}

async fn listings(node: &TestNode, member: &Member, shop: &str, n: usize, prefix: &str) {
    for i in 0..n {
        let mut body = sample_listing();
        body["title"] = json!(format!("{prefix} {i}"));
        let response = node.create_listing(member, shop, &body).await;
        assert_eq!(response.status(), 201);
    }
}

async fn create(node: &TestNode, member: &Member, shop: &str, body: Value) -> Value {
    let response = node.create_listing(member, shop, &body).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn three_nodes_copy_each_others_catalogs_and_stay_in_step() {
    let (a, b, c) = tokio::join!(TestNode::spawn(), TestNode::spawn(), TestNode::spawn());
    let bea = b.member("bea").await;
    b.create_shop(&bea, "weaving", "Bea's Weaving").await;
    listings(&b, &bea, "weaving", 150, "Scarf").await;
    let cid = c.member("cid").await;
    c.create_shop(&cid, "honey", "Cid's Honey").await;
    listings(&c, &cid, "honey", 3, "Jar").await;

    // A peers with B and C: each backfills, B's catalog over two pages and an empty one.
    peer_up(&a, &b).await;
    peer_up(&a, &c).await;
    assert_eq!(count_from(&a, &b.domain).await, 150);
    assert_eq!(count_from(&a, &c.domain).await, 3);
    let b_row = peer_row(&a, &b.domain).await.unwrap();
    assert_eq!(b_row.pages_read, 3, "100 + 50 + the empty end page");
    assert!(b_row.cursor.unwrap().contains("/catalog?after="));
    // B's and C's side: A follows their instance actors.
    assert_eq!(peer_row(&b, &a.domain).await.unwrap().incoming, "accepted");
    assert_eq!(peer_row(&c, &a.domain).await.unwrap().incoming, "accepted");
    let scarf = entries_from(&a, &b.domain).await.remove("Scarf 7").unwrap();
    assert_eq!(scarf.shop_name, "Bea's Weaving");
    assert_eq!(scarf.shop_handle, "weaving");
    assert_eq!(
        (scarf.price.as_str(), scarf.currency.as_str()),
        ("28.00", "EUR")
    );

    // Live: B creates, reprices, and withdraws; A follows within the delivery.
    let fresh = create(
        &b,
        &bea,
        "weaving",
        json!({
        "title": "Poncho", "description": "Alpaca", "price": "120.00", "currency": "EUR",
        "stock": 2, "tags": ["alpaca"]}),
    )
    .await;
    let listings_b: Value = b
        .get("/api/v1/shops/weaving/listings?per_page=100", None)
        .await
        .json()
        .await
        .unwrap();
    let id_of = |title: &str| {
        listings_b["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["title"] == title)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (scarf3, scarf4) = (id_of("Scarf 103"), id_of("Scarf 104"));
    assert_eq!(
        b.update_listing(&bea, &scarf3, &json!({"price": "31.50", "stock": 0}))
            .await
            .status(),
        200
    );
    assert_eq!(
        b.delete(&format!("/api/v1/listings/{scarf4}"), Some(&bea.token))
            .await
            .status(),
        200
    );
    b.deliver_pending().await;
    let now = entries_from(&a, &b.domain).await;
    assert_eq!(now["Poncho"].price, "120.00");
    assert_eq!(now["Poncho"].url, fresh["url"].as_str().unwrap());
    assert_eq!(
        (now["Scarf 103"].price.as_str(), now["Scarf 103"].stock),
        ("31.50", 0)
    );
    assert!(!now.contains_key("Scarf 104"), "withdrawn on B, gone on A");
    assert_eq!(count_from(&a, &b.domain).await, 150);
    // C's listings are untouched by B's changes.
    assert_eq!(count_from(&a, &c.domain).await, 3);

    // A lost delivery: B changes a listing but the activity to A never arrives. A's next
    // reconciliation asks B's catalog for what changed and heals it.
    let scarf5 = id_of("Scarf 105");
    assert_eq!(
        b.update_listing(&bea, &scarf5, &json!({"title": "Scarf 105 (red)"}))
            .await
            .status(),
        200
    );
    federation::outbox::queue_events(&b.federation.to_request_data())
        .await
        .unwrap();
    let lost = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::State,
            sea_orm::sea_query::Expr::value(delivery::STATE_REFUSED),
        )
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
        .exec(&b.ctx.db)
        .await
        .unwrap();
    assert!(
        lost.rows_affected >= 1,
        "the update was queued for A, then lost"
    );
    assert!(
        !entries_from(&a, &b.domain)
            .await
            .contains_key("Scarf 105 (red)")
    );
    let synced = peering::reconcile(&a.federation.to_request_data(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(synced, 2, "both peers asked again");
    let healed = entries_from(&a, &b.domain).await;
    assert!(
        healed.contains_key("Scarf 105 (red)"),
        "reconciliation healed the lost update"
    );
    assert!(!healed.contains_key("Scarf 105"));
    assert_eq!(count_from(&a, &b.domain).await, 150);

    // Removing C: our follow is undone on C, and C's listings go.
    let removed = peering::remove(&a.federation.to_request_data(), &c.domain)
        .await
        .unwrap();
    assert_eq!(removed.listings, 3);
    assert_eq!(count_from(&a, &c.domain).await, 0);
    assert_eq!(peer_row(&c, &a.domain).await.unwrap().incoming, "none");

    // Blocking B: its listings and the peering go, and what B sends next is refused.
    let (_, purged) = market::service::domains::block(&a.ctx, &b.domain, None)
        .await
        .unwrap();
    // 150 live listings and the tombstone of the withdrawn one.
    assert_eq!((purged.listings, purged.peers), (151, 1));
    assert_eq!(count_from(&a, &b.domain).await, 0);
    create(
        &b,
        &bea,
        "weaving",
        json!({"title": "Blanket", "description": "Wool",
        "price": "80.00", "currency": "EUR", "stock": 1, "tags": []}),
    )
    .await;
    b.deliver_pending().await;
    let refused = delivery::Entity::find()
        .filter(delivery::Column::Host.eq(a.domain.clone()))
        .filter(delivery::Column::State.eq(delivery::STATE_REFUSED))
        .all(&b.ctx.db)
        .await
        .unwrap();
    assert!(
        refused
            .iter()
            .any(|d| d.last_error.as_deref().is_some_and(|e| e.contains("403"))),
        "A answered 403: {refused:?}"
    );
    assert_eq!(count_from(&a, &b.domain).await, 0);

    tokio::join!(a.shutdown(), b.shutdown(), c.shutdown());
}

#[tokio::test]
async fn a_listing_arrives_on_a_peer_exactly_as_it_was_published() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let bea = b.member("bea").await;
    b.create_shop(&bea, "ceramica", "Cerámica Bea 陶器").await;
    let awkward = [
        ("Taza pequeña 🍵", "0.10", "EUR", 1),
        ("Jarrón grande «azul»", "99999.99", "USD", 1000000),
        ("茶碗 (tea bowl)", "1500", "JPY", 7),
        ("Plato sin stock", "12.00", "KWD", 0),
    ];
    let mut ids = Vec::new();
    for (title, price, currency, stock) in awkward {
        let listing = create(
            &b,
            &bea,
            "ceramica",
            json!({
            "title": title,
            "description": "Hecho a mano — *esmalte* azul, 10 cm < 11 cm & \"sin plomo\".",
            "price": price, "currency": currency, "stock": stock,
            "tags": ["cerámica", "hecho_a_mano", "azul"]}),
        )
        .await;
        ids.push(listing["id"].as_str().unwrap().to_string());
    }
    for (n, alt) in [
        "Frente",
        "Perfil — lado izquierdo",
        "Base con sello",
        "Detalle 🔍",
    ]
    .iter()
    .enumerate()
    {
        let response = b
            .upload_image(&bea, &ids[0], png(40 + n as u32, 30), Some(alt))
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    peer_up(&a, &b).await;
    let copied = entries_from(&a, &b.domain).await;
    assert_eq!(copied.len(), 4);
    for id in &ids {
        let original: Value = b.listing(id).await.json().await.unwrap();
        let copy = copied
            .values()
            .find(|e| e.url == original["url"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{id} not copied"));
        let view = catalog::EntryView::from_row(&a.ctx, copy.clone());
        assert_eq!(view.title, original["title"].as_str().unwrap());
        assert_eq!(view.price, original["price"].as_str().unwrap());
        assert_eq!(view.currency, original["currency"].as_str().unwrap());
        assert_eq!(i64::from(view.stock), original["stock"].as_i64().unwrap());
        assert_eq!(json!(view.tags), original["tags"]);
        assert_eq!(
            view.description_html,
            original["description_html"].as_str().unwrap()
        );
        assert_eq!(view.shop.name, "Cerámica Bea 陶器");
        let images: Vec<Value> = original["images"].as_array().unwrap().clone();
        assert_eq!(view.images.len(), images.len());
        for (copy, image) in view.images.iter().zip(&images) {
            assert_eq!(copy.url, image["url"].as_str().unwrap());
            assert_eq!(copy.alt, image["alt"].as_str().unwrap());
            assert_eq!(copy.media_type, image["media_type"].as_str().unwrap());
            assert_eq!(i64::from(copy.width), image["width"].as_i64().unwrap());
            assert_eq!(i64::from(copy.height), image["height"].as_i64().unwrap());
        }
    }
    let first = copied
        .values()
        .find(|e| e.title == "Taza pequeña 🍵")
        .unwrap();
    assert_eq!(
        catalog::EntryView::from_row(&a.ctx, first.clone())
            .images
            .len(),
        4
    );
    // And back out: the copy, published again as B publishes it, is B's Proposal.
    let proposal_b = b.get_ap(&format!("{}/proposal", first.url)).await.1;
    assert_eq!(proposal_b["id"], first.object_id);
    assert_eq!(
        proposal_b["reciprocal"]["resourceQuantity"]["hasNumericalValue"],
        first.price
    );
    assert_eq!(
        proposal_b["publishes"]["availableQuantity"]["hasNumericalValue"],
        first.stock.to_string()
    );
    tokio::join!(a.shutdown(), b.shutdown());
}

#[tokio::test]
async fn an_interrupted_copy_resumes_where_it_stopped_without_duplicates() {
    let a = TestNode::spawn_with(Storage::Default, |c| c.federation.catalog_page_limit = 1).await;
    let b = TestNode::spawn().await;
    let bea = b.member("bea").await;
    b.create_shop(&bea, "weaving", "Weaving").await;
    listings(&b, &bea, "weaving", 230, "Scarf").await;

    peering::add(&a.federation.to_request_data(), &b.base)
        .await
        .unwrap();
    // The copy started on B's Accept stops after its one page.
    until("the first page is copied", || async {
        peer_row(&a, &b.domain)
            .await
            .is_some_and(|p| p.pages_read == 1 && p.sync_locked_by.is_none())
    })
    .await;
    assert_eq!(count_from(&a, &b.domain).await, 100);
    let row = peer_row(&a, &b.domain).await.unwrap();
    assert!(!row.backfilled);
    let data = a.federation.to_request_data();
    let report = peering::sync(&data, row.id, &mut |_| {}).await.unwrap();
    assert!(report.capped && report.inserted == 100, "{report:?}");
    assert_eq!(count_from(&a, &b.domain).await, 200);
    let report = peering::sync(&data, row.id, &mut |_| {}).await.unwrap();
    assert_eq!((report.inserted, report.unchanged), (30, 0), "{report:?}");
    // 30 items, then the empty end page on the next run.
    let report = peering::sync(&data, row.id, &mut |_| {}).await.unwrap();
    assert!(report.reached_end, "{report:?}");
    assert_eq!(count_from(&a, &b.domain).await, 230);
    let row = peer_row(&a, &b.domain).await.unwrap();
    assert!(row.backfilled);
    assert_eq!(row.items_read, 230, "no page was read twice");
    tokio::join!(a.shutdown(), b.shutdown());
}

#[tokio::test]
async fn allowlist_mode_refuses_an_unknown_peer_until_approved() {
    let a = TestNode::spawn_with(Storage::Default, |c| {
        c.federation.mode = server::config::FederationMode::Allowlist;
    })
    .await;
    let c = TestNode::spawn().await;
    let ana = a.member("ana").await;
    a.create_shop(&ana, "pottery", "Pottery").await;
    listings(&a, &ana, "pottery", 2, "Bowl").await;
    let cid = c.member("cid").await;
    c.create_shop(&cid, "honey", "Honey").await;
    listings(&c, &cid, "honey", 2, "Jar").await;

    // C asks; A records the request but does not accept it.
    peering::add(&c.federation.to_request_data(), &a.base)
        .await
        .unwrap();
    let request = peer_row(&a, &c.domain).await.unwrap();
    assert_eq!(
        (request.incoming.as_str(), request.approved),
        ("requested", false)
    );
    assert_eq!(peer_row(&c, &a.domain).await.unwrap().outgoing, "pending");
    assert_eq!(count_from(&c, &a.domain).await, 0);

    // Anything else from C is refused with 403.
    let shop = market::service::shops::get_shop(&c.ctx, "honey")
        .await
        .unwrap();
    let activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Create",
        "id": c.url("/activities/x1"),
        "actor": shop.ap_id,
        "object": {"type": "Note", "id": c.url("/notes/1"), "attributedTo": shop.ap_id,
                   "content": "hi"},
    });
    let status = harness::signing::SignedPost::new(
        &a.url("/inbox"),
        &activity,
        &format!("{}#main-key", shop.ap_id),
        &shop.private_key_pem,
    )
    .send(&a.http)
    .await;
    assert_eq!(status, 403, "an unapproved node is refused");

    // A's admin approves C: A accepts C's follow and follows C back; both copy.
    let approved = peering::approve(&a.federation.to_request_data(), &c.domain)
        .await
        .unwrap();
    assert!(approved.follow_sent);
    until("C copied A's catalog", || async {
        peer_row(&c, &a.domain).await.is_some_and(|p| p.backfilled)
    })
    .await;
    until("A copied C's catalog", || async {
        peer_row(&a, &c.domain).await.is_some_and(|p| p.backfilled)
    })
    .await;
    assert_eq!(count_from(&c, &a.domain).await, 2);
    assert_eq!(count_from(&a, &c.domain).await, 2);
    tokio::join!(a.shutdown(), c.shutdown());
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_not_followed() {
    use axum::{
        Router,
        extract::{Query, State},
        response::IntoResponse,
        routing::get,
    };
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    // Another origin that must never be asked.
    let hits = Arc::new(AtomicUsize::new(0));
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_port = other.local_addr().unwrap().port();
    let counted = hits.clone();
    tokio::spawn(async move {
        let app = Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { "{}" }
        });
        axum::serve(other, app).await.unwrap();
    });

    // A peer whose catalog's first page links there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://localhost:{port}");
    async fn catalog(
        State((base, other_port)): State<(String, u16)>,
        Query(q): Query<HashMap<String, String>>,
    ) -> impl IntoResponse {
        let body = match q.get("page") {
            None => json!({"@context": "https://www.w3.org/ns/activitystreams",
                "type": "OrderedCollection", "id": format!("{base}/catalog"),
                "totalItems": 1, "first": format!("{base}/catalog?page=1")}),
            Some(_) => json!({"@context": "https://www.w3.org/ns/activitystreams",
                "type": "OrderedCollectionPage", "id": format!("{base}/catalog?page=1"),
                "partOf": format!("{base}/catalog"), "totalItems": 1,
                "orderedItems": [{"type": "Tombstone", "id": format!("{base}/listings/1/proposal"),
                                  "deleted": "2026-01-01T00:00:00Z"}],
                "next": format!("http://127.0.0.1:{other_port}/catalog?page=2")}),
        };
        (
            [("content-type", "application/activity+json")],
            body.to_string(),
        )
    }
    let app = Router::new()
        .route("/catalog", get(catalog))
        .with_state((base.clone(), other_port));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let a = TestNode::spawn().await;
    let domain = format!("localhost:{port}");
    let row = peers::add(&a.ctx, &domain, &base).await.unwrap();
    peers::set_actor(
        &a.ctx,
        row.id,
        &format!("{base}/actor"),
        &format!("{base}/inbox"),
        Some(&format!("{base}/catalog")),
    )
    .await
    .unwrap();
    peers::follow_answered(&a.ctx, row.id, true).await.unwrap();
    let error = peering::sync(&a.federation.to_request_data(), row.id, &mut |_| {})
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not followed"), "{error}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the other origin was never asked"
    );
    let row = peer_row(&a, &domain).await.unwrap();
    assert!(row.last_error.unwrap().contains("outside"));
    assert!(!row.backfilled);
    assert_eq!(
        row.cursor.unwrap(),
        format!("{base}/catalog?page=1"),
        "stays on its own origin"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn admins_manage_peers_through_the_api() {
    let (a, b) = tokio::join!(TestNode::spawn(), TestNode::spawn());
    let bea = b.member("bea").await;
    b.create_shop(&bea, "weaving", "Weaving").await;
    listings(&b, &bea, "weaving", 3, "Scarf").await;
    let root = a.admin("root").await;
    let ana = a.member("ana").await;

    let body = json!({"address": b.base});
    let refused = a
        .post_json("/api/v1/admin/peers", Some(&ana.token), &body)
        .await;
    assert_eq!(refused.status(), 403);
    for bad in ["", "ftp://x.example", "https://x.example/path", &a.base] {
        let response = a
            .post_json(
                "/api/v1/admin/peers",
                Some(&root.token),
                &json!({"address": bad}),
            )
            .await;
        assert_eq!(
            response.status(),
            422,
            "{bad}: {}",
            response.text().await.unwrap()
        );
    }
    let added = a
        .post_json("/api/v1/admin/peers", Some(&root.token), &body)
        .await;
    assert_eq!(added.status(), 202);
    until("B's listings are listed", || async {
        let list: Value = a
            .get("/api/v1/admin/peers", Some(&root.token))
            .await
            .json()
            .await
            .unwrap();
        list[0]["listings"] == 3 && list[0]["outgoing"] == "accepted"
    })
    .await;
    let removed = a
        .delete(
            &format!("/api/v1/admin/peers/{}", b.domain),
            Some(&root.token),
        )
        .await;
    assert_eq!(removed.status(), 200);
    let removed: Value = removed.json().await.unwrap();
    assert_eq!(removed["listings_removed"], 3);
    let missing = a
        .delete(
            &format!("/api/v1/admin/peers/{}", b.domain),
            Some(&root.token),
        )
        .await;
    assert_eq!(missing.status(), 404);
    tokio::join!(a.shutdown(), b.shutdown());
}
