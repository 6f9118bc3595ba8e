//! NUL and other control characters in what people type: 422 naming the field and nothing
//! written, the same on SQLite and PostgreSQL (which cannot store NUL at all and used to answer
//! 500). A login with such a username is the usual 401.

use harness::TestNode;
use market::entities::proposal;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::order_pages::browser::{csrf_of, log_in, post_form, register};
use crate::support::{assert_invalid, listing_total};
use crate::validation::sample_with;

async fn proposals(node: &TestNode) -> u64 {
    proposal::Entity::find().count(&node.ctx.db).await.unwrap()
}

#[tokio::test]
async fn nul_in_a_proposal_is_422_on_the_api_and_the_form_and_writes_nothing() {
    let node = TestNode::spawn().await;
    let bea = node.member("bea").await;
    let cases = [
        ("title", json!({"title": "Paint\0it", "hours": 1})),
        ("title", json!({"title": "\u{202E}gpj.exe", "hours": 1})),
        ("title", json!({"title": "two\nlines", "hours": 1})),
        (
            "text",
            json!({"title": "Paint", "text": "blue\0", "hours": 1}),
        ),
        (
            "text",
            json!({"title": "Paint", "text": "esc\u{1b}[31m", "hours": 1}),
        ),
        (
            "options[1]",
            json!({"title": "Paint", "options": ["blue", "re\0d"], "hours": 1}),
        ),
    ];
    for (field, body) in cases {
        let response = node
            .post_json("/api/v1/proposals", Some(&bea.token), &body)
            .await;
        let error = assert_invalid(response, field, &body.to_string()).await;
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "the message names the field: {error}"
        );
    }
    assert_eq!(proposals(&node).await, 0);

    // Several lines, tabs and balanced right-to-left marks are text; CRLF becomes LF.
    let made = node
        .post_json(
            "/api/v1/proposals",
            Some(&bea.token),
            &json!({
                "title": "Paint \u{202B}כחול\u{202C} or red?",
                "text": "Line one\r\n\tLine two",
                "hours": 1,
            }),
        )
        .await;
    assert_eq!(made.status(), 201);
    let made: serde_json::Value = made.json().await.unwrap();
    assert_eq!(made["text"], "Line one\n\tLine two", "{made}");

    // The page form: refused with the message, not a 500; nothing written.
    let session = log_in(&node, "bea").await;
    let csrf = csrf_of(&node, &session).await;
    let refused = post_form(
        &node,
        "/coop/proposals",
        &[
            ("csrf", &csrf),
            ("title", "Market\0day"),
            ("text", ""),
            ("options", ""),
            ("days", "3"),
        ],
        Some(&session),
    )
    .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("control characters"), "{html}");
    assert_eq!(proposals(&node).await, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn a_nul_in_a_username_is_a_wrong_login_or_a_refused_registration() {
    let node = TestNode::spawn().await;
    node.member("root").await;
    let login = node.login("ro\0ot", harness::PASSWORD).await;
    assert_eq!(login.status(), 401, "{}", login.text().await.unwrap());
    // The login form: shown again with the usual message.
    let form = post_form(
        &node,
        "/login",
        &[("username", "ro\0ot"), ("password", harness::PASSWORD)],
        None,
    )
    .await;
    assert_eq!(form.status(), 401);
    assert!(
        form.text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
    // Registration: 422 naming the field, on the API and the form (shown again).
    let api = node
        .post_json(
            "/api/v1/accounts",
            None,
            &json!({"username": "d\0n", "password": "a long enough secret"}),
        )
        .await;
    assert_invalid(api, "username", "NUL in a new username").await;
    let form = post_form(
        &node,
        "/register",
        &[("username", "d\0n"), ("password", "a long enough secret")],
        None,
    )
    .await;
    assert_eq!(form.status(), 422);
    assert!(form.text().await.unwrap().contains("Open a buyer account"));
    node.shutdown().await;
}

#[tokio::test]
async fn control_characters_in_listings_shops_and_applications_are_422() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.shop_with_listing(&ana, "pottery").await;
    let before = listing_total(&node, "pottery").await;
    for (field, value) in [
        ("title", "Mug\0"),
        ("title", "Mug\u{1b}[31m"),
        ("title", "Mug\tcup"),
        ("title", "Mu\u{85}g"),
        ("title", "\u{2067}Mug"),
        ("description", "A mug\0"),
        ("description", "A mug\u{7f}"),
    ] {
        let created = node
            .create_listing(&ana, "pottery", &sample_with(field, json!(value)))
            .await;
        assert_invalid(created, field, &format!("{value:?}")).await;
    }
    assert_eq!(listing_total(&node, "pottery").await, before);

    let shop = node.create_shop(&ana, "weaving", "Ana's\0Weaving").await;
    assert_invalid(shop, "name", "NUL in a shop name").await;
    let bio = node
        .post_json(
            "/api/v1/shops",
            Some(&ana.token),
            &json!({"handle": "weaving", "name": "Weaving", "bio": "rugs\0"}),
        )
        .await;
    assert_invalid(bio, "bio", "NUL in a bio").await;

    let dan = register(&node, "dan").await;
    let dan_csrf = csrf_of(&node, &dan).await;
    let token = node.login("dan", "a long enough secret").await;
    let token: serde_json::Value = token.json().await.unwrap();
    let applied = node
        .post_json(
            "/api/v1/membership",
            token["token"].as_str(),
            &json!({"statement": "let me\0in"}),
        )
        .await;
    assert_invalid(applied, "statement", "NUL in a statement").await;
    let form = post_form(
        &node,
        "/coop/membership/apply",
        &[("csrf", &dan_csrf), ("statement", "let me\0in")],
        Some(&dan),
    )
    .await;
    assert_eq!(form.status(), 422);
    assert!(
        market::service::membership::pending(&node.ctx)
            .await
            .unwrap()
            .is_empty()
    );

    // Text that reaches a lookup unparsed (a search term, a path segment) is never a 500.
    for path in [
        "/api/v1/catalog?q=mug%00",
        "/api/v1/shops/pot%00tery",
        "/api/v1/listings?q=%00",
        "/shops/pot%00tery",
    ] {
        let status = node.get(path, None).await.status().as_u16();
        assert!(status < 500, "{path}: {status}");
    }
    node.shutdown().await;
}
