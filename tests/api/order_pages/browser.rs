//! Driving pages as a browser without JavaScript does: GETs and form POSTs with the session
//! cookie, and reading values back out of the HTML.

use harness::{PASSWORD, TestNode};
use reqwest::Response;

/// `GET path` as a browser with the session cookie, if given: the status and the HTML.
pub(crate) async fn page(node: &TestNode, path: &str, session: Option<&str>) -> (u16, String) {
    let response = get(node, path, session).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

pub(crate) async fn get(node: &TestNode, path: &str, session: Option<&str>) -> Response {
    let mut request = node.http.get(node.url(path));
    if let Some(token) = session {
        request = request.header("cookie", format!("tianguis_session={token}"));
    }
    request.send().await.unwrap()
}

/// `POST path` as a browser submits a form.
pub(crate) async fn post_form(
    node: &TestNode,
    path: &str,
    fields: &[(&str, &str)],
    session: Option<&str>,
) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut request = node
        .http
        .post(node.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(token) = session {
        request = request.header("cookie", format!("tianguis_session={token}"));
    }
    request.send().await.unwrap()
}

pub(crate) fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The session token a login or registration form's answer sets.
pub(crate) fn session_of(response: &Response) -> String {
    assert_eq!(response.status(), 303);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("tianguis_session="))
        .expect("a session cookie");
    let pair = cookie.split(';').next().unwrap();
    pair.trim_start_matches("tianguis_session=").to_string()
}

/// Open a buyer account through the registration form; its session.
pub(crate) async fn register(node: &TestNode, username: &str) -> String {
    let fields = [("username", username), ("password", "a long enough secret")];
    session_of(&post_form(node, "/register", &fields, None).await)
}

/// Log in through the form (accounts made by `TestNode::member`); the session.
pub(crate) async fn log_in(node: &TestNode, username: &str) -> String {
    let fields = [("username", username), ("password", PASSWORD)];
    session_of(&post_form(node, "/login", &fields, None).await)
}

/// The session's CSRF value, from the logout form (which every session has).
pub(crate) async fn csrf_of(node: &TestNode, session: &str) -> String {
    field(&page(node, "/logout", Some(session)).await.1, "csrf")
}

/// The text between the first `start` and the next `end`.
pub(crate) fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {html}"))
        + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

/// The value of the first input named `name`.
pub(crate) fn field(html: &str, name: &str) -> String {
    between(html, &format!(r#"name="{name}" value=""#), "\"").to_string()
}

/// The value of the shipping option radio button whose label starts with `label`.
pub(crate) fn option_value(html: &str, label: &str) -> String {
    html.split(r#"name="shipping_option" value=""#)
        .skip(1)
        .find(|rest| between(rest, ">", "<").trim().starts_with(label))
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .unwrap_or_else(|| panic!("no option {label} in {html}"))
}
