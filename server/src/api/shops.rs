//! Shops in the API.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use market::{entities::shop, service::shops};
use serde::Deserialize;

use super::{ApiError, ApiJson, AuthUser};
use crate::routes::AppState;

/// A shop as the API shows it (never its private key).
pub fn shop_json(shop: &shop::Model) -> serde_json::Value {
    serde_json::json!({
        "handle": shop.handle,
        "name": shop.display_name,
        "bio": shop.bio,
        "url": shop.ap_id,
        "created_at": shop.created_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewShopBody {
    handle: String,
    name: String,
    #[serde(default)]
    bio: Option<String>,
}

/// `POST /api/v1/shops`: open a shop run by the caller.
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<NewShopBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let new = shops::NewShop::parse(&body.handle, &body.name, body.bio.as_deref())?;
    let shop = shops::create_shop(&state.ctx, &auth.user, new).await?;
    Ok((StatusCode::CREATED, Json(shop_json(&shop))))
}

/// `GET /api/v1/shops`: every shop on the node.
pub async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let shops = shops::list_shops(&state.ctx).await?;
    Ok(Json(
        serde_json::json!({"items": shops.iter().map(shop_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /api/v1/shops/{handle}`.
pub async fn show(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    Ok(Json(shop_json(&shop)))
}
