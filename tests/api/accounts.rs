//! Buyers register themselves: a username, a password, an optional email. They can log in and
//! buy (later), but not open shops.

use harness::TestNode;
use serde_json::{Value, json};

#[tokio::test]
async fn anyone_registers_as_a_buyer_logs_in_and_cannot_open_a_shop() {
    let node = TestNode::spawn().await;
    let response = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "bruno", "password": "a long enough secret", "email": " bruno@example.org "}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"username": "bruno", "role": "buyer", "email": "bruno@example.org"})
    );

    // Email is optional; an empty one counts as none.
    let response = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "carla", "password": "a long enough secret", "email": ""}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.json::<Value>().await.unwrap()["email"],
        Value::Null
    );

    let login = node.login("bruno", "a long enough secret").await;
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let me: Value = node
        .get("/api/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "buyer", "{me}");

    let shop = node
        .post_json(
            "/api/v1/shops",
            Some(&token),
            &json!({"handle": "brunos", "name": "Bruno's"}),
        )
        .await;
    assert_eq!(shop.status(), 403);
    let error: Value = shop.json().await.unwrap();
    assert!(
        error["message"].as_str().unwrap().contains("members"),
        "{error}"
    );
    // Members still open shops.
    let ana = node.member("ana").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Pottery").await.status(),
        201
    );
    node.shutdown().await;
}

#[tokio::test]
async fn bad_registrations_are_refused_and_write_nothing() {
    let node = TestNode::spawn().await;
    let ok = json!({"username": "bruno", "password": "a long enough secret"});
    assert_eq!(
        node.post_json("/api/v1/accounts", None, &ok).await.status(),
        201
    );
    let cases = [
        (
            json!({"username": "bruno", "password": "another long secret"}),
            409,
        ),
        (
            json!({"username": "Bad Name!", "password": "a long enough secret"}),
            422,
        ),
        (json!({"username": "dora", "password": "short"}), 422),
        (
            json!({"username": "dora", "password": "a long enough secret", "email": "not-an-address"}),
            422,
        ),
        (
            json!({"username": "dora", "password": "a long enough secret", "email": "a b@example.org"}),
            422,
        ),
        (
            json!({"username": "dora", "password": "a long enough secret", "email": "dora@localhost"}),
            422,
        ),
        (
            json!({"username": "dora", "password": "a long enough secret", "role": "admin"}),
            422,
        ),
        (json!({"username": "dora"}), 422),
    ];
    for (body, status) in cases {
        let response = node.post_json("/api/v1/accounts", None, &body).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["message"].is_string(), "{error}");
    }
    let raw = node
        .http
        .post(node.url("/api/v1/accounts"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let users = market::service::accounts::list_users(&node.ctx)
        .await
        .unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["bruno"], "nothing half-written");
    node.shutdown().await;
}
