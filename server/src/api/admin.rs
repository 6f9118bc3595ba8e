//! Operator endpoints: the delivery queue at a glance, and retrying a host now. Admins only.

use axum::{Json, extract::State};
use market::service::deliveries::{self, QueueStatus};
use serde::Deserialize;

use super::{ApiError, ApiJson, AuthUser};
use crate::routes::AppState;

fn require_admin(auth: &AuthUser) -> Result<(), ApiError> {
    if auth.user.is_admin() {
        Ok(())
    } else {
        Err(market::Error::Forbidden("only an admin can see the delivery queue".into()).into())
    }
}

/// `GET /api/v1/admin/deliveries`: queue depth, oldest pending, given up, refused, failing and
/// unavailable hosts (the figures `tianguis deliveries status` prints).
pub async fn deliveries_status(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<QueueStatus>, ApiError> {
    require_admin(&auth)?;
    Ok(Json(deliveries::status(&state.ctx).await?))
}

/// Body of `POST /api/v1/admin/deliveries/retry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// The host (and port, if not the default) as `status` shows it.
    pub host: String,
}

/// `POST /api/v1/admin/deliveries/retry`: make every pending delivery to `host` due now and
/// forget its failures (an unavailable host is available again), then wake the worker.
pub async fn retry_host(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Retry>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&auth)?;
    let host = body.host.trim();
    if host.is_empty() || host.len() > 255 || host.contains(['/', ' ']) {
        return Err(market::Error::invalid("host", "a host name, with its port if not 443").into());
    }
    let due = deliveries::retry_now(&state.ctx, Some(host)).await?;
    federation::outbox::wake();
    Ok(Json(serde_json::json!({"host": host, "due": due})))
}
