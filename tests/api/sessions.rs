//! Browser sessions: logging in and out through the HTML forms, the session cookie, where the
//! visitor is sent afterwards, and the CSRF value that guards logging out.

use harness::{PASSWORD, TestNode};
use market::entities::api_token;
use reqwest::Response;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `POST path` as a browser submits a form, with the session cookie if given.
async fn post_form(
    node: &TestNode,
    path: &str,
    fields: &[(&str, &str)],
    token: Option<&str>,
) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut request = node
        .http
        .post(node.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(token) = token {
        request = request.header("cookie", format!("theme=dark; tianguis_session={token}"));
    }
    request.send().await.unwrap()
}

/// `GET path` as a browser with the session cookie, if given.
async fn get_page(node: &TestNode, path: &str, token: Option<&str>) -> Response {
    let mut request = node.http.get(node.url(path));
    if let Some(token) = token {
        request = request.header("cookie", format!("tianguis_session={token}"));
    }
    request.send().await.unwrap()
}

/// The `Set-Cookie` header for the session cookie, if the response has one.
fn session_set_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("tianguis_session="))
}

/// The token a `Set-Cookie: tianguis_session=TOKEN; …` header carries.
fn token_in(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.strip_prefix("tianguis_session=").unwrap().to_string()
}

fn location(response: &Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

/// Log in through the form, expecting a 303 to `/` and a cookie; the session's token.
async fn log_in(node: &TestNode, username: &str) -> String {
    let response = post_form(
        node,
        "/login",
        &[("username", username), ("password", PASSWORD)],
        None,
    )
    .await;
    assert_eq!(response.status(), 303);
    token_in(&session_set_cookie(&response).expect("a session cookie"))
}

/// `GET /api/v1/me` with the session's token as a bearer token: the status and body.
async fn me(node: &TestNode, token: &str) -> (u16, Value) {
    let response = node.get("/api/v1/me", Some(token)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn token_count(node: &TestNode) -> u64 {
    api_token::Entity::find().count(&node.ctx.db).await.unwrap()
}

fn expected_csrf(token: &str) -> String {
    let digest = Sha256::digest(format!("tianguis-csrf:{token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn logging_in_sets_an_http_only_lax_cookie_and_returns_to_next() {
    let node = TestNode::spawn().await;
    node.member("ana").await;

    let form = get_page(&node, "/login?next=%2Fsearch%3Fq%3Dmug", None).await;
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let html = form.text().await.unwrap();
    assert!(
        html.contains(r#"name="next" value="/search?q=mug""#),
        "{html}"
    );
    assert!(!html.contains("You are logged in"), "{html}");

    let response = post_form(
        &node,
        "/login",
        &[
            ("username", "ana"),
            ("password", PASSWORD),
            ("next", "/search?q=mug"),
        ],
        None,
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/search?q=mug");
    let cookie = session_set_cookie(&response).expect("a session cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).skip(1).collect();
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(
        !cookie.to_ascii_lowercase().contains("secure"),
        "plain http node: {cookie}"
    );

    let token = token_in(&cookie);
    let (status, body) = me(&node, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "ana");

    let html = get_page(&node, "/login", Some(&token))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("You are logged in as <strong>ana</strong>"),
        "{html}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_401_and_no_cookie() {
    let node = TestNode::spawn().await;
    node.member("ana").await;
    let tokens = token_count(&node).await;

    for (username, password) in [("ana", "not-the-Pa55word"), ("nobody", PASSWORD)] {
        let response = post_form(
            &node,
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("next", "/search"),
            ],
            None,
        )
        .await;
        assert_eq!(response.status(), 401, "{username}");
        assert_eq!(session_set_cookie(&response), None, "{username}");
        let html = response.text().await.unwrap();
        assert!(html.contains("Wrong username or password"), "{html}");
        assert!(!html.contains(password), "the password is echoed: {html}");
        assert!(
            html.contains(&format!(r#"name="username" value="{username}""#)),
            "the username is kept: {html}"
        );
        assert!(html.contains(r#"name="next" value="/search""#), "{html}");
    }
    assert_eq!(token_count(&node).await, tokens, "no session was issued");
    node.shutdown().await;
}

#[tokio::test]
async fn next_outside_the_node_goes_home() {
    let node = TestNode::spawn().await;
    node.member("ana").await;
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "evil.example",
        "",
    ] {
        let response = post_form(
            &node,
            "/login",
            &[("username", "ana"), ("password", PASSWORD), ("next", next)],
            None,
        )
        .await;
        assert_eq!(response.status(), 303, "{next:?}");
        assert_eq!(location(&response), "/", "{next:?}");
        assert!(session_set_cookie(&response).is_some(), "{next:?}");
    }
    let html = get_page(&node, "/login?next=%2F%2Fevil.example%2F", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"name="next" value="/""#), "{html}");
    assert!(!html.contains("evil.example"), "{html}");
    node.shutdown().await;
}

#[tokio::test]
async fn registering_opens_a_buyer_account_and_logs_it_in() {
    let node = TestNode::spawn().await;
    let form = get_page(&node, "/register?next=%2Fsearch", None).await;
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains(r#"action="/register""#), "{html}");
    assert!(html.contains(r#"href="/login?next=%2Fsearch""#), "{html}");

    let response = post_form(
        &node,
        "/register",
        &[
            ("username", "bruno"),
            ("password", "a long enough secret"),
            ("email", " bruno@example.org "),
            ("next", "/search"),
        ],
        None,
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/search");
    let token = token_in(&session_set_cookie(&response).expect("a session cookie"));
    let (status, body) = me(&node, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "bruno");
    assert_eq!(body["role"], "buyer");

    // Refusals show the form again with the reason, keep what was typed except the password,
    // and neither write an account nor start a session.
    let cases = [
        (
            "dora",
            "short77",
            "",
            422,
            "password: must be at least 8 characters",
        ),
        ("Bad Name!", "a long enough secret", "", 422, "username:"),
        (
            "dora",
            "a long enough secret",
            "not-an-address",
            422,
            "email:",
        ),
        ("bruno", "another long secret", "", 409, "taken"),
    ];
    for (username, password, email, status, message) in cases {
        let response = post_form(
            &node,
            "/register",
            &[
                ("username", username),
                ("password", password),
                ("email", email),
            ],
            None,
        )
        .await;
        assert_eq!(response.status(), status, "{username} {email}");
        assert_eq!(session_set_cookie(&response), None);
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{message}: {html}");
        assert!(!html.contains(password), "the password is echoed: {html}");
        assert!(
            html.contains(&format!(r#"name="username" value="{username}""#)),
            "{html}"
        );
    }
    let users = market::service::accounts::list_users(&node.ctx)
        .await
        .unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["bruno"]);
    assert_eq!(users[0].email.as_deref(), Some("bruno@example.org"));
    node.shutdown().await;
}

#[tokio::test]
async fn logout_needs_the_forms_csrf_value_and_then_revokes_the_session() {
    let node = TestNode::spawn().await;
    node.member("ana").await;
    let token = log_in(&node, "ana").await;
    let other_session = log_in(&node, "ana").await;

    // The logout form carries the session's CSRF value.
    let page = get_page(&node, "/logout", Some(&token)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = expected_csrf(&token);
    assert!(
        html.contains(&format!(r#"name="csrf" value="{csrf}""#)),
        "{html}"
    );

    let wrong = [
        vec![],
        vec![("csrf", String::new())],
        vec![("csrf", "0".repeat(64))],
        vec![("csrf", expected_csrf(&other_session))],
        vec![("csrf", csrf.to_uppercase())],
    ];
    for fields in &wrong {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = post_form(&node, "/logout", &fields, Some(&token)).await;
        assert_eq!(response.status(), 403, "{fields:?}");
        assert_eq!(session_set_cookie(&response), None, "{fields:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains("reload the page"), "{html}");
        assert_eq!(
            me(&node, &token).await.0,
            200,
            "session survives {fields:?}"
        );
    }
    // A POST without a form body at all is refused the same way.
    let bare = node
        .http
        .post(node.url("/logout"))
        .header("cookie", format!("tianguis_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 403);
    assert_eq!(me(&node, &token).await.0, 200);

    let response = post_form(&node, "/logout", &[("csrf", &csrf)], Some(&token)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    let cleared = session_set_cookie(&response).expect("the cookie is cleared");
    assert!(cleared.starts_with("tianguis_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, body) = me(&node, &token).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        me(&node, &other_session).await.0,
        200,
        "only this session ends"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn pages_that_need_a_session_send_visitors_to_log_in_and_back() {
    let node = TestNode::spawn().await;
    node.member("ana").await;

    let response = get_page(&node, "/logout?from=menu", None).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?next=%2Flogout%3Ffrom%3Dmenu");
    assert_eq!(session_set_cookie(&response), None);

    // A revoked or made-up session cookie is cleared on the way.
    let response = get_page(&node, "/logout", Some("no-such-session-token")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?next=%2Flogout");
    let cleared = session_set_cookie(&response).expect("the stale cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    let form = get_page(&node, "/login?next=%2Flogout%3Ffrom%3Dmenu", None).await;
    let html = form.text().await.unwrap();
    assert!(
        html.contains(r#"name="next" value="/logout?from=menu""#),
        "{html}"
    );
    let response = post_form(
        &node,
        "/login",
        &[
            ("username", "ana"),
            ("password", PASSWORD),
            ("next", "/logout?from=menu"),
        ],
        None,
    )
    .await;
    assert_eq!(location(&response), "/logout?from=menu");
    let token = token_in(&session_set_cookie(&response).unwrap());
    let page = get_page(&node, "/logout?from=menu", Some(&token)).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("You are logged in as <strong>ana</strong>")
    );
    node.shutdown().await;
}
