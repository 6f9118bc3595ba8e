//! Listings and their images in the API.

use std::collections::HashMap;

use axum::{
    Json,
    extract::multipart::MultipartRejection,
    extract::{Multipart, Path, Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use market::{
    Error,
    service::{
        PageRequest,
        images::ImageUpload,
        listings::{self, ListingChanges, ListingDraft, ListingFilter, ListingView},
        shops::{self, Authority},
    },
};
use serde::Deserialize;

use super::{ApiError, ApiJson, AuthUser};
use crate::routes::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewListingBody {
    title: String,
    #[serde(default)]
    description: Option<String>,
    price: serde_json::Value,
    currency: String,
    stock: i64,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListingPatch {
    title: Option<String>,
    description: Option<String>,
    price: Option<serde_json::Value>,
    currency: Option<String>,
    stock: Option<i64>,
    tags: Option<Vec<String>>,
}

/// Prices travel as decimal strings ("28.00"): a JSON number is a binary float in most
/// clients, so it is refused with a message saying what to send.
fn price_text(value: &serde_json::Value) -> Result<String, Error> {
    match value {
        serde_json::Value::String(s) => Ok(s.clone()),
        _ => Err(Error::invalid(
            "price",
            "send the price as a decimal string, e.g. \"28.00\"",
        )),
    }
}

fn listing_id(id: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| Error::not_found("listing"))
}

pub(super) fn paging(query: &HashMap<String, String>) -> Result<PageRequest, Error> {
    let number = |name: &str| -> Result<Option<u64>, Error> {
        query
            .get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| Error::invalid(name, "must be a positive whole number"))
            })
            .transpose()
    };
    PageRequest::parse(number("page")?, number("per_page")?)
}

fn page_json(page: market::service::Page<ListingView>) -> serde_json::Value {
    serde_json::json!({
        "items": page.items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "has_next": page.page * page.per_page < page.total,
    })
}

/// `POST /api/v1/shops/{handle}/listings`: publish a listing (images are added afterwards).
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(handle): Path<String>,
    ApiJson(body): ApiJson<NewListingBody>,
) -> Result<impl IntoResponse, ApiError> {
    // Check the shop and the caller's right to it before the body: a stranger learns nothing
    // from validation messages.
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    shops::ensure_can_manage(Authority::User(&auth.user), &shop)?;
    let draft = ListingDraft::parse(
        &body.title,
        body.description.as_deref(),
        &price_text(&body.price)?,
        &body.currency,
        body.stock,
        &body.tags,
    )?;
    let view = listings::create_listing(
        &state.ctx,
        Authority::User(&auth.user),
        &handle,
        draft,
        Vec::new(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, view.url.clone())],
        Json(view),
    ))
}

/// `GET /api/v1/shops/{handle}/listings?page=&per_page=`: a shop's listings, newest first.
pub async fn list_for_shop(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    let filter = ListingFilter {
        shop_id: Some(shop.id),
        include_withdrawn: false,
        tag: None,
    };
    let page = listings::list_listings(&state.ctx, filter, paging(&query)?).await?;
    Ok(Json(page_json(page)))
}

/// `GET /api/v1/listings?page=&per_page=&tag=`: every listing on show on this node (with that
/// tag), newest first.
pub async fn list_all(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let filter = ListingFilter {
        tag: query
            .get("tag")
            .map(|t| t.trim_start_matches('#').to_lowercase()),
        ..Default::default()
    };
    let page = listings::list_listings(&state.ctx, filter, paging(&query)?).await?;
    Ok(Json(page_json(page)))
}

/// `GET /api/v1/listings/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ListingView>, ApiError> {
    Ok(Json(
        listings::get_listing(&state.ctx, &listing_id(&id)?).await?,
    ))
}

/// `PATCH /api/v1/listings/{id}`: change any of title, description, price, currency, stock, tags.
pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ListingPatch>,
) -> Result<Json<ListingView>, ApiError> {
    let id = listing_id(&id)?;
    let changes = ListingChanges {
        title: patch.title,
        description: patch.description,
        price: patch.price.as_ref().map(price_text).transpose()?,
        currency: patch.currency,
        stock: patch.stock,
        tags: patch.tags,
    };
    let nothing = changes.title.is_none()
        && changes.description.is_none()
        && changes.price.is_none()
        && changes.currency.is_none()
        && changes.stock.is_none()
        && changes.tags.is_none();
    if nothing {
        return Err(Error::invalid("body", "nothing to change: give at least one field").into());
    }
    Ok(Json(
        listings::update_listing(&state.ctx, Authority::User(&auth.user), &id, changes).await?,
    ))
}

/// `DELETE /api/v1/listings/{id}`: withdraw the listing. Answers with the withdrawn listing.
pub async fn withdraw(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ListingView>, ApiError> {
    let id = listing_id(&id)?;
    Ok(Json(
        listings::withdraw_listing(&state.ctx, Authority::User(&auth.user), &id).await?,
    ))
}

/// A multipart failure as the client should see it: 408 for a body that stalled, 413 for one
/// over the upload limit, else 400.
pub fn multipart_error(state: &AppState, e: axum::extract::multipart::MultipartError) -> Error {
    if super::error::caused_by_body_timeout(&e) {
        Error::TimedOut("the upload did not arrive in time".into())
    } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge(format!(
            "the upload is larger than the limit of {} bytes",
            state.ctx.instance.max_image_bytes
        ))
    } else {
        Error::BadRequest(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// `POST /api/v1/listings/{id}/images`, multipart with a `file` and its `alt` text.
pub async fn upload_image(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let id = listing_id(&id)?;
    // Refuse strangers before reading a large body.
    let listing = listings::get_listing(&state.ctx, &id).await?;
    let shop = shops::get_shop(&state.ctx, &listing.shop.handle).await?;
    shops::ensure_can_manage(Authority::User(&auth.user), &shop)?;
    let mut multipart = multipart.map_err(|e| {
        Error::UnsupportedMediaType(format!("send multipart/form-data: {}", e.body_text()))
    })?;
    let (mut bytes, mut alt) = (None, None);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&state, e))?
    {
        match field.name() {
            Some("file") => {
                bytes = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| multipart_error(&state, e))?
                        .to_vec(),
                )
            }
            Some("alt") => alt = Some(field.text().await.map_err(|e| multipart_error(&state, e))?),
            Some(other) => {
                return Err(Error::invalid(other, "unknown field; send `file` and `alt`").into());
            }
            None => return Err(Error::BadRequest("multipart field without a name".into()).into()),
        }
    }
    let bytes =
        bytes.ok_or_else(|| Error::invalid("file", "attach the image as the `file` field"))?;
    let alt = alt.ok_or_else(|| {
        Error::invalid("images[0].alt", "alt text is required: describe the photo")
    })?;
    let image = listings::add_image(
        &state.ctx,
        Authority::User(&auth.user),
        &id,
        ImageUpload { bytes, alt },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(image)))
}

/// `DELETE /api/v1/listings/{id}/images/{image_id}`.
pub async fn delete_image(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((id, image_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = listing_id(&id)?;
    listings::delete_image(&state.ctx, Authority::User(&auth.user), &id, &image_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
