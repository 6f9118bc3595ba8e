//! New passwords must be hard to guess (zxcvbn score 3 or more), by the API and the register
//! form alike, with the reason in the answer; nothing is written for a refused one.

use harness::TestNode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::order_pages::browser::post_form;

async fn users(node: &TestNode) -> u64 {
    market::entities::user::Entity::find()
        .count(&node.ctx.db)
        .await
        .unwrap()
}

/// Weak passwords (for the username `anabel`) and what the refusal must say.
const WEAK: [(&str, &str); 4] = [
    ("12345678", "This is a top-10 common password."),
    ("password", "common password"),
    ("        ", "Repeats like"),
    ("anabel2024", "too easy to guess"),
];

#[tokio::test]
async fn weak_passwords_are_refused_with_the_reason_by_the_api() {
    let node = TestNode::spawn().await;
    let before = users(&node).await;
    for (password, reason) in WEAK {
        let response = node
            .post_json(
                "/api/v1/accounts",
                None,
                &json!({"username": "anabel", "password": password}),
            )
            .await;
        assert_eq!(response.status(), 422, "{password:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], "password", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("too easy to guess"), "{message}");
        assert!(message.contains(reason), "{password:?}: {message}");
    }
    assert_eq!(users(&node).await, before, "nothing was written");
    // The email counts as known to an attacker too.
    let response = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "bo", "password": "marquezlopez", "email": "marquezlopez@example.org"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let good = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "anabel", "password": "tortilla volcano seventeen"}),
        )
        .await;
    assert_eq!(good.status(), 201);
    assert_eq!(users(&node).await, before + 1);
    node.shutdown().await;
}

#[tokio::test]
async fn weak_passwords_are_refused_with_the_reason_by_the_form() {
    let node = TestNode::spawn().await;
    let before = users(&node).await;
    for (password, reason) in WEAK {
        let fields = [
            ("username", "anabel"),
            ("password", password),
            ("next", "/"),
        ];
        let response = post_form(&node, "/register", &fields, None).await;
        assert_eq!(response.status(), 422, "{password:?}");
        assert!(response.headers().get("set-cookie").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains("too easy to guess"), "{html}");
        assert!(html.contains(reason), "{password:?}: {html}");
    }
    assert_eq!(users(&node).await, before);
    let fields = [
        ("username", "anabel"),
        ("password", "tortilla volcano seventeen"),
        ("next", "/"),
    ];
    assert_eq!(
        post_form(&node, "/register", &fields, None).await.status(),
        303
    );
    node.shutdown().await;
}
