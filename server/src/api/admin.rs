//! Operator endpoints: the delivery queue at a glance, and retrying a host now. Admins only.

use axum::{Json, extract::State};
use market::service::deliveries::{self, QueueStatus};
use serde::Deserialize;

use super::{ApiError, ApiJson, AuthUser};
use crate::routes::AppState;

pub(super) fn require_admin(auth: &AuthUser) -> Result<(), ApiError> {
    if auth.user.is_admin() {
        Ok(())
    } else {
        Err(market::Error::Forbidden("only an admin can do this".into()).into())
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

pub(super) fn federation_error(e: federation::Error) -> ApiError {
    e.into_market().into()
}

/// A peer as the API shows it.
#[derive(Debug, serde::Serialize)]
pub struct PeerView {
    /// The peer row.
    #[serde(flatten)]
    pub peer: market::entities::peer::Model,
    /// Live listings copied from it.
    pub listings: u64,
}

/// `GET /api/v1/admin/peers`: every peer (what `tianguis peer list` prints).
pub async fn peers(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<PeerView>>, ApiError> {
    require_admin(&auth)?;
    let counts = market::service::catalog::count_by_origin(&state.ctx).await?;
    let rows = market::service::peers::list(&state.ctx).await?;
    Ok(Json(
        rows.into_iter()
            .map(|peer| PeerView {
                listings: counts.get(&peer.domain).copied().unwrap_or(0),
                peer,
            })
            .collect(),
    ))
}

/// Body of `POST /api/v1/admin/peers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPeer {
    /// The node's address, e.g. `https://other.coop`.
    pub address: String,
}

/// `POST /api/v1/admin/peers`: follow another node's instance actor (as `tianguis peer add`);
/// the copy of its catalog starts when it accepts.
pub async fn add_peer(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<AddPeer>,
) -> Result<(axum::http::StatusCode, Json<market::entities::peer::Model>), ApiError> {
    require_admin(&auth)?;
    let data = state.federation.to_request_data();
    let added = federation::peering::add(&data, &body.address)
        .await
        .map_err(federation_error)?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(added.peer)))
}

/// `POST /api/v1/admin/peers/{domain}/approve`: approve a node (as `tianguis peer approve`).
pub async fn approve_peer(
    State(state): State<AppState>,
    auth: AuthUser,
    axum::extract::Path(domain): axum::extract::Path<String>,
) -> Result<Json<market::entities::peer::Model>, ApiError> {
    require_admin(&auth)?;
    let data = state.federation.to_request_data();
    let added = federation::peering::approve(&data, &domain)
        .await
        .map_err(federation_error)?;
    Ok(Json(added.peer))
}

/// `DELETE /api/v1/admin/peers/{domain}`: stop federating with a node and forget its listings.
pub async fn remove_peer(
    State(state): State<AppState>,
    auth: AuthUser,
    axum::extract::Path(domain): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&auth)?;
    let data = state.federation.to_request_data();
    let removed = federation::peering::remove(&data, &domain)
        .await
        .map_err(federation_error)?;
    Ok(Json(serde_json::json!({
        "domain": removed.peer.domain,
        "listings_removed": removed.listings,
    })))
}
