//! The login, registration and logout pages and what their forms do.

use askama::Template;
use axum::{
    Form, Router,
    extract::{Query, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use market::{
    entities::user,
    service::accounts,
    types::{Password, Username},
};
use serde::Deserialize;

use super::{
    MaybeUser, PageUser, check_csrf, cleared_cookie, internal_error, next_query, no_store, render,
    safe_next, session_cookie, with_cookie,
};
use crate::{client_addr::ClientAddr, pages::Nav, routes::AppState};

/// `/login`, `/register` and `/logout`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/register", get(register_page).post(register))
        .route("/logout", get(logout_page).post(logout))
}

/// Who is logged in, for the note (and log-out button) on the login and register pages.
struct Current {
    username: String,
    csrf: String,
}

impl Current {
    fn of(user: &PageUser) -> Self {
        Current {
            username: user.user.username.clone(),
            csrf: user.csrf(),
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    node_name: &'a str,
    nav: Nav,
    current: Option<Current>,
    error: Option<String>,
    username: String,
    next: String,
    next_query: String,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    node_name: &'a str,
    nav: Nav,
    current: Option<Current>,
    error: Option<String>,
    username: String,
    email: String,
    next: String,
    next_query: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    node_name: &'a str,
    nav: Nav,
    current: Current,
}

/// The `next` query parameter of `GET /login` and `GET /register`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NextParam {
    next: String,
}

/// The fields of the login form (missing ones are empty).
#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    username: String,
    password: String,
    next: String,
}

/// The fields of the registration form (missing ones are empty).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RegisterForm {
    username: String,
    password: String,
    email: String,
    next: String,
}

/// The fields of the logout form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct LogoutForm {
    csrf: String,
}

/// `GET /login?next=/path`: the form, and who is logged in already, if anyone.
async fn login_page(
    State(state): State<AppState>,
    MaybeUser(current): MaybeUser,
    Query(param): Query<NextParam>,
) -> Response {
    let next = safe_next(&param.next);
    render(&LoginPage {
        node_name: &state.ctx.instance.name,
        nav: Nav::build(&state, current.as_ref()).await,
        current: current.as_ref().map(Current::of),
        error: None,
        username: String::new(),
        next: next.to_string(),
        next_query: next_query(next),
    })
}

/// `POST /login`: a session cookie and 303 to `next`, or the form again with 401.
async fn login(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Some(refused) = refuse_cross_site(&state, &headers) {
        return refused;
    }
    let next = safe_next(&form.next);
    let slot = match state.login_throttle.reserve(&form.username) {
        Ok(slot) => slot,
        Err(wait) => {
            let page = render(&LoginPage {
                node_name: &state.ctx.instance.name,
                nav: Nav::guest(),
                current: None,
                error: Some(format!(
                    "Too many wrong passwords for this username. Try again in {} minutes.",
                    wait.div_ceil(60)
                )),
                username: form.username.chars().take(64).collect(),
                next: next.to_string(),
                next_query: next_query(next),
            });
            return too_many(page, wait);
        }
    };
    // Absurd lengths are refused before hashing (as the API does), and count as wrong.
    let user = if form.username.len() > 64 || form.password.len() > 1024 {
        Err(market::Error::Unauthorized(
            "wrong username or password".into(),
        ))
    } else {
        accounts::authenticate(&state.ctx, &form.username, &form.password).await
    };
    match user {
        Ok(user) => {
            slot.release();
            state.login_throttle.forget(&form.username);
            start_session(&state, &user, next).await
        }
        Err(e) if e.is_internal() => {
            slot.release();
            internal_error(&state, &e)
        }
        Err(_) => {
            slot.count();
            let page = render(&LoginPage {
                node_name: &state.ctx.instance.name,
                nav: Nav::guest(),
                current: None,
                error: Some("Wrong username or password. Check both and try again.".into()),
                username: form.username.chars().take(64).collect(),
                next: next.to_string(),
                next_query: next_query(next),
            });
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
    }
}

/// Issue a token for `user`, set it as the cookie and 303 to `next`.
async fn start_session(state: &AppState, user: &user::Model, next: &str) -> Response {
    match accounts::issue_token(&state.ctx, user, accounts::SESSION_LABEL).await {
        Ok(token) => no_store(with_cookie(
            Redirect::to(next).into_response(),
            &session_cookie(&state.ctx.instance, &token),
        )),
        Err(e) => internal_error(state, &e),
    }
}

/// `GET /register?next=/path`: the form to open a buyer account.
async fn register_page(
    State(state): State<AppState>,
    MaybeUser(current): MaybeUser,
    Query(param): Query<NextParam>,
) -> Response {
    let next = safe_next(&param.next);
    render(&RegisterPage {
        node_name: &state.ctx.instance.name,
        nav: Nav::build(&state, current.as_ref()).await,
        current: current.as_ref().map(Current::of),
        error: None,
        username: String::new(),
        email: String::new(),
        next: next.to_string(),
        next_query: next_query(next),
    })
}

/// `POST /register`: open a buyer account and log it in (303 to `next`), or show the form again
/// with the reason (422 for a bad field, 409 for a taken username).
async fn register(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: axum::http::HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Response {
    if let Some(refused) = refuse_cross_site(&state, &headers) {
        return refused;
    }
    let next = safe_next(&form.next);
    let slot = match state.registration_throttle.reserve(&client.key()) {
        Ok(slot) => slot,
        Err(wait) => {
            let page = render(&RegisterPage {
                node_name: &state.ctx.instance.name,
                nav: Nav::guest(),
                current: None,
                error: Some(format!(
                    "Too many accounts were opened from your network lately. \
                     Try again in {} minutes.",
                    wait.div_ceil(60)
                )),
                username: form.username.chars().take(64).collect(),
                email: form.email.chars().take(254).collect(),
                next: next.to_string(),
                next_query: next_query(next),
            });
            return too_many(page, wait);
        }
    };
    let registered = async {
        let username = Username::parse(&form.username)?;
        let password = Password::parse(&form.password)?;
        let email = Some(form.email.as_str()).filter(|e| !e.trim().is_empty());
        accounts::register_buyer(&state.ctx, &username, &password, email).await
    }
    .await;
    // An account opened counts against the limit; a refused one does not (crate::throttle).
    match registered {
        Ok(user) => {
            slot.count();
            start_session(&state, &user, next).await
        }
        Err(e) if e.is_internal() => {
            slot.release();
            internal_error(&state, &e)
        }
        Err(e) => {
            slot.release();
            let page = render(&RegisterPage {
                node_name: &state.ctx.instance.name,
                nav: Nav::guest(),
                current: None,
                error: Some(e.public_message()),
                username: form.username.chars().take(64).collect(),
                email: form.email.chars().take(254).collect(),
                next: next.to_string(),
                next_query: next_query(next),
            });
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, page).into_response()
        }
    }
}

/// `GET /logout`: a button to log out (a link cannot, as logging out must be a POST).
async fn logout_page(State(state): State<AppState>, user: PageUser) -> Response {
    render(&LogoutPage {
        node_name: &state.ctx.instance.name,
        nav: Nav::build(&state, Some(&user)).await,
        current: Current::of(&user),
    })
}

/// `POST /logout` with the form's `csrf`: revoke the session's token, clear the cookie, 303 to
/// `/`. Without a session there is nothing to revoke; the cookie is cleared all the same.
async fn logout(
    State(state): State<AppState>,
    MaybeUser(current): MaybeUser,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let instance = &state.ctx.instance;
    if let Some(user) = current {
        let submitted = form.map(|Form(f)| f.csrf).unwrap_or_default();
        if let Err(refused) = check_csrf(&user, &submitted) {
            return refused;
        }
        if let Err(e) = accounts::revoke_token(&state.ctx, &user.token).await {
            return internal_error(&state, &e);
        }
    }
    no_store(with_cookie(
        Redirect::to("/").into_response(),
        &cleared_cookie(instance),
    ))
}

/// Whether a browser says the request comes from another site: `Sec-Fetch-Site: cross-site`,
/// or an `Origin` that is not this node's. Requests without either (older browsers, scripts)
/// pass.
fn cross_site(headers: &axum::http::HeaderMap, base: &url::Url) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    match text("origin") {
        None => false,
        Some(origin) => origin.trim_end_matches('/') != base.origin().ascii_serialization(),
    }
}

/// The login and registration forms have no session yet, hence no CSRF value: a form posted
/// from another site (which could log a visitor into someone else's account) is refused by
/// its `Origin` instead. 403 with a page saying so.
fn refuse_cross_site(state: &AppState, headers: &axum::http::HeaderMap) -> Option<Response> {
    if !cross_site(headers, &state.ctx.instance.base_url) {
        return None;
    }
    Some(super::error_page(
        &state.ctx.instance.name,
        Nav::guest(),
        StatusCode::FORBIDDEN,
        "This form was sent from another site. Open the page on this node and send it again.",
    ))
}

/// The form's page again as 429, with `Retry-After: wait` (seconds).
fn too_many(page: Response, wait: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, wait.to_string())],
        page,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_from_other_sites_are_told_apart() {
        let base = url::Url::parse("https://coop.example/").unwrap_or_else(|_| unreachable!());
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = axum::http::HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, axum::http::HeaderValue::from_static(value));
            }
            map
        };
        assert!(
            !cross_site(&headers(&[]), &base),
            "no headers: a script or an old browser"
        );
        assert!(!cross_site(
            &headers(&[("origin", "https://coop.example")]),
            &base
        ));
        assert!(!cross_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &base
        ));
        assert!(cross_site(
            &headers(&[("origin", "https://evil.example")]),
            &base
        ));
        assert!(cross_site(
            &headers(&[("origin", "http://coop.example")]),
            &base
        ));
        assert!(cross_site(&headers(&[("origin", "null")]), &base));
        assert!(cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &base
        ));
    }
}
