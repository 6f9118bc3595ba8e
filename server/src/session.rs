//! Browser sessions for the HTML pages: log in, register, log out, and the extractors a page
//! uses to know who is looking at it.
//!
//! A session is an ordinary API token (`accounts::issue_token`, labelled "web session") kept in
//! the `tianguis_session` cookie: HttpOnly so scripts cannot read it, SameSite=Lax so other
//! sites' forms do not carry it, Secure when the node is served over https. Forms that change
//! something carry a CSRF value derived from the token ([`PageUser::csrf`]) and check it with
//! [`check_csrf`]; SameSite alone does not cover older browsers or same-site subdomains.

use std::convert::Infallible;

use askama::Template;
use axum::{
    Router,
    extract::{FromRequestParts, OriginalUri},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
};
use market::{Instance, entities::user, service::accounts};
use sha2::{Digest, Sha256};

use crate::{pages::Nav, routes::AppState};

mod forms;

/// The name of the session cookie.
pub const COOKIE: &str = "tianguis_session";

/// The session routes: `/login`, `/register` and `/logout`.
pub fn router() -> Router<AppState> {
    forms::routes()
}

/// The account behind a valid session cookie. As an extractor it sends visitors without one to
/// `/login?next=…` (303), so they come back to the page after logging in.
pub struct PageUser {
    /// The account.
    pub user: user::Model,
    /// The session's token (the cookie's value), to revoke on logout.
    pub token: String,
}

impl PageUser {
    /// The value a form must send back in its `csrf` field: hex SHA-256 of
    /// `"tianguis-csrf:" + token`. Another site cannot compute it without the cookie.
    pub fn csrf(&self) -> String {
        csrf_for(&self.token)
    }
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match session_user(&parts.headers, state).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(login_redirect(parts, &state.ctx.instance)),
            Err(e) => Err(error_page(
                &state.ctx.instance.name,
                Nav::unknown(),
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.public_message(),
            )),
        }
    }
}

/// The logged-in account, if any. Never rejects: pages that anyone may see but that greet a
/// logged-in visitor use this. (A database failure counts as logged out, and is logged.)
pub struct MaybeUser(pub Option<PageUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(
            session_user(&parts.headers, state)
                .await
                .unwrap_or_default(),
        ))
    }
}

/// Check the `csrf` field a form sent against the session's (in constant time). A mismatch is
/// a 403 page telling the visitor to reload the form.
// A `Response` is what a handler returns early with (`if let Err(r) = check_csrf(..)`); boxing
// it would only add a step at every call site, and the error path is rare.
#[allow(clippy::result_large_err)]
pub fn check_csrf(user: &PageUser, submitted: &str) -> Result<(), Response> {
    if constant_time_eq(user.csrf().as_bytes(), submitted.as_bytes()) {
        return Ok(());
    }
    // PageUser does not know the node's name; the page says "Tianguis" in its header instead.
    Err(error_page(
        "Tianguis",
        Nav::session(user),
        StatusCode::FORBIDDEN,
        "This form did not come from a page of this site, or it is out of date. \
         Go back, reload the page and submit it again.",
    ))
}

/// The session cookie's value, if the request has one that looks like a token.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie_values(headers).find(|v| is_plausible_token(v))
}

/// Every value of the session cookie in the `Cookie` headers (a browser sends one header;
/// HTTP/2 clients may split it into several).
fn cookie_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// Tokens are 43 characters of URL-safe base64; anything else is not worth a database query.
fn is_plausible_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The session behind the cookie: `None` without a cookie or with a revoked token.
async fn session_user(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<PageUser>, market::Error> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    match accounts::user_for_token(&state.ctx, token).await {
        Ok(user) => Ok(Some(PageUser {
            user,
            token: token.to_string(),
        })),
        Err(market::Error::Unauthorized(_)) => Ok(None),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            Err(e)
        }
    }
}

/// 303 to the login form, which sends the visitor back to this path and query afterwards. A
/// stale cookie is cleared on the way.
fn login_redirect(parts: &Parts, instance: &Instance) -> Response {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    let here = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let response = Redirect::to(&format!("/login{}", next_query(here))).into_response();
    if cookie_values(&parts.headers).next().is_some() {
        with_cookie(response, &cleared_cookie(instance))
    } else {
        response
    }
}

/// `?next=…` for a login or register link that returns to `next`; empty for `/`.
fn next_query(next: &str) -> String {
    let next = safe_next(next);
    if next == "/" {
        return String::new();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("?next={encoded}")
}

/// Where to go after logging in: `next` if it is a path on this node, else `/`. A second `/` or
/// a `\` would make it another host (`//evil.example`, `/\evil.example`), and browsers drop tabs
/// and newlines before they parse, so only visible ASCII is accepted.
pub(crate) fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2048
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if local { next } else { "/" }
}

fn csrf_for(token: &str) -> String {
    let digest = Sha256::digest(format!("tianguis-csrf:{token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal bytes, compared without stopping at the first difference (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn secure_attribute(instance: &Instance) -> &'static str {
    if instance.base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    }
}

/// The `Set-Cookie` value that starts a session.
fn session_cookie(instance: &Instance, token: &str) -> String {
    format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/{}",
        secure_attribute(instance)
    )
}

/// The `Set-Cookie` value that ends one.
fn cleared_cookie(instance: &Instance) -> String {
    format!(
        "{COOKIE}=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/{}",
        secure_attribute(instance)
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "session cookie is not a header value");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Pages with credentials or CSRF values in them are not stored by browsers or proxies.
pub(crate) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    node_name: &'a str,
    nav: Nav,
    heading: &'a str,
    message: &'a str,
}

fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => no_store(Html(html).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn error_page(node_name: &str, nav: Nav, status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        node_name,
        nav,
        heading: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    (status, render(&page)).into_response()
}

/// A failure that is the server's fault: logged, shown as a 500 page.
fn internal_error(state: &AppState, err: &market::Error) -> Response {
    tracing::error!(error = %err, "session page failed");
    error_page(
        &state.ctx.instance.name,
        Nav::unknown(),
        StatusCode::INTERNAL_SERVER_ERROR,
        &err.public_message(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        for local in ["/", "/search?q=mug&page=2", "/shops/pottery", "/a//b"] {
            assert_eq!(safe_next(local), local);
        }
        for foreign in [
            "",
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "/ /x",
            "evil.example",
            "javascript:alert(1)",
            "/ü",
        ] {
            assert_eq!(safe_next(foreign), "/", "{foreign:?}");
        }
    }

    #[test]
    fn next_is_percent_encoded_in_the_login_link() {
        assert_eq!(next_query("/"), "");
        assert_eq!(
            next_query("/search?q=mug&page=2"),
            "?next=%2Fsearch%3Fq%3Dmug%26page%3D2"
        );
        assert_eq!(next_query("//evil.example"), "");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; a=b"));
        assert_eq!(session_token(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=1; tianguis_session=abc-DEF_123 ; y=2"),
        );
        assert_eq!(session_token(&headers), Some("abc-DEF_123"));

        let mut bad = HeaderMap::new();
        bad.append(
            header::COOKIE,
            HeaderValue::from_static("tianguis_session=not a token"),
        );
        assert_eq!(session_token(&bad), None);
        assert_eq!(cookie_values(&bad).count(), 1, "still cleared as stale");
    }

    #[test]
    fn cookies_are_secure_on_https_nodes_only() {
        let https = Instance::new("coop.example", "Coop", false, "/tmp".into(), 1).unwrap();
        let http = Instance::new("localhost:8080", "Dev", true, "/tmp".into(), 1).unwrap();
        assert_eq!(
            session_cookie(&https, "t"),
            "tianguis_session=t; HttpOnly; SameSite=Lax; Path=/; Secure"
        );
        assert_eq!(
            session_cookie(&http, "t"),
            "tianguis_session=t; HttpOnly; SameSite=Lax; Path=/"
        );
        assert!(cleared_cookie(&https).contains("Max-Age=0"));
        assert!(cleared_cookie(&https).ends_with("; Secure"));
    }

    #[test]
    fn csrf_is_the_hex_sha256_of_the_prefixed_token() {
        // printf 'tianguis-csrf:token' | sha256sum
        let csrf = csrf_for("token");
        assert_eq!(csrf.len(), 64);
        assert_eq!(csrf, EXPECTED_CSRF_OF_TOKEN);
        assert!(constant_time_eq(
            csrf.as_bytes(),
            EXPECTED_CSRF_OF_TOKEN.as_bytes()
        ));
        assert!(!constant_time_eq(csrf.as_bytes(), b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }

    const EXPECTED_CSRF_OF_TOKEN: &str =
        "3603137f6ea83a96c1e9a51c2ed9d899717f3bf00d55ae44b8352efe90d1998e";
}
