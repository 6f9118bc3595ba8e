//! Co-op governance: a member proposes, members vote one each in secret, a double vote, a
//! buyer's vote and a late vote are refused, receipts check out, results are computed at close
//! (adopted, quorum not met, a tie), the database holds no link from a vote to a member, and on
//! the fediverse the co-op actor publishes each proposal as a `Question` to its followers
//! (`Create`, then `Update` with the counts) while a remote reply to it counts for nothing.
//!
//! Closing without waiting is done by time travel: the test moves `closes_at` into the past
//! directly in the node's database, then reads the proposal (which closes it lazily).

use harness::{Member, TestNode, peer::Peer};
use market::entities::{ballot, governance_event, proposal, vote};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde_json::{Value, json};
use url::Url;

use crate::orders::{buyer, json_ok};

async fn propose(node: &TestNode, who: &Member, body: Value) -> reqwest::Response {
    node.post_json("/api/v1/proposals", Some(&who.token), &body)
        .await
}

pub(crate) async fn cast(
    node: &TestNode,
    who: &Member,
    id: &str,
    option: Value,
) -> reqwest::Response {
    node.post_json(
        &format!("/api/v1/proposals/{id}/votes"),
        Some(&who.token),
        &json!({"option": option}),
    )
    .await
}

async fn check(node: &TestNode, who: &Member, id: &str, receipt: &str) -> reqwest::Response {
    node.post_json(
        &format!("/api/v1/proposals/{id}/receipt"),
        Some(&who.token),
        &json!({"receipt": receipt}),
    )
    .await
}

/// Time travel: the proposal's window ended a second ago.
pub(crate) async fn end_window(node: &TestNode, id: &str) {
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    proposal::Entity::update_many()
        .col_expr(
            proposal::Column::ClosesAt,
            sea_orm::sea_query::Expr::value(past),
        )
        .filter(proposal::Column::Id.eq(id))
        .exec(&node.ctx.db)
        .await
        .unwrap();
}

async fn members(node: &TestNode, names: &[&str]) -> Vec<Member> {
    let mut out = Vec::new();
    for name in names {
        out.push(node.member(name).await);
    }
    out
}

async fn new_proposal(node: &TestNode, who: &Member, body: Value) -> String {
    let created = json_ok(propose(node, who, body).await, 201).await;
    created["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn members_vote_once_in_secret_and_the_result_is_computed_at_close() {
    let node = TestNode::spawn().await;
    let m = members(&node, &["ana", "bea", "cruz", "dani", "eli"]).await;
    let buyer = buyer(&node, "boris").await;

    // Proposing: members only; fields checked.
    let body = json!({"title": "Buy a shared kiln", "text": "For **everyone**.", "hours": 24});
    assert_eq!(propose(&node, &buyer, body.clone()).await.status(), 403);
    for (bad, field) in [
        (json!({"title": "", "hours": 1}), "title"),
        (
            json!({"title": "x", "hours": 1, "options": ["a"]}),
            "options",
        ),
        (
            json!({"title": "x", "hours": 1, "options": ["a", "A"]}),
            "options[1]",
        ),
        (json!({"title": "x", "closes_at": "tomorrow"}), "closes_at"),
        (json!({"title": "x", "hours": 24 * 91}), "hours"),
        (
            json!({"title": "x", "closes_at": chrono::Utc::now().to_rfc3339()}),
            "closes_at",
        ),
        (json!({"title": "x", "hours": 1, "quorum": 120}), "quorum"),
    ] {
        let got = json_ok(propose(&node, &m[0], bad.clone()).await, 422).await;
        assert_eq!(got["field"], field, "{bad}");
    }
    let created = json_ok(propose(&node, &m[0], body).await, 201).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["options"], json!(["yes", "no"]));
    assert_eq!(created["quorum"], 25.0, "the bylaws' default");
    assert_eq!(created["threshold"], 50.0);
    assert_eq!(created["open"], true);
    assert!(
        created["text_html"]
            .as_str()
            .unwrap()
            .contains("<strong>everyone</strong>")
    );

    // Voting: 3 yes, 2 no; receipts returned once.
    let mut receipts = Vec::new();
    for (who, option) in m.iter().zip([
        json!("yes"),
        json!("yes"),
        json!(0),
        json!("no"),
        json!("No"),
    ]) {
        let got = json_ok(cast(&node, who, &id, option).await, 201).await;
        receipts.push(got["receipt"].as_str().unwrap().to_string());
    }
    // A double vote, a buyer's vote, an unknown option.
    assert_eq!(cast(&node, &m[0], &id, json!("no")).await.status(), 409);
    assert_eq!(cast(&node, &buyer, &id, json!("yes")).await.status(), 403);
    let late_member = node.member("fede").await;
    assert_eq!(
        cast(&node, &late_member, &id, json!("maybe"))
            .await
            .status(),
        422
    );
    assert_eq!(cast(&node, &late_member, &id, json!(7)).await.status(), 422);

    // While open: turnout, no tallies.
    let open = json_ok(
        node.get(&format!("/api/v1/proposals/{id}"), Some(&m[0].token))
            .await,
        200,
    )
    .await;
    assert_eq!(open["turnout"], 5);
    assert_eq!(open["result"], Value::Null);
    assert_eq!(open["voted"], true);

    // Receipts: the holder learns what counted; a wrong code is 404; buyers may not ask.
    let counted = json_ok(check(&node, &m[3], &id, &receipts[3]).await, 200).await;
    assert_eq!(counted, json!({"counted": true, "option": "no"}));
    let counted = json_ok(
        check(&node, &m[3], &id, &receipts[0].to_uppercase()).await,
        200,
    )
    .await;
    assert_eq!(counted["option"], "yes", "case and dashes do not matter");
    assert_eq!(
        check(&node, &m[0], &id, "0000000000000000000000000000000a")
            .await
            .status(),
        404
    );
    assert_eq!(check(&node, &m[0], &id, "nonsense").await.status(), 404);
    assert_eq!(check(&node, &buyer, &id, &receipts[0]).await.status(), 403);

    // The database: who voted is in `ballots`, what was voted in `votes`, nothing links them.
    let ballots = ballot::Entity::find().all(&node.ctx.db).await.unwrap();
    let votes = vote::Entity::find().all(&node.ctx.db).await.unwrap();
    assert_eq!((ballots.len(), votes.len()), (5, 5));
    let columns = |table: &str| {
        let sql = match node.ctx.db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => format!(
                "SELECT column_name AS name FROM information_schema.columns WHERE table_name = '{table}'"
            ),
            _ => format!("SELECT name FROM pragma_table_info('{table}')"),
        };
        let db = node.ctx.db.clone();
        async move {
            let rows = db
                .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap();
            let mut names: Vec<String> = rows
                .iter()
                .map(|r| r.try_get::<String>("", "name").unwrap())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        columns("votes").await,
        ["id", "option_index", "proposal_id", "receipt_hash"],
        "no user, no time"
    );
    for v in &votes {
        assert!(
            uuid::Uuid::parse_str(&v.id).is_ok(),
            "a random id, not a counter"
        );
        assert_eq!(v.receipt_hash.len(), 64);
        for r in &receipts {
            assert!(
                !v.receipt_hash.contains(r.as_str()),
                "the code itself is not stored"
            );
        }
    }
    // The log says a vote was cast, never by whom or how.
    let log = json_ok(
        node.get("/api/v1/governance/log", Some(&m[1].token)).await,
        200,
    )
    .await;
    let cast_events: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "vote_cast")
        .collect();
    assert_eq!(cast_events.len(), 5);
    for e in cast_events {
        assert_eq!(e["actor"], "system");
        assert_eq!(e["detail"], "a vote was cast");
    }
    assert_eq!(
        node.get("/api/v1/governance/log", Some(&buyer.token))
            .await
            .status(),
        403
    );

    // Close (time travel), lazily on read: 3 yes of 5 votes, 6 members → adopted.
    end_window(&node, &id).await;
    assert_eq!(
        cast(&node, &late_member, &id, json!("yes")).await.status(),
        409,
        "after closes_at"
    );
    let closed = json_ok(
        node.get(&format!("/api/v1/proposals/{id}"), None).await,
        200,
    )
    .await;
    assert_eq!(closed["open"], false);
    let result = &closed["result"];
    assert_eq!(
        result["counts"],
        json!([{"option": "yes", "votes": 3}, {"option": "no", "votes": 2}])
    );
    assert_eq!(result["cast"], 5);
    assert_eq!(result["electorate"], 6, "members at close, fede included");
    assert_eq!(result["quorum_met"], true);
    assert_eq!(result["adopted"], "yes");
    assert_eq!(result["outcome"], "Adopted: yes, with 3 of 5 votes (60%).");
    // Idempotent: a second close finds nothing to do.
    let data = node.federation.to_request_data();
    assert!(
        federation::governance::close_due(&data)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        cast(&node, &late_member, &id, json!("yes")).await.status(),
        409,
        "closed"
    );
    // The receipt still checks out after close.
    assert_eq!(check(&node, &m[4], &id, &receipts[4]).await.status(), 200);
    let closes: Vec<governance_event::Model> = governance_event::Entity::find()
        .filter(governance_event::Column::Kind.eq("proposal_closed"))
        .all(&node.ctx.db)
        .await
        .unwrap();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].detail, "Adopted: yes, with 3 of 5 votes (60%).");

    // Quorum not met: 1 vote of 6 members with a 25 % quorum.
    let low = new_proposal(
        &node,
        &m[1],
        json!({"title": "Rename the co-op", "hours": 1}),
    )
    .await;
    json_ok(cast(&node, &m[1], &low, json!("yes")).await, 201).await;
    end_window(&node, &low).await;
    let low = json_ok(
        node.get(&format!("/api/v1/proposals/{low}"), None).await,
        200,
    )
    .await;
    assert_eq!(low["result"]["quorum_met"], false);
    assert_eq!(low["result"]["adopted"], Value::Null);

    // A tie, three options, and a 2/3 threshold not exceeded.
    let tie = new_proposal(
        &node,
        &m[2],
        json!({"title": "Market day", "hours": 2, "options": ["Friday", "Saturday", "Sunday"]}),
    )
    .await;
    for (who, option) in m
        .iter()
        .take(4)
        .zip(["Friday", "Saturday", "Friday", "Saturday"])
    {
        json_ok(cast(&node, who, &tie, json!(option)).await, 201).await;
    }
    let two_thirds = new_proposal(
        &node,
        &m[2],
        json!({"title": "Raise the commission", "hours": 2, "threshold": 66.67}),
    )
    .await;
    for (who, option) in m.iter().take(3).zip(["yes", "yes", "no"]) {
        json_ok(cast(&node, who, &two_thirds, json!(option)).await, 201).await;
    }
    // The list shows open proposals first.
    let listed = json_ok(node.get("/api/v1/proposals", None).await, 200).await;
    assert_eq!(listed["total"], 4);
    assert_eq!(listed["items"][0]["open"], true);
    assert_eq!(listed["items"][3]["open"], false);
    end_window(&node, &tie).await;
    end_window(&node, &two_thirds).await;
    let closed = federation::governance::close_due(&data).await.unwrap();
    assert_eq!(closed.len(), 2, "the reconciler's close");
    let tie = json_ok(
        node.get(&format!("/api/v1/proposals/{tie}"), None).await,
        200,
    )
    .await;
    assert_eq!(tie["result"]["adopted"], Value::Null);
    assert_eq!(
        tie["result"]["outcome"],
        "Not adopted: tie between Friday and Saturday (2 votes each)."
    );
    let two_thirds = json_ok(
        node.get(&format!("/api/v1/proposals/{two_thirds}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        two_thirds["result"]["adopted"],
        Value::Null,
        "2 of 3 is not more than 66.67 %"
    );

    // The pages: the list, and a proposal with its result.
    let page = node
        .get("/coop/proposals", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Buy a shared kiln"), "{page}");
    let page = node
        .get(&format!("/coop/proposals/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Adopted: yes, with 3 of 5 votes (60%)."),
        "{page}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn concurrent_double_votes_count_once() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let id = new_proposal(&node, &ana, json!({"title": "Quick one", "hours": 1})).await;
    let (a, b, c) = tokio::join!(
        cast(&node, &ana, &id, json!("yes")),
        cast(&node, &ana, &id, json!("no")),
        cast(&node, &ana, &id, json!("yes")),
    );
    let mut statuses = vec![
        a.status().as_u16(),
        b.status().as_u16(),
        c.status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409]);
    assert_eq!(
        vote::Entity::find().all(&node.ctx.db).await.unwrap().len(),
        1
    );
    node.shutdown().await;
}

#[tokio::test]
async fn the_coop_publishes_questions_to_followers_and_ignores_replies() {
    let node = TestNode::spawn().await;
    let peer = Peer::spawn().await;
    let ana = node.member("ana").await;
    let bea = node.member("bea").await;

    // A Mastodon user follows the co-op: WebFinger, the Organization, an Accept.
    let coop = peer
        .resolve(&format!("coop@{}", node.domain))
        .await
        .unwrap();
    assert_eq!(coop.0.kind, "Organization");
    assert_eq!(coop.0.id.inner().as_str(), node.url("/coop"));
    let follow_id = peer.follow(&coop).await.unwrap();
    let accepts = peer.received_of("Accept");
    assert_eq!(accepts.len(), 1, "{:?}", peer.received());
    assert_eq!(accepts[0]["object"]["id"], follow_id.as_str());
    assert_eq!(accepts[0]["actor"], node.url("/coop"));
    // No shop may be called coop.
    assert_eq!(
        node.create_shop(&ana, "coop", "Not the co-op")
            .await
            .status(),
        422
    );

    // A proposal: Create{Question} to the follower, no counts while open.
    let id = new_proposal(
        &node,
        &ana,
        json!({"title": "Open a second market day", "text": "On *Sundays*.", "hours": 48}),
    )
    .await;
    let question_id = node.url(&format!("/coop/proposals/{id}"));
    let creates = peer.received_of("Create");
    assert_eq!(creates.len(), 1, "{:?}", peer.received());
    let q = &creates[0]["object"];
    assert_eq!(q["type"], "Question");
    assert_eq!(q["id"], question_id.as_str());
    assert_eq!(q["attributedTo"], node.url("/coop"));
    assert_eq!(
        q["to"],
        json!(["https://www.w3.org/ns/activitystreams#Public"])
    );
    assert_eq!(
        q["oneOf"][0],
        json!({"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": 0}})
    );
    assert!(q["endTime"].is_string());
    assert!(q["content"].as_str().unwrap().contains("<em>Sundays</em>"));
    assert!(q.get("closed").is_none());
    // The Question id dereferences as ActivityPub; the outbox lists it.
    let (status, fetched) = node.get_ap(&question_id).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["type"], "Question");
    let (_, outbox) = node.get_ap(&node.url("/coop/outbox")).await;
    assert_eq!(outbox["totalItems"], 1);
    assert_eq!(
        outbox["orderedItems"][0]["object"]["id"],
        question_id.as_str()
    );

    json_ok(cast(&node, &ana, &id, json!("yes")).await, 201).await;
    json_ok(cast(&node, &bea, &id, json!("yes")).await, 201).await;

    // A remote reply voting in the poll, as Mastodon sends it: signed, accepted, not counted.
    let vote_note = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/statuses/1/activity", peer.base),
        "type": "Create",
        "actor": peer.alice_id(),
        "to": [node.url("/coop")],
        "object": {
            "id": format!("{}/statuses/1", peer.base),
            "type": "Note",
            "name": "no",
            "attributedTo": peer.alice_id(),
            "to": [node.url("/coop")],
            "inReplyTo": question_id,
        },
    });
    peer.send(vote_note, &Url::parse(&node.url("/coop/inbox")).unwrap())
        .await
        .expect("a reply is answered 2xx");
    let ignored: Vec<governance_event::Model> = governance_event::Entity::find()
        .filter(governance_event::Column::Kind.eq("reply_ignored"))
        .all(&node.ctx.db)
        .await
        .unwrap();
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0].proposal_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        vote::Entity::find().all(&node.ctx.db).await.unwrap().len(),
        2,
        "not a vote"
    );

    // Close: Update{Question} with the counts; the reply counted for nothing.
    end_window(&node, &id).await;
    let data = node.federation.to_request_data();
    assert_eq!(
        federation::governance::close_due(&data)
            .await
            .unwrap()
            .len(),
        1
    );
    let updates = peer.received_of("Update");
    assert_eq!(updates.len(), 1, "{:?}", peer.received());
    let q = &updates[0]["object"];
    assert_eq!(q["id"], question_id.as_str());
    assert_eq!(q["oneOf"][0]["replies"]["totalItems"], 2);
    assert_eq!(q["oneOf"][1]["replies"]["totalItems"], 0);
    assert_eq!(q["votersCount"], 2);
    assert!(q["closed"].is_string());

    // Unfollow: later proposals reach no one.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{follow_id}/undo"), "type": "Undo", "actor": peer.alice_id(),
        "object": {"id": follow_id, "type": "Follow", "actor": peer.alice_id(), "object": node.url("/coop")},
    });
    peer.send(undo, &Url::parse(&node.url("/coop/inbox")).unwrap())
        .await
        .unwrap();
    let (_, followers) = node.get_ap(&node.url("/coop/followers")).await;
    assert_eq!(followers["totalItems"], 0);
    new_proposal(&node, &bea, json!({"title": "Another", "hours": 1})).await;
    assert_eq!(peer.received_of("Create").len(), 1);
    node.shutdown().await;
}
