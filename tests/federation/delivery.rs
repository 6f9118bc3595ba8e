//! Deliveries as a receiving server sees them: one per shared inbox, signed by the shop.

use harness::{TestNode, sample_listing, sink::Sink};
use serde_json::Value;

#[tokio::test]
async fn followers_on_one_server_cost_one_delivery_and_every_signature_verifies() {
    let (node, sink, ana) = node_and_sink(harness::Storage::Default).await;
    let shop = node.url("/shops/pottery");

    // Five followers behind the sink's shared inbox, two with only their own inbox.
    let inbox = node.url("/inbox");
    for name in [
        "shared1", "shared2", "shared3", "shared4", "shared5", "solo1", "solo2",
    ] {
        assert_eq!(
            sink.follow(&node.http, name, &shop, &inbox).await,
            202,
            "{name}"
        );
    }
    let accepts = sink
        .received()
        .iter()
        .filter(|r| r.kind == "Accept")
        .count();
    assert_eq!(
        accepts, 7,
        "one Accept per Follow, each to the follower's own inbox"
    );

    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let creates: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|r| r.kind == "Create")
        .collect();
    let mut paths: Vec<&str> = creates.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/inbox", "/users/solo1/inbox", "/users/solo2/inbox"]
    );
    assert!(creates.iter().all(|r| r.signature_valid), "{creates:?}");
    assert!(sink.received().iter().all(|r| r.signature_valid));
    node.shutdown().await;
}

/// A node with a shop whose key the sink trusts.
pub(crate) async fn node_and_sink(storage: harness::Storage) -> (TestNode, Sink, harness::Member) {
    let node = TestNode::spawn_with(storage, |_| {}).await;
    let sink = Sink::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let (_, actor) = node.get_ap(&node.url("/shops/pottery")).await;
    sink.trust_key(
        actor["publicKey"]["id"].as_str().unwrap(),
        actor["publicKey"]["publicKeyPem"].as_str().unwrap(),
    );
    (node, sink, ana)
}

/// ... and one follower behind the sink's shared inbox.
pub(crate) async fn node_with_follower(
    storage: harness::Storage,
) -> (TestNode, Sink, harness::Member) {
    let (node, sink, ana) = node_and_sink(storage).await;
    let shop = node.url("/shops/pottery");
    assert_eq!(
        sink.follow(&node.http, "shared1", &shop, &node.url("/inbox"))
            .await,
        202
    );
    (node, sink, ana)
}

pub(crate) fn creates(sink: &Sink) -> Vec<harness::sink::Received> {
    sink.received()
        .into_iter()
        .filter(|r| r.kind == "Create")
        .collect()
}

#[tokio::test]
async fn a_failing_inbox_gets_the_activity_after_retries_with_growing_delays() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    sink.script("/inbox", &[503, 500]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let first = creates(&sink);
    assert_eq!(first.len(), 1);
    let activity_id = first[0].activity_id.clone();
    let rows = deliveries::of_activity(&node.ctx, &activity_id)
        .await
        .unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("pending", 1));
    let first_delay = rows[0].next_attempt_at - rows[0].updated_at;

    let status = deliveries::status(&node.ctx).await.unwrap();
    assert_eq!(status.pending, 1);
    assert_eq!(status.failing_hosts.len(), 1);
    assert_eq!(
        status.failing_hosts[0].host,
        sink.base.trim_start_matches("http://")
    );
    assert!(
        status.failing_hosts[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("503")
    );

    // Not due yet: nothing is sent.
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1);

    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let rows = deliveries::of_activity(&node.ctx, &activity_id)
        .await
        .unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("pending", 2));
    let second_delay = rows[0].next_attempt_at - rows[0].updated_at;
    assert!(
        second_delay > first_delay,
        "backoff grows: {first_delay} then {second_delay}"
    );

    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let rows = deliveries::of_activity(&node.ctx, &activity_id)
        .await
        .unwrap();
    assert_eq!(rows[0].state, "done");
    let all = creates(&sink);
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 500, 202]
    );
    assert!(
        all.iter()
            .all(|r| r.activity_id == activity_id && r.signature_valid),
        "same activity, signed each time"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_refusal_is_final_and_not_retried() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    sink.script("/inbox", &[403]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let activity_id = creates(&sink)[0].activity_id.clone();
    assert_eq!(
        deliveries::of_activity(&node.ctx, &activity_id)
            .await
            .unwrap()[0]
            .state,
        "refused"
    );
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 1, "a 403 is not retried");
    assert_eq!(deliveries::status(&node.ctx).await.unwrap().refused, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Durable).await;
    sink.script("/inbox", &[503]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let activity_id = creates(&sink)[0].activity_id.clone();

    let node = node.restart().await;
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let all = creates(&sink);
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[1].status, all[1].activity_id.as_str()),
        (202, activity_id.as_str())
    );
    assert_eq!(
        deliveries::of_activity(&node.ctx, &activity_id)
            .await
            .unwrap()[0]
            .state,
        "done"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn deliveries_to_one_host_respect_the_per_host_cap() {
    let (node, sink, ana) = node_and_sink(harness::Storage::Default).await;
    let shop = node.url("/shops/pottery");
    for n in 0..12 {
        let name = format!("solo{n}");
        assert_eq!(
            sink.follow(&node.http, &name, &shop, &node.url("/inbox"))
                .await,
            202
        );
    }
    sink.set_delay(std::time::Duration::from_millis(100));
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 12, "one per personal inbox");
    let most = sink.max_in_flight();
    assert!(
        (2..=market::service::deliveries::PER_HOST).contains(&most),
        "{most} at once to one host"
    );
    node.shutdown().await;
}

/// The one delivery of the activity the sink received first (a shop with one shared-inbox
/// follower).
pub(crate) async fn only_delivery(
    node: &TestNode,
    activity_id: &str,
) -> market::entities::delivery::Model {
    let rows = market::service::deliveries::of_activity(&node.ctx, activity_id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_401_is_retried_once_then_final() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    // The receiver may have cached a key we have since rotated: one more try.
    sink.script("/inbox", &[401, 401]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let activity_id = creates(&sink)[0].activity_id.clone();
    let row = only_delivery(&node, &activity_id).await;
    assert_eq!((row.state.as_str(), row.attempts), ("pending", 1));
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let row = only_delivery(&node, &activity_id).await;
    assert_eq!((row.state.as_str(), row.attempts), ("refused", 2));
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    assert_eq!(creates(&sink).len(), 2, "a second 401 is final");

    // A 401 followed by success is delivered.
    sink.script("/inbox", &[401]);
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    let last = creates(&sink).last().cloned().unwrap();
    assert_eq!(last.status, 202);
    assert_eq!(only_delivery(&node, &last.activity_id).await.state, "done");
    node.shutdown().await;
}

#[tokio::test]
async fn two_workers_never_send_one_delivery_twice() {
    let (node, sink, ana) = node_and_sink(harness::Storage::Default).await;
    let other = Sink::spawn().await;
    let shop = node.url("/shops/pottery");
    for n in 0..16 {
        for s in [&sink, &other] {
            assert_eq!(
                s.follow(&node.http, &format!("solo{n}"), &shop, &node.url("/inbox"))
                    .await,
                202
            );
        }
    }
    let (_, key) = node.get_ap(&shop).await;
    other.trust_key(
        key["publicKey"]["id"].as_str().unwrap(),
        key["publicKey"]["publicKeyPem"].as_str().unwrap(),
    );
    sink.set_delay(std::time::Duration::from_millis(30));
    other.set_delay(std::time::Duration::from_millis(30));
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    // Queue the activity, then let two workers race over its 32 deliveries.
    let data = node.federation.to_request_data();
    federation::outbox::deliver_pending(&data).await.unwrap();
    let updated = node
        .update_listing(
            &ana,
            &listing_id(&node).await,
            &serde_json::json!({"stock": 3}),
        )
        .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(federation::outbox::queue_events(&data).await.unwrap(), 1);
    // Both keep claiming until all 32 are out: every claim of one races the other's.
    let updates_out = || {
        [&sink, &other]
            .iter()
            .map(|s| s.received().iter().filter(|r| r.kind == "Update").count())
            .sum::<usize>()
    };
    let worker = |pause: u64| {
        let data = node.federation.to_request_data();
        let updates_out = &updates_out;
        async move {
            let started = std::time::Instant::now();
            let mut attempted = 0;
            while updates_out() < 32 && started.elapsed() < std::time::Duration::from_secs(20) {
                attempted += federation::outbox::deliver_due(&data).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            attempted
        }
    };
    let (a, b) = tokio::join!(worker(1), worker(2));
    eprintln!("worker a attempted {a}, worker b {b}");
    assert_eq!(a + b, 32, "each delivery attempted once ({a} + {b})");
    for s in [&sink, &other] {
        let mut updates: Vec<String> = s
            .received()
            .into_iter()
            .filter(|r| r.kind == "Update")
            .map(|r| r.path)
            .collect();
        updates.sort();
        let total = updates.len();
        updates.dedup();
        assert_eq!((total, updates.len()), (16, 16), "each inbox exactly once");
    }
    assert!(sink.max_in_flight() <= market::service::deliveries::PER_HOST);
    node.shutdown().await;
}

async fn listing_id(node: &TestNode) -> String {
    let page: Value = node
        .get("/api/v1/shops/pottery/listings", None)
        .await
        .json()
        .await
        .unwrap();
    page["items"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_429_does_not_count_against_the_host() {
    use market::{entities::delivery_host, service::deliveries};
    use sea_orm::EntityTrait;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    let in_two_hours = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(7200),
    );
    sink.script_with_header("/inbox", 429, ("retry-after", "3600"));
    sink.script_with_header("/inbox", 503, ("retry-after", &in_two_hours));
    sink.script_with_header("/inbox", 429, ("retry-after", "1"));
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    let mut delays = Vec::new();
    let mut activity_id = String::new();
    for _ in 0..3 {
        deliveries::retry_now(&node.ctx, None).await.unwrap();
        node.deliver_pending().await;
        activity_id = creates(&sink)[0].activity_id.clone();
        let row = only_delivery(&node, &activity_id).await;
        assert_eq!(row.state, "pending");
        delays.push((row.next_attempt_at - row.updated_at).num_seconds());
    }
    let [after_429, after_503, after_short] = delays[..] else {
        panic!("{delays:?}")
    };
    assert!(
        (3595..=3600).contains(&after_429),
        "Retry-After in seconds: {delays:?}"
    );
    assert!(
        (7190..=7200).contains(&after_503),
        "Retry-After as a date: {delays:?}"
    );
    assert_eq!(
        after_short,
        deliveries::backoff(3).num_seconds(),
        "never sooner than our own backoff: {delays:?}"
    );
    // Only the 503 counted against the host; a 429 means it is up.
    let host = sink.base.trim_start_matches("http://").to_string();
    let tracked = delivery_host::Entity::find_by_id(host)
        .one(&node.ctx.db)
        .await
        .unwrap();
    assert!(
        tracked.is_none(),
        "the last answer, a 429, shows the host is up: {tracked:?}"
    );

    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    assert_eq!(only_delivery(&node, &activity_id).await.state, "done");
    assert_eq!(
        creates(&sink).iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 503, 429, 202]
    );
    node.shutdown().await;
}

#[tokio::test]
async fn finished_deliveries_are_forgotten_after_a_week_pending_ones_never() {
    use market::service::deliveries;
    let (node, sink, ana) = node_with_follower(harness::Storage::Default).await;
    node.create_listing(&ana, "pottery", &sample_listing())
        .await;
    node.deliver_pending().await;
    let delivered = creates(&sink)[0].activity_id.clone();
    sink.script("/inbox", &[503]);
    node.update_listing(
        &ana,
        &listing_id(&node).await,
        &serde_json::json!({"stock": 2}),
    )
    .await;
    node.deliver_pending().await;
    let waiting = sink.received().last().unwrap().activity_id.clone();
    assert_eq!(only_delivery(&node, &waiting).await.state, "pending");

    // A week from now: the done deliveries (the follower's Accept and the Create) and their
    // activities go, the pending one stays.
    let later = chrono::Utc::now() + deliveries::KEEP_FINISHED;
    assert_eq!(deliveries::prune(&node.ctx, later).await.unwrap(), 2);
    assert!(
        deliveries::of_activity(&node.ctx, &delivered)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(only_delivery(&node, &waiting).await.state, "pending");
    // Today nothing is old enough.
    assert_eq!(
        deliveries::prune(&node.ctx, chrono::Utc::now())
            .await
            .unwrap(),
        0
    );
    deliveries::retry_now(&node.ctx, None).await.unwrap();
    node.deliver_pending().await;
    assert_eq!(only_delivery(&node, &waiting).await.state, "done");
    node.shutdown().await;
}

#[tokio::test]
async fn a_backlog_on_one_host_does_not_hide_the_others() {
    use market::service::deliveries;
    let node = TestNode::spawn().await;
    let busy: Vec<String> = (0..40)
        .map(|n| format!("https://busy.example/users/u{n}/inbox"))
        .collect();
    let ids = deliveries::enqueue(
        &node.ctx,
        "https://x.test/a/1",
        "https://x.test/s",
        "{}",
        &busy,
    )
    .await
    .unwrap();
    assert_eq!(ids.len(), 40);
    deliveries::enqueue(
        &node.ctx,
        "https://x.test/a/2",
        "https://x.test/s",
        "{}",
        &["https://quiet.example/inbox".to_string()],
    )
    .await
    .unwrap();
    // The busy host has its 4 in flight; the next claim still finds the quiet host's row, though
    // 36 older rows of the busy host come first.
    let first = deliveries::claim_due(&node.ctx, "w1", 4, None)
        .await
        .unwrap();
    assert!(first.iter().all(|(row, _)| row.host == "busy.example"));
    let next = deliveries::claim_due(&node.ctx, "w2", 4, None)
        .await
        .unwrap();
    let hosts: Vec<&str> = next.iter().map(|(row, _)| row.host.as_str()).collect();
    assert_eq!(hosts, ["quiet.example"]);
    node.shutdown().await;
}
