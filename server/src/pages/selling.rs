//! The seller's side: a shop's order inbox (`/shops/{handle}/orders`, its owner or an admin),
//! and the shop's public payment page (`/shops/{handle}/payment`), which is the FEP-0ea0
//! payment link every accepted order carries.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    response::Response,
    routing::get,
};
use market::{
    Error,
    entities::shop,
    service::{
        checkout,
        orders::{self, Party, STATES, Scope, State as OrderState},
        shops::{self, Authority},
    },
};

use super::{
    Nav, PageError,
    orders::{OrderRow, actions, page_number, paragraphs, state_label},
    render,
};
use crate::{
    routes::AppState,
    session::{MaybeUser, PageUser, no_store},
};

/// `/shops/{handle}/orders`, `/shops/{handle}/payment`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/shops/{handle}/orders", get(shop_orders))
        .route("/shops/{handle}/payment", get(payment_page))
}

/// One choice of the state filter.
struct Filter {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "shop_orders.html")]
struct ShopOrdersPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    shop: shop::Model,
    /// The other shops the visitor runs.
    others: Vec<String>,
    filters: Vec<Filter>,
    /// The filter's state, for the pager's links (empty: all).
    state: String,
    /// Where the buttons come back to: this list, with its filter and page.
    back: String,
    orders: Vec<OrderRow>,
    page: u64,
    has_next: bool,
}

/// `GET /shops/{handle}/orders?state=&page=`: the shop's orders, newest first, each with its
/// buyer, figures, state and the buttons for the steps the shop may take now.
async fn shop_orders(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, Some(&user)).await;
    let fail = PageError::with(&state, &nav);
    let shop = shops::get_shop(ctx, &handle).await.map_err(&fail)?;
    shops::ensure_can_manage(Authority::User(&user.user), &shop).map_err(&fail)?;
    let wanted = query.get("state").map(|s| s.trim()).unwrap_or_default();
    let filter = match wanted {
        "" => None,
        text => Some(OrderState::parse(text).ok_or_else(|| {
            fail(Error::invalid(
                "state",
                "one of the states in the list, or all",
            ))
        })?),
    };
    let paging = page_number(&query);
    let found = orders::list(ctx, Scope::Sold(shop.id), filter, paging)
        .await
        .map_err(&fail)?;
    let rows = found
        .items
        .iter()
        .map(|o| {
            let view = orders::summary(ctx, o, Party::Seller)?;
            Ok(OrderRow {
                state: state_label(view.state),
                actions: actions(&view),
                o: view,
            })
        })
        .collect::<Result<Vec<_>, Error>>()
        .map_err(&fail)?;
    let others = shops::shops_of(ctx, &user.user)
        .await
        .map_err(&fail)?
        .into_iter()
        .map(|s| s.handle)
        .filter(|h| *h != shop.handle)
        .collect();
    let mut back = url::form_urlencoded::Serializer::new(String::new());
    if let Some(s) = filter {
        back.append_pair("state", s.as_str());
    }
    if found.page > 1 {
        back.append_pair("page", &found.page.to_string());
    }
    let back = match back.finish() {
        q if q.is_empty() => format!("/shops/{}/orders", shop.handle),
        q => format!("/shops/{}/orders?{q}", shop.handle),
    };
    Ok(no_store(render(&ShopOrdersPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        csrf: user.csrf(),
        others,
        filters: STATES
            .iter()
            .map(|s| Filter {
                value: s.as_str(),
                label: state_label(*s),
                selected: filter == Some(*s),
            })
            .collect(),
        state: filter.map(|s| s.as_str().to_string()).unwrap_or_default(),
        back,
        has_next: found.has_next(),
        page: found.page,
        orders: rows,
        shop,
    })))
}

#[derive(Template)]
#[template(path = "payment.html")]
struct PaymentPage<'a> {
    node_name: &'a str,
    nav: Nav,
    shop: shop::Model,
    /// The instructions as paragraphs of lines (escaped by the template).
    paragraphs: Vec<Vec<String>>,
}

/// `GET /shops/{handle}/payment`: how the shop takes payment, in its own words (plain text,
/// paragraphs kept). Public: it is the payment link of the shop's accepted orders, and says
/// nothing about any order.
async fn payment_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(handle): Path<String>,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let shop = shops::get_shop(ctx, &handle).await.map_err(&fail)?;
    let settings = checkout::get(ctx, &shop.handle).await.map_err(&fail)?;
    Ok(render(&PaymentPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        paragraphs: paragraphs(&settings.payment_instructions),
        shop,
    }))
}
