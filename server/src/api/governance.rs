//! Governance in the API: proposals, votes, receipts and the audit log. Reading proposals is
//! public (they are published as `Question`s anyway); proposing, voting, checking a receipt and
//! reading the log are for members.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
};
use federation::governance as flow;
use market::service::{
    accounts,
    governance::{self, Choice, NewProposal},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, AuthUser, admin::federation_error, listings::paging};
use crate::routes::AppState;

/// `POST /api/v1/proposals {title, text?, options?, closes_at | hours, quorum?, threshold?}`:
/// a member proposes. 201 with the proposal; 403 for a buyer; 422 for a bad field.
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<NewProposal>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let data = state.federation.to_request_data();
    let view = flow::propose(&data, &auth.user, body)
        .await
        .map_err(federation_error)?;
    Ok((StatusCode::CREATED, Json(json!(view))))
}

/// `GET /api/v1/proposals?page=&per_page=`: open proposals first, then closed ones.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let data = state.federation.to_request_data();
    let page = flow::list(&data, paging(&query)?)
        .await
        .map_err(federation_error)?;
    Ok(Json(json!({
        "items": page.items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    })))
}

/// `GET /api/v1/proposals/{id}`: the proposal (the result once closed; while open only the
/// turnout). With a member's token, also `voted`: whether that member has voted.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let data = state.federation.to_request_data();
    let view = flow::get(&data, &id).await.map_err(federation_error)?;
    let mut body = json!(view);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128);
    if let Some(token) = token {
        let user = accounts::user_for_token(&state.ctx, token).await?;
        if user.is_member() {
            body["voted"] = json!(governance::has_voted(&state.ctx, &view.id, &user).await?);
        }
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    /// The option's label, or its 0-based index.
    option: Choice,
}

/// `POST /api/v1/proposals/{id}/votes {option}`: a member votes. 201 `{proposal_id, receipt}`:
/// the receipt is shown this once. 403 for a non-member, 409 for a second vote or a closed
/// proposal, 422 for an unknown option.
pub async fn vote(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VoteBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let data = state.federation.to_request_data();
    let receipt = flow::vote(&data, &auth.user, &id, &body.option)
        .await
        .map_err(federation_error)?;
    Ok((StatusCode::CREATED, Json(json!(receipt))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    receipt: String,
}

/// `POST /api/v1/proposals/{id}/receipt {receipt}`: `{counted: true, option}` for the holder of
/// a receipt of this proposal; 404 for any other code.
pub async fn check_receipt(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReceiptBody>,
) -> Result<Json<Value>, ApiError> {
    let counted = governance::check_receipt(&state.ctx, &auth.user, &id, &body.receipt).await?;
    Ok(Json(json!(counted)))
}

/// `GET /api/v1/governance/log?page=&per_page=`: the audit log, newest first (members only).
pub async fn log(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = governance::log::list(&state.ctx, &auth.user, paging(&query)?).await?;
    Ok(Json(json!({
        "items": page.items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    })))
}
