use harness::{PASSWORD, TestNode};
use serde_json::Value;

#[tokio::test]
async fn login_gives_a_token_that_opens_me_and_logout_revokes_it() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    let me = node.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me.status(), 200);
    let body: Value = me.json().await.unwrap();
    assert_eq!(body["username"], "ana");
    assert_eq!(body["role"], "member");

    let out = node
        .post_json("/api/v1/auth/logout", Some(&ana.token), &Value::Null)
        .await;
    assert_eq!(out.status(), 204);
    let me = node.get("/api/v1/me", Some(&ana.token)).await;
    assert_eq!(me.status(), 401);
    assert_eq!(me.headers()["www-authenticate"], "Bearer");

    let wrong = node.login("ana", "not the password").await;
    assert_eq!(wrong.status(), 401);
    let nobody = node.login("nobody", PASSWORD).await;
    assert_eq!(nobody.status(), 401);
    let body: Value = nobody.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    node.shutdown().await;
}
