//! Logging in for a bearer token, logging out, and the extractor that checks the token.

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{StatusCode, header, request::Parts},
};
use market::{
    entities::user,
    service::{accounts, shops},
};
use serde::Deserialize;

use super::{ApiError, ApiJson};
use crate::routes::AppState;

/// The account behind a valid `Authorization: Bearer TOKEN` header; 401 otherwise.
pub struct AuthUser {
    /// The account.
    pub user: user::Model,
    /// The raw token (to revoke on logout).
    pub token: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            market::Error::Unauthorized("log in first: send Authorization: Bearer TOKEN".into())
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| {
                market::Error::Unauthorized("the Authorization header must be Bearer TOKEN".into())
            })?;
        let user = accounts::user_for_token(&state.ctx, token).await?;
        Ok(AuthUser {
            user,
            token: token.to_string(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

/// `POST /api/v1/auth/login {username, password}` → `{token, username, role}`.
/// After too many wrong passwords for the username, attempts in flight included
/// (`crate::throttle`): 429 with `Retry-After`, the password not checked.
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Login>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let slot = match state.login_throttle.reserve(&body.username) {
        Ok(slot) => slot,
        Err(wait) => {
            return Ok(too_many(
                format!("too many wrong passwords for this username; try again in {wait} s"),
                wait,
            ));
        }
    };
    // Absurd lengths are wrong without hashing; they count as wrong passwords all the same.
    let user = if body.username.len() > 64 || body.password.len() > 1024 {
        Err(market::Error::Unauthorized(
            "wrong username or password".into(),
        ))
    } else {
        accounts::authenticate(&state.ctx, &body.username, &body.password).await
    };
    let user = match user {
        Ok(user) => {
            slot.release();
            state.login_throttle.forget(&body.username);
            user
        }
        Err(e) if e.is_internal() => {
            slot.release();
            return Err(e.into());
        }
        Err(e) => {
            slot.count();
            return Err(e.into());
        }
    };
    let token = accounts::issue_token(&state.ctx, &user, "api login").await?;
    Ok(
        Json(serde_json::json!({"token": token, "username": user.username, "role": user.role}))
            .into_response(),
    )
}

/// `POST /api/v1/auth/logout`: revoke the token used for this request.
pub async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    accounts::revoke_token(&state.ctx, &auth.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`: the account and the shops it runs.
pub async fn me(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let shops = shops::shops_of(&state.ctx, &auth.user).await?;
    let shops: Vec<_> = shops
        .iter()
        .map(|s| super::shops::shop_json(&state.ctx.instance, s))
        .collect();
    Ok(Json(serde_json::json!({
        "username": auth.user.username,
        "role": auth.user.role,
        "shops": shops,
    })))
}

/// Body of `POST /api/v1/accounts`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
}

/// `POST /api/v1/accounts {username, password, email?}`: anyone registers as a buyer (no
/// shop; co-op members are created by the admin). 201 `{username, role, email}`; 409 if the
/// username is taken; 422 for a bad username, password or email.
///
/// At most `[server] registrations_per_hour` accounts per client address, registrations in
/// flight included (`crate::throttle`): beyond it 429 with `Retry-After`. A refused
/// registration opens no account and does not count.
pub async fn register(
    State(state): State<AppState>,
    client: crate::client_addr::ClientAddr,
    ApiJson(body): ApiJson<Register>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let slot = match state.registration_throttle.reserve(&client.key()) {
        Ok(slot) => slot,
        Err(wait) => {
            return Ok(too_many(
                format!("too many accounts opened from this address lately; try again in {wait} s"),
                wait,
            ));
        }
    };
    let registered = async {
        let username = market::types::Username::parse(&body.username)?;
        let password = market::types::Password::parse(&body.password)?;
        let email = body.email.as_deref().filter(|e| !e.trim().is_empty());
        accounts::register_buyer(&state.ctx, &username, &password, email).await
    }
    .await;
    let user = match registered {
        Ok(user) => {
            slot.count();
            user
        }
        Err(e) => {
            slot.release();
            return Err(e.into());
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "username": user.username,
            "role": user.role,
            "email": user.email,
        })),
    )
        .into_response())
}

/// 429 with `Retry-After: wait` and the message.
fn too_many(message: String, wait: u64) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, wait.to_string())],
        Json(serde_json::json!({"error": "too_many_requests", "message": message})),
    )
        .into_response()
}
