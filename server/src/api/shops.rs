//! Shops in the API.

use axum::extract::{Multipart, Query};
use axum::{
    Json,
    extract::multipart::MultipartRejection,
    extract::{Path, State},
    http::StatusCode,
};
use market::{
    Error, Instance,
    entities::shop,
    service::{
        PageRequest, followers,
        shops::{self, Authority, ShopChanges},
    },
};
use serde::Deserialize;

use super::{ApiError, ApiJson, AuthUser};
use crate::routes::AppState;

/// A shop as the API shows it (never its private key).
pub fn shop_json(instance: &Instance, shop: &shop::Model) -> serde_json::Value {
    serde_json::json!({
        "handle": shop.handle,
        "name": shop.display_name,
        "bio": shop.bio,
        "url": shop.ap_id,
        "avatar_url": shop.avatar_file.as_deref().map(|f| instance.media_url(f)),
        "acct": format!("{}@{}", shop.handle, instance.domain),
        "manually_approves_followers": shop.manually_approves_followers,
        "accepts_orders_by_hand": shop.accepts_orders_by_hand,
        "created_at": shop.created_at,
        "updated_at": shop.updated_at,
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
    Ok((
        StatusCode::CREATED,
        Json(shop_json(&state.ctx.instance, &shop)),
    ))
}

/// `GET /api/v1/shops`: every shop on the node.
pub async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let shops = shops::list_shops(&state.ctx).await?;
    let items: Vec<_> = shops
        .iter()
        .map(|s| shop_json(&state.ctx.instance, s))
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `GET /api/v1/shops/{handle}`.
pub async fn show(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    Ok(Json(shop_json(&state.ctx.instance, &shop)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopPatch {
    name: Option<String>,
    bio: Option<String>,
    manually_approves_followers: Option<bool>,
    accepts_orders_by_hand: Option<bool>,
}

/// `PATCH /api/v1/shops/{handle}`: change the display name, bio, how followers and orders are
/// answered.
pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(handle): Path<String>,
    ApiJson(patch): ApiJson<ShopPatch>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if patch.name.is_none()
        && patch.bio.is_none()
        && patch.manually_approves_followers.is_none()
        && patch.accepts_orders_by_hand.is_none()
    {
        return Err(Error::invalid(
            "body",
            "nothing to change: give name, bio, manually_approves_followers or \
             accepts_orders_by_hand",
        )
        .into());
    }
    let changes = ShopChanges {
        display_name: patch.name,
        bio: patch.bio,
        manually_approves_followers: patch.manually_approves_followers,
        accepts_orders_by_hand: patch.accepts_orders_by_hand,
    };
    let shop =
        shops::update_shop(&state.ctx, Authority::User(&auth.user), &handle, changes).await?;
    Ok(Json(shop_json(&state.ctx.instance, &shop)))
}

/// `POST /api/v1/shops/{handle}/avatar`, multipart with the image as `file`.
pub async fn set_avatar(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(handle): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    shops::ensure_can_manage(Authority::User(&auth.user), &shop)?;
    let mut multipart = multipart.map_err(|e| {
        Error::UnsupportedMediaType(format!("send multipart/form-data: {}", e.body_text()))
    })?;
    let mut bytes = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| super::listings::multipart_error(&state, e))?
    {
        match field.name() {
            Some("file") => {
                let data = field
                    .bytes()
                    .await
                    .map_err(|e| super::listings::multipart_error(&state, e))?;
                bytes = Some(data.to_vec());
            }
            Some(other) => return Err(Error::invalid(other, "unknown field; send `file`").into()),
            None => return Err(Error::BadRequest("multipart field without a name".into()).into()),
        }
    }
    let bytes =
        bytes.ok_or_else(|| Error::invalid("file", "attach the image as the `file` field"))?;
    let shop = shops::set_avatar(&state.ctx, Authority::User(&auth.user), &handle, bytes).await?;
    Ok(Json(shop_json(&state.ctx.instance, &shop)))
}

/// `GET /api/v1/shops/{handle}/followers?page=`: the shop's followers and pending requests, for
/// its owner (and admins).
pub async fn followers(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(handle): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    shops::ensure_can_manage(Authority::User(&auth.user), &shop)?;
    let page = query
        .get("page")
        .map(|p| {
            p.parse::<u64>()
                .map_err(|_| Error::invalid("page", "must be a positive whole number"))
        })
        .transpose()?;
    let found =
        followers::list_followers(&state.ctx, shop.id, PageRequest::parse(page, Some(50))?).await?;
    Ok(Json(serde_json::json!({
        "items": found.items,
        "page": found.page,
        "per_page": found.per_page,
        "total": found.total,
        "has_next": found.has_next(),
    })))
}

/// `POST /api/v1/shops/{handle}/followers/{id}/approve` or `/reject`: answer a follow request;
/// the follower's server gets an `Accept` or `Reject`.
pub async fn decide(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((handle, id, decision)): Path<(String, i32, String)>,
) -> Result<StatusCode, ApiError> {
    let accept = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(Error::not_found("API endpoint").into()),
    };
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    let decided =
        followers::decide_follow(&state.ctx, Authority::User(&auth.user), &shop, id, accept)
            .await?;
    let data = state.federation.to_request_data();
    federation::activities::accept_follow::answer(&data, decided, accept)
        .await
        .map_err(|e| {
            ApiError(market::Error::Internal(format!(
                "could not answer the follow: {e}"
            )))
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /api/v1/shops/{handle}/checkout`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    #[serde(default)]
    payment_instructions: String,
    #[serde(default)]
    shipping_options: Vec<market::service::checkout::ShippingOptionInput>,
}

/// `GET /api/v1/shops/{handle}/checkout`: how the shop is paid and how it ships (public).
pub async fn checkout(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<market::service::checkout::Checkout>, ApiError> {
    Ok(Json(
        market::service::checkout::get(&state.ctx, &handle).await?,
    ))
}

/// `PUT /api/v1/shops/{handle}/checkout`: replace the payment instructions and the shipping
/// options (the shop's owner or an admin).
pub async fn set_checkout(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(handle): Path<String>,
    ApiJson(body): ApiJson<CheckoutBody>,
) -> Result<Json<market::service::checkout::Checkout>, ApiError> {
    Ok(Json(
        market::service::checkout::set(
            &state.ctx,
            Authority::User(&auth.user),
            &handle,
            &body.payment_instructions,
            body.shipping_options,
        )
        .await?,
    ))
}
