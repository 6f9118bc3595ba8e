//! The login and registration limits under concurrent bursts, and which client address the
//! registration limit counts (forwarding headers only from trusted proxies).

use futures::future::join_all;
use harness::{PASSWORD, Storage, TestNode};
use reqwest::Response;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::order_pages::browser::post_form;

const BURST: usize = 150;

async fn users(node: &TestNode) -> u64 {
    market::entities::user::Entity::find()
        .count(&node.ctx.db)
        .await
        .unwrap()
}

/// The statuses of `responses`, counted: (201 or 303 = created, 429, anything else).
fn tally(responses: &[Response], created: u16) -> (usize, usize, Vec<u16>) {
    let mut made = 0;
    let mut limited = 0;
    let mut other = Vec::new();
    for response in responses {
        match response.status().as_u16() {
            s if s == created => made += 1,
            429 => {
                let wait: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=3600).contains(&wait), "Retry-After {wait}");
                limited += 1;
            }
            s => other.push(s),
        }
    }
    (made, limited, other)
}

/// A node with the production limit of 10 accounts per address and hour.
async fn limited_node(trusted_proxies: &[&str]) -> TestNode {
    let proxies = trusted_proxies
        .iter()
        .map(|p| p.to_string().try_into().unwrap())
        .collect();
    TestNode::spawn_with(Storage::Default, |c| {
        c.server.registrations_per_hour = 10;
        c.server.trusted_proxies = proxies;
    })
    .await
}

#[tokio::test]
async fn a_burst_of_registrations_by_the_api_opens_exactly_the_limit() {
    let node = limited_node(&[]).await;
    let before = users(&node).await;
    let responses = join_all((0..BURST).map(|i| {
        let node = &node;
        async move {
            let body = json!({"username": format!("burst{i}"), "password": PASSWORD});
            node.post_json("/api/v1/accounts", None, &body).await
        }
    }))
    .await;
    let (made, limited, other) = tally(&responses, 201);
    assert_eq!((made, limited, other), (10, BURST - 10, vec![]));
    assert_eq!(
        users(&node).await,
        before + 10,
        "exactly the limit was opened"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_registrations_by_the_form_opens_exactly_the_limit() {
    let node = limited_node(&[]).await;
    let before = users(&node).await;
    let names: Vec<String> = (0..BURST).map(|i| format!("form{i}")).collect();
    let responses = join_all(names.iter().map(|name| {
        let fields = [
            ("username", name.as_str()),
            ("password", PASSWORD),
            ("next", "/"),
        ];
        let node = &node;
        async move { post_form(node, "/register", &fields, None).await }
    }))
    .await;
    let (made, limited, other) = tally(&responses, 303);
    assert_eq!((made, limited, other), (10, BURST - 10, vec![]));
    assert_eq!(users(&node).await, before + 10);
    // The API counts the same address.
    let api = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "late", "password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status(), 429);
    node.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_gets_at_most_ten_checked() {
    let node = TestNode::spawn().await;
    node.member("bea").await;
    node.member("ana").await;
    let wrong = |i: usize| {
        let node = &node;
        async move {
            if i.is_multiple_of(2) {
                let body = json!({"username": "bea", "password": format!("guess number {i}")});
                node.post_json("/api/v1/auth/login", None, &body).await
            } else {
                let password = format!("guess number {i}");
                let fields = [("username", "bea"), ("password", password.as_str())];
                post_form(node, "/login", &fields, None).await
            }
        }
    };
    // Ana logs in with the right password in the middle of the burst against bea.
    let ana = async {
        node.post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "ana", "password": PASSWORD}),
        )
        .await
    };
    let (responses, ana) = tokio::join!(join_all((0..BURST).map(wrong)), ana);
    let (checked, limited, other) = tally(&responses, 401);
    assert!(other.is_empty(), "{other:?}");
    assert!(
        (1..=10).contains(&checked),
        "{checked} passwords were checked, {limited} refused unchecked"
    );
    assert_eq!(checked + limited, BURST);
    assert_eq!(ana.status(), 200, "another account is not locked out");
    // Bea's own right password waits for the window now, as after ten sequential failures.
    let bea = node
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "bea", "password": PASSWORD}),
        )
        .await;
    assert_eq!(bea.status(), 429);
    node.shutdown().await;
}

/// `POST /api/v1/accounts` for `username` with `X-Forwarded-For: forwarded_for`.
async fn register_via(node: &TestNode, username: &str, forwarded_for: &str) -> Response {
    node.http
        .post(node.url("/api/v1/accounts"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_cannot_pick_its_address_with_x_forwarded_for() {
    let node = limited_node(&[]).await;
    let mut statuses = Vec::new();
    for i in 0..15 {
        let response = register_via(&node, &format!("spoof{i}"), &format!("198.51.100.{i}")).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..10], [201; 10]);
    assert_eq!(statuses[10..], [429; 5], "the header is not believed");
    node.shutdown().await;
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let node = limited_node(&["127.0.0.1", "::1"]).await;
    // Fifteen clients behind the proxy, each counted on its own.
    for i in 0..15 {
        let response = register_via(&node, &format!("client{i}"), &format!("198.51.100.{i}")).await;
        assert_eq!(response.status(), 201, "client {i}");
    }
    // One client behind the proxy is limited, whatever it writes left of what the proxy
    // appended.
    let mut statuses = Vec::new();
    for i in 0..11 {
        let header = format!("203.0.113.{i}, 192.0.2.77");
        statuses.push(
            register_via(&node, &format!("same{i}"), &header)
                .await
                .status(),
        );
    }
    assert_eq!(statuses[..10], [201; 10]);
    assert_eq!(statuses[10], 429);
    node.shutdown().await;
}
