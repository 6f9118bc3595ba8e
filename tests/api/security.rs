//! Login rate limiting (API and login form share the count) and the security headers every
//! answer carries.

use harness::{PASSWORD, TestNode};
use serde_json::json;

#[tokio::test]
async fn ten_wrong_passwords_lock_the_username_out_for_a_while() {
    let node = TestNode::spawn().await;
    node.member("bea").await;
    node.member("cai").await;
    let login = |user: &str, password: &str| {
        let body = json!({"username": user, "password": password});
        let node = &node;
        async move { node.post_json("/api/v1/auth/login", None, &body).await }
    };
    for _ in 0..10 {
        assert_eq!(login("bea", "not it at all").await.status(), 401);
    }
    // Now even the right password is refused, without being checked, with a wait.
    let locked = login("Bea", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    let wait: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 800 && wait <= 900, "{wait}");
    let body: serde_json::Value = locked.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // The login form counts the same username.
    let form = node
        .http
        .post(node.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=bea&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 429);
    assert!(
        form.text()
            .await
            .unwrap()
            .contains("Too many wrong passwords")
    );
    // Other accounts are not affected, and a success clears a username's count.
    assert_eq!(login("cai", "wrong").await.status(), 401);
    assert_eq!(login("cai", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn pages_forbid_scripts_framing_and_foreign_forms() {
    let node = TestNode::spawn().await;
    for path in ["/", "/login", "/transparency", "/api/v1/catalog"] {
        let response = node.get(path, None).await;
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        for part in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("script-src"), "no script allowed: {csp}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["referrer-policy"], "same-origin");
    }
    // Pages carry the visitor's own header: no shared cache keeps them. The stylesheet and
    // JSON keep their own rules.
    for path in ["/", "/transparency", "/search?q=x", "/no-such-page"] {
        let response = node.get(path, None).await;
        assert_eq!(
            response.headers()["cache-control"],
            "private, no-cache",
            "{path}"
        );
    }
    // Forms with a session's secrets are not kept at all.
    let login = node.get("/login", None).await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let css = node.get("/static/style.css", None).await;
    assert_eq!(css.headers()["cache-control"], "public, max-age=3600");
    let json = node.get("/api/v1/catalog", None).await;
    assert!(json.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn registrations_from_one_address_are_limited_per_hour() {
    use harness::Storage;
    // The test client stands in for a reverse proxy on this machine.
    let node = TestNode::spawn_with(Storage::Default, |c| {
        c.server.registrations_per_hour = 3;
        c.server.trusted_proxies = vec!["127.0.0.1".to_string().try_into().unwrap()];
    })
    .await;
    let users = || async {
        market::entities::user::Entity::find()
            .count(&node.ctx.db)
            .await
            .unwrap()
    };
    use sea_orm::{EntityTrait, PaginatorTrait};
    let before = users().await;
    for name in ["ana", "bob"] {
        let response = node
            .post_json(
                "/api/v1/accounts",
                None,
                &json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 201, "{name}");
    }
    // A refused registration (a bad password) does not count.
    let response = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "cy", "password": "short"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    // The third through the form, the fourth refused by the form and the API alike.
    let form = async |name: &str| {
        let fields = [("username", name), ("password", PASSWORD), ("next", "/")];
        crate::order_pages::browser::post_form(&node, "/register", &fields, None).await
    };
    assert_eq!(form("cy").await.status(), 303);
    let refused = form("dee").await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&wait), "{wait}");
    assert!(refused.text().await.unwrap().contains("Too many accounts"));
    let response = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "eve", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(users().await, before + 3, "nothing made after the limit");
    // Behind a trusted proxy, each client address counts on its own.
    let proxied = node
        .http
        .post(node.url("/api/v1/accounts"))
        .header("x-forwarded-for", "198.51.100.20")
        .json(&json!({"username": "fay", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 201);
}

#[tokio::test]
async fn a_web_session_unused_for_thirty_days_is_over() {
    use market::entities::api_token;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let node = TestNode::spawn().await;
    let api = node.member("bea").await;
    let login = node
        .http
        .post(node.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=bea&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let orders = |cookie: String| {
        let node = &node;
        async move {
            node.http
                .get(node.url("/orders"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(orders(cookie.clone()).await.status(), 200);
    // 29 days unused: still in. 31 days: out, and the session is deleted.
    let db = node.ctx.db.clone();
    let age = |days: i64| {
        let db = db.clone();
        async move {
            let then = chrono::Utc::now() - chrono::Duration::days(days);
            api_token::Entity::update_many()
                .col_expr(api_token::Column::CreatedAt, Expr::value(then))
                .col_expr(api_token::Column::LastUsedAt, Expr::value(then))
                .filter(api_token::Column::Label.eq("web session"))
                .exec(&db)
                .await
                .unwrap();
        }
    };
    age(29).await;
    assert_eq!(orders(cookie.clone()).await.status(), 200);
    age(31).await;
    let out = orders(cookie).await;
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let left = api_token::Entity::find()
        .filter(api_token::Column::Label.eq("web session"))
        .all(&node.ctx.db)
        .await
        .unwrap();
    assert!(left.is_empty(), "the expired session is deleted");
    // API tokens do not expire by age.
    api_token::Entity::update_many()
        .col_expr(
            api_token::Column::LastUsedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(400)),
        )
        .exec(&node.ctx.db)
        .await
        .unwrap();
    assert_eq!(node.get("/api/v1/me", Some(&api.token)).await.status(), 200);
}

#[tokio::test]
async fn login_and_registration_forms_from_another_site_are_refused() {
    let node = TestNode::spawn().await;
    node.member("bea").await;
    let post = |path: &'static str, body: String, origin: Option<String>| {
        let node = &node;
        async move {
            let mut request = node
                .http
                .post(node.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.send().await.unwrap()
        }
    };
    let login = format!("username=bea&password={}", PASSWORD.replace(' ', "+"));
    let evil = Some("https://evil.example".to_string());
    let refused = post("/login", login.clone(), evil.clone()).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("set-cookie").is_none(), "no session");
    let register = "username=mallory&password=a+long+enough+secret".to_string();
    assert_eq!(
        post("/register", register.clone(), evil).await.status(),
        403
    );
    assert!(
        market::service::accounts::find_user(&node.ctx, "mallory")
            .await
            .unwrap()
            .is_none()
    );
    // From the node itself, or without an Origin (a script), the forms work.
    assert_eq!(
        post("/login", login.clone(), Some(node.base.clone()))
            .await
            .status(),
        303
    );
    assert_eq!(post("/login", login, None).await.status(), 303);
    assert_eq!(
        post("/register", register, Some(node.base.clone()))
            .await
            .status(),
        303
    );
}
