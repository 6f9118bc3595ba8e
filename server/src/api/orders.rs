//! Orders in the API: quotes, placing an order, the buyer's orders, a shop's order inbox, the
//! steps each party may take, the message thread, and notifications.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use federation::orders::{self as order_flow, OrderRequest};
use market::{
    Error,
    entities::order,
    service::{
        Page, catalog,
        orders::{self, Address, Party, QuoteRequest, Scope, State as OrderState},
        shops::{self, Authority},
    },
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, AuthUser, admin::federation_error, listings::paging};
use crate::routes::AppState;

fn order_id(id: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| Error::not_found("order"))
}

fn state_filter(query: &HashMap<String, String>) -> Result<Option<OrderState>, Error> {
    query
        .get("state")
        .map(|s| {
            OrderState::parse(s).ok_or_else(|| {
                Error::invalid(
                    "state",
                    "one of offered, accepted, rejected, paid, shipped, delivered, completed, \
                     cancelled, refunded",
                )
            })
        })
        .transpose()
}

fn page_json(
    state: &AppState,
    page: Page<order::Model>,
    party: Party,
) -> Result<Json<Value>, ApiError> {
    let items = page
        .items
        .iter()
        .map(|o| orders::summary(&state.ctx, o, party))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({
        "items": items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteBody {
    /// The catalog entry (`GET /api/v1/catalog`).
    listing: i32,
    #[serde(default)]
    quantity: Option<i32>,
    #[serde(default)]
    shipping_option: Option<String>,
    #[serde(default)]
    country: Option<String>,
}

/// `POST /api/v1/orders/quote {listing, quantity, shipping_option?, country?}`: the shop's
/// shipping options and, with one chosen, the total, as the shop's node computes them.
pub async fn quote(
    State(state): State<AppState>,
    _auth: AuthUser,
    ApiJson(body): ApiJson<QuoteBody>,
) -> Result<Json<Value>, ApiError> {
    let data = state.federation.to_request_data();
    let entry = catalog::get_entry(&state.ctx, body.listing).await?;
    let request = QuoteRequest {
        quantity: body.quantity,
        shipping_option: body.shipping_option,
        country: body.country,
    };
    let quote = order_flow::quote(&data, &entry, &request)
        .await
        .map_err(federation_error)?;
    Ok(Json(json!(quote)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// The catalog entry.
    listing: i32,
    quantity: i32,
    shipping_option: String,
    #[serde(default)]
    address: Option<Address>,
    /// The total the buyer was shown (from the quote) and confirms.
    total: String,
}

/// `POST /api/v1/orders`: order a listing, here or on a peer node. 201 with the order; its
/// state is `accepted` or `rejected` once the shop's node has answered (at once for a shop
/// here, a moment later for one elsewhere).
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<OrderBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let data = state.federation.to_request_data();
    let row = order_flow::place(
        &data,
        &auth.user,
        OrderRequest {
            entry: body.listing,
            quantity: body.quantity,
            shipping_option: body.shipping_option,
            address: body.address,
            total: body.total,
        },
    )
    .await
    .map_err(federation_error)?;
    let view = orders::view(&state.ctx, &row, Party::Buyer).await?;
    Ok((StatusCode::CREATED, Json(json!(view))))
}

/// `GET /api/v1/orders?state=&page=&per_page=`: what the caller bought, newest first.
pub async fn mine(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = orders::list(
        &state.ctx,
        Scope::Bought(&auth.user),
        state_filter(&query)?,
        paging(&query)?,
    )
    .await?;
    page_json(&state, page, Party::Buyer)
}

/// `GET /api/v1/shops/{handle}/orders?state=&page=`: the shop's order inbox (its owner or an
/// admin), newest first, each with the actions allowed now.
pub async fn for_shop(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let shop = shops::get_shop(&state.ctx, &handle).await?;
    shops::ensure_can_manage(Authority::User(&auth.user), &shop)?;
    let page = orders::list(
        &state.ctx,
        Scope::Sold(shop.id),
        state_filter(&query)?,
        paging(&query)?,
    )
    .await?;
    page_json(&state, page, Party::Seller)
}

/// `GET /api/v1/orders/{id}`: one order with its timeline and messages, for its buyer or its
/// shop; 404 for anyone else.
pub async fn show(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = order_id(&id)?;
    let (row, party) = orders::access(&state.ctx, Authority::User(&auth.user), &id).await?;
    Ok(Json(json!(orders::view(&state.ctx, &row, party).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// The state to move to.
    state: String,
    /// Why (a seller's cancellation needs one).
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/orders/{id}/state {state, reason?}`: take a step (403 if it is the other
/// party's, 409 if it is not possible from the current state).
pub async fn step(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StepBody>,
) -> Result<Json<Value>, ApiError> {
    let id = order_id(&id)?;
    let to = OrderState::parse(body.state.trim())
        .ok_or_else(|| Error::invalid("state", "not an order state"))?;
    let data = state.federation.to_request_data();
    order_flow::act(
        &data,
        Authority::User(&auth.user),
        &id,
        to,
        body.reason.as_deref(),
    )
    .await
    .map_err(federation_error)?;
    let (row, party) = orders::access(&state.ctx, Authority::User(&auth.user), &id).await?;
    Ok(Json(json!(orders::view(&state.ctx, &row, party).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    content: String,
}

/// `POST /api/v1/orders/{id}/messages {content}`: write to the other party.
pub async fn message(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessageBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = order_id(&id)?;
    let data = state.federation.to_request_data();
    order_flow::message(&data, Authority::User(&auth.user), &id, &body.content)
        .await
        .map_err(federation_error)?;
    let (row, party) = orders::access(&state.ctx, Authority::User(&auth.user), &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!(orders::view(&state.ctx, &row, party).await?)),
    ))
}

/// `GET /api/v1/notifications?unread=true&page=`: the caller's notifications, newest first.
pub async fn notifications(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let unread_only = match query.get("unread").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(Error::invalid("unread", "true or false").into()),
    };
    let (page, unread) =
        orders::notifications(&state.ctx, &auth.user, unread_only, paging(&query)?).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "kind": n.kind,
                "order": n.order_id,
                "text": n.text,
                "read": n.read,
                "created_at": n.created_at,
            })
        })
        .collect();
    Ok(Json(json!({
        "items": items,
        "unread": unread,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// Mark those up to this id read; all if absent.
    #[serde(default)]
    up_to: Option<i32>,
}

/// `POST /api/v1/notifications/read {up_to?}`: mark notifications read.
pub async fn read(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<ReadBody>,
) -> Result<Json<Value>, ApiError> {
    let marked = orders::mark_read(&state.ctx, &auth.user, body.up_to).await?;
    Ok(Json(json!({ "marked": marked })))
}
