//! Ten identical membership requests at once (approvals, leaves, applications, votes) and two
//! admins acting against each other: each decision happens once, the duplicates get 409 (never
//! 500), the books stay exact and the co-op keeps an admin. These races only bite on
//! PostgreSQL (SQLite has one writer at a time): run with `TEST_DATABASE_URL` too.

use futures::future::join_all;
use harness::{Member, TestNode};
use market::{
    entities::user,
    service::{accounts, ledger},
    types::{Password, Username},
};
use reqwest::Response;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const BUYER_PASSWORD: &str = "a long enough secret";

/// A registered buyer (not a member), logged in.
async fn buyer(node: &TestNode, name: &str) -> Member {
    accounts::register_buyer(
        &node.ctx,
        &Username::parse(name).unwrap(),
        &Password::parse(BUYER_PASSWORD).unwrap(),
        None,
    )
    .await
    .unwrap();
    let login = node.login(name, BUYER_PASSWORD).await;
    assert_eq!(login.status(), 200);
    let body: Value = login.json().await.unwrap();
    Member {
        username: name.into(),
        token: body["token"].as_str().unwrap().into(),
    }
}

/// The status codes of `responses`, sorted, with the body of any 5xx in the panic message.
async fn statuses(responses: Vec<Response>) -> Vec<u16> {
    let mut out = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(status < 500, "{status}: {body}");
        out.push(status);
    }
    out.sort_unstable();
    out
}

fn one_then_conflicts(ok: u16, n: usize) -> Vec<u16> {
    let mut expected = vec![ok];
    expected.extend(std::iter::repeat_n(409, n - 1));
    expected
}

/// (debits, credits) of `account` in EUR.
async fn balance(node: &TestNode, account: &str) -> (i64, i64) {
    let books = ledger::trial_balance(&node.ctx).await.unwrap();
    books
        .get(&("EUR".to_string(), account.to_string()))
        .map(|b| (b.debit, b.credit))
        .unwrap_or_default()
}

async fn admins(node: &TestNode) -> u64 {
    user::Entity::find()
        .filter(user::Column::Role.eq(user::ROLE_ADMIN))
        .count(&node.ctx.db)
        .await
        .unwrap()
}

async fn post_all(node: &TestNode, n: usize, path: &str, token: &str, body: Value) -> Vec<u16> {
    let requests = (0..n).map(|_| node.post_json(path, Some(token), &body));
    statuses(join_all(requests).await).await
}

#[tokio::test]
async fn ten_approvals_of_one_application_book_the_share_once() {
    let node = TestNode::spawn().await;
    let root = node.admin("root").await;
    for round in 0..3 {
        let name = format!("dan{round}");
        let dan = buyer(&node, &name).await;
        let applied = node
            .post_json(
                "/api/v1/membership",
                Some(&dan.token),
                &json!({"statement": "I make tables."}),
            )
            .await;
        assert_eq!(applied.status(), 201);
        let path = format!("/api/v1/admin/applications/{name}/approve");
        let got = post_all(&node, 10, &path, &root.token, json!({})).await;
        assert_eq!(got, one_then_conflicts(200, 10), "round {round}");
        let share = market::service::membership::share_account(&name);
        assert_eq!(
            balance(&node, &share).await,
            (0, 2000),
            "the share is booked exactly once"
        );
    }
    node.shutdown().await;
}

#[tokio::test]
async fn ten_leaves_of_one_member_refund_the_share_once() {
    let node = TestNode::spawn().await;
    let _root = node.admin("root").await;
    for round in 0..3 {
        let name = format!("bea{round}");
        let bea = node.member(&name).await;
        let got = post_all(&node, 10, "/api/v1/membership/leave", &bea.token, json!({})).await;
        assert_eq!(got, one_then_conflicts(200, 10), "round {round}");
        let share = market::service::membership::share_account(&name);
        assert_eq!(
            balance(&node, &share).await,
            (2000, 2000),
            "booked once, refunded once"
        );
    }
    node.shutdown().await;
}

#[tokio::test]
async fn ten_applications_by_one_buyer_open_one() {
    let node = TestNode::spawn().await;
    let root = node.admin("root").await;
    for round in 0..3 {
        let eve = buyer(&node, &format!("eve{round}")).await;
        let got = post_all(
            &node,
            10,
            "/api/v1/membership",
            &eve.token,
            json!({"statement": "Let me in."}),
        )
        .await;
        assert_eq!(got, one_then_conflicts(201, 10), "round {round}");
    }
    let pending: Value = node
        .get("/api/v1/admin/applications", Some(&root.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 3);
    node.shutdown().await;
}

/// Two admins each demote the other at once, then each remove the other, then both leave:
/// whatever the interleaving, one wins and one admin remains. The loser gets 409, or 403 when
/// its request arrives after the winner's has committed (it is no longer an admin by then).
#[tokio::test]
async fn two_admins_acting_against_each_other_leave_one_admin() {
    let node = TestNode::spawn().await;
    let mut survivor = node.admin("root").await;
    for round in 0..9 {
        let other = node.admin(&format!("ada{round}")).await;
        assert_eq!(admins(&node).await, 2);
        let pair = [&survivor, &other];
        let requests = pair.iter().zip(pair.iter().rev()).map(|(me, them)| {
            let (path, body) = match round % 3 {
                0 => (
                    format!("/api/v1/admin/members/{}/role", them.username),
                    json!({"role": "member"}),
                ),
                1 => (
                    format!("/api/v1/admin/members/{}/remove", them.username),
                    json!({}),
                ),
                _ => ("/api/v1/membership/leave".to_string(), json!({})),
            };
            let node = &node;
            async move { node.post_json(&path, Some(&me.token), &body).await }
        });
        let responses = join_all(requests).await;
        let winner_is_first = responses[0].status() == 200;
        let got = statuses(responses).await;
        assert!(
            got == [200, 409] || (round % 3 != 2 && got == [200, 403]),
            "round {round}: {got:?}"
        );
        assert_eq!(admins(&node).await, 1, "round {round}: one admin remains");
        // Whoever is still an admin goes on to the next round.
        let stays_first = match round % 3 {
            2 => !winner_is_first, // the one who could not leave
            _ => winner_is_first,  // the one who demoted or removed the other
        };
        if !stays_first {
            survivor = other;
        }
        let me: Value = node
            .get("/api/v1/me", Some(&survivor.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], "admin", "round {round}: {me}");
    }
    node.shutdown().await;
}

#[tokio::test]
async fn ten_votes_by_one_member_count_once() {
    let node = TestNode::spawn().await;
    let root = node.admin("root").await;
    let bea = node.member("bea").await;
    let created = node
        .post_json(
            "/api/v1/proposals",
            Some(&root.token),
            &json!({"title": "Paint the stall blue?", "hours": 1}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/proposals/{id}/votes");
    let got = post_all(&node, 10, &path, &bea.token, json!({"option": "yes"})).await;
    assert_eq!(got, one_then_conflicts(201, 10));
    let ballots = market::entities::ballot::Entity::find()
        .count(&node.ctx.db)
        .await
        .unwrap();
    let votes = market::entities::vote::Entity::find()
        .count(&node.ctx.db)
        .await
        .unwrap();
    assert_eq!((ballots, votes), (1, 1));
    node.shutdown().await;
}
