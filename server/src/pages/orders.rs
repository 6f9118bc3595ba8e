//! Buying through the pages: the order form (`/orders/new`, the seller's quote and a Confirm
//! button), placing the order (`POST /orders`) and the buyer's list of orders (`/orders`). Also
//! what the other order pages share: labels for states and steps, plain text as paragraphs.
//!
//! The quote form is a GET (listing, quantity, shipping option, country), so it can be reloaded
//! and linked; the shipping address is only ever in the POST that places the order, so it never
//! ends up in a URL, a browser's history or an access log.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{Query, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use federation::orders::{self as order_flow, OrderRequest};
use market::{
    Error,
    service::{
        PageRequest,
        catalog::{self, EntryView},
        orders::{
            self, Address, OrderView, Party, Quote, QuoteRequest, Scope, State as OrderState,
        },
    },
};
use serde::Deserialize;

use super::{Nav, PageError, render};
use crate::{
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

/// `/orders/new`, `/orders`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders/new", get(new_order))
        .route("/orders", get(my_orders).post(place))
}

/// A federation failure as the marketplace error a page shows.
pub(super) fn federation_error(e: federation::Error) -> Error {
    e.into_market()
}

/// How a state reads on the pages.
pub(super) fn state_label(state: OrderState) -> &'static str {
    match state {
        OrderState::Offered => "Offered",
        OrderState::Accepted => "Accepted",
        OrderState::Rejected => "Rejected",
        OrderState::Paid => "Paid",
        OrderState::Shipped => "Shipped",
        OrderState::Delivered => "Delivered",
        OrderState::Completed => "Completed",
        OrderState::Cancelled => "Cancelled",
        OrderState::Refunded => "Refunded",
    }
}

/// Plain text as paragraphs (split at blank lines) of lines, for templates to join with `<br>`
/// while escaping every line.
pub(super) fn paragraphs(text: &str) -> Vec<Vec<String>> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.lines().map(str::to_string).collect())
        .collect()
}

/// One button that moves an order to `state` (`POST /orders/{id}/state`).
pub(super) struct Action {
    /// The state to move to.
    pub state: &'static str,
    /// The button's text.
    pub label: &'static str,
    /// A cancellation or a declined order: the form has a reason field (in a `<details>`, so it
    /// stays out of the way until wanted).
    pub cancel: bool,
    /// The reason is required (the shop cancelling).
    pub reason_required: bool,
}

/// The buttons for what the viewer of `view` may do now.
pub(super) fn actions(view: &OrderView) -> Vec<Action> {
    view.actions
        .iter()
        .map(|to| Action {
            state: to.as_str(),
            label: match to {
                OrderState::Paid => "Mark as paid",
                OrderState::Shipped if view.pickup => "Mark as ready for pickup",
                OrderState::Shipped => "Mark as shipped",
                OrderState::Delivered => "Mark as delivered",
                OrderState::Completed => "Complete the order and issue the receipt",
                OrderState::Cancelled => "Cancel the order",
                OrderState::Refunded => "Mark as refunded",
                OrderState::Accepted => "Accept the order",
                OrderState::Rejected => "Decline the order",
                OrderState::Offered => "Change",
            },
            cancel: matches!(to, OrderState::Cancelled | OrderState::Rejected),
            reason_required: *to == OrderState::Cancelled && view.role == Party::Seller,
        })
        .collect()
}

/// A page of orders as a list shows them.
pub(super) struct OrderRow {
    /// The order.
    pub o: OrderView,
    /// Its state's label.
    pub state: &'static str,
    /// Its buttons (the shop's list only).
    pub actions: Vec<Action>,
}

/// The `page` query parameter (1 when absent or not a number).
pub(super) fn page_number(query: &HashMap<String, String>) -> PageRequest {
    let page = query
        .get("page")
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1);
    PageRequest { page, per_page: 20 }
}

/// What the quote form asks for, as typed.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct Choice {
    listing: String,
    quantity: String,
    shipping_option: String,
    country: String,
}

/// The address fields as typed (empty for a pickup option).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct AddressFields {
    name: String,
    street: String,
    city: String,
    postal_code: String,
}

/// The confirm form: the choice, the address and the total the buyer was shown. (Flat, as
/// `serde(flatten)` and form decoding do not mix well.)
#[derive(Deserialize, Default)]
#[serde(default)]
struct OrderForm {
    csrf: String,
    total: String,
    listing: String,
    quantity: String,
    shipping_option: String,
    country: String,
    name: String,
    street: String,
    city: String,
    postal_code: String,
}

/// A shipping option as a radio button.
struct OptionChoice {
    id: String,
    name: String,
    price: String,
    currency: String,
    /// "pickup", "to MX, DE" or "to every country".
    reach: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "order_new.html")]
struct NewOrderPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    entry: EntryView,
    choice: Choice,
    address: AddressFields,
    /// The seller's figures, unless the seller refused to give any.
    quote: Option<Quote>,
    options: Vec<OptionChoice>,
    /// The payment instructions, as paragraphs.
    payment: Vec<Vec<String>>,
    /// A delivery option is chosen but no country yet: no total.
    need_country: bool,
    /// The option chosen and priced: show the total and the Confirm form.
    confirm: bool,
    /// The chosen option is a pickup: no address fields.
    pickup: bool,
    error: Option<String>,
}

/// `GET /orders/new?listing=&quantity=&shipping_option=&country=`: the seller's quote for a
/// catalog entry, and once an option (and, to be shipped, a country) is chosen, the total and
/// the Confirm form.
async fn new_order(
    State(state): State<AppState>,
    user: PageUser,
    Query(choice): Query<Choice>,
) -> Response {
    let nav = Nav::build(&state, Some(&user)).await;
    order_form(&state, &user, nav, choice, AddressFields::default(), None).await
}

/// Ask the seller's node for the figures and render the order form, with the reason a
/// confirmed order was refused (shown, and its status answered) if there was one.
async fn order_form(
    state: &AppState,
    user: &PageUser,
    nav: Nav,
    choice: Choice,
    address: AddressFields,
    error: Option<Error>,
) -> Response {
    let ctx = &state.ctx;
    let fail = PageError::with(state, &nav);
    let Ok(listing) = choice.listing.trim().parse::<i32>() else {
        return fail(Error::not_found("catalog entry")).into_response();
    };
    let entry = match catalog::get_entry(ctx, listing).await {
        Ok(entry) => entry,
        Err(e) => return fail(e).into_response(),
    };
    let (quote, refused) = match quantity(&choice.quantity) {
        Ok(quantity) => priced(state, &entry, &choice, quantity).await,
        Err(e) => (None, Some(e)),
    };
    let refused = match refused {
        Some(e) if e.is_internal() => return fail(e).into_response(),
        other => other,
    };
    let error = error.or(refused);
    let chosen = quote.as_ref().and_then(|q| {
        q.shipping_option
            .as_ref()
            .filter(|_| q.total.is_some())
            .map(|o| o.pickup)
    });
    let need_country = chosen == Some(false) && choice.country.trim().is_empty();
    let status = error.as_ref().map_or(StatusCode::OK, |e| {
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let page = NewOrderPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        csrf: user.csrf(),
        options: quote
            .iter()
            .flat_map(|q| &q.shipping_options)
            .map(|o| OptionChoice {
                checked: o.id == choice.shipping_option.trim(),
                id: o.id.clone(),
                name: o.name.clone(),
                price: o.price.clone(),
                currency: o.currency.clone(),
                reach: if o.pickup {
                    "pickup, no address needed".into()
                } else if o.regions.is_empty() {
                    "to every country".into()
                } else {
                    format!("to {}", o.regions.join(", "))
                },
            })
            .collect(),
        payment: quote
            .as_ref()
            .map(|q| paragraphs(&q.payment_instructions))
            .unwrap_or_default(),
        need_country,
        confirm: chosen.is_some() && !need_country,
        pickup: chosen == Some(true),
        error: error.map(|e| e.public_message()),
        entry,
        choice: Choice {
            country: choice.country.trim().to_ascii_uppercase(),
            ..choice
        },
        address,
        quote,
    };
    (status, no_store(render(&page))).into_response()
}

fn quantity(text: &str) -> Result<i32, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(1);
    }
    text.parse::<i32>()
        .map_err(|_| Error::invalid("quantity", "a whole number of items, such as 2"))
}

/// The seller's quote, with the chosen option and country if there are any, and the seller's
/// refusal if there was one. When the seller refuses the choice (an option that does not reach
/// the country, a country code that is not one), the options are asked for again without it, so
/// the buyer can choose again.
async fn priced(
    state: &AppState,
    entry: &EntryView,
    choice: &Choice,
    quantity: i32,
) -> (Option<Quote>, Option<Error>) {
    let data = state.federation.to_request_data();
    let given = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
    let mut request = QuoteRequest {
        quantity: Some(quantity),
        shipping_option: given(&choice.shipping_option),
        country: given(&choice.country),
    };
    let refusal = match order_flow::quote(&data, entry, &request).await {
        Ok(quote) => return (Some(quote), None),
        Err(e) => federation_error(e),
    };
    let chose = request.shipping_option.is_some() || request.country.is_some();
    if !chose || !matches!(refusal, Error::Invalid { .. }) {
        return (None, Some(refusal));
    }
    request.shipping_option = None;
    request.country = None;
    match order_flow::quote(&data, entry, &request).await {
        Ok(quote) => (Some(quote), Some(refusal)),
        Err(e) => (None, Some(federation_error(e))),
    }
}

/// `POST /orders` (the Confirm form): place the order with the total the buyer saw and go to
/// its page (303), or show the form again with the seller's reason (409 when the price changed,
/// 422 for a field).
async fn place(
    State(state): State<AppState>,
    user: PageUser,
    form: Result<Form<OrderForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let nav = Nav::build(&state, Some(&user)).await;
    let total = form.total;
    let choice = Choice {
        listing: form.listing,
        quantity: form.quantity,
        shipping_option: form.shipping_option,
        country: form.country,
    };
    let address = AddressFields {
        name: form.name,
        street: form.street,
        city: form.city,
        postal_code: form.postal_code,
    };
    let placed = async {
        let entry = choice
            .listing
            .trim()
            .parse::<i32>()
            .map_err(|_| Error::not_found("catalog entry"))?;
        let typed = [
            &address.name,
            &address.street,
            &address.city,
            &address.postal_code,
        ];
        // A pickup option's form has no address fields; anything typed is an address.
        let shipping_address = (!typed.iter().all(|f| f.trim().is_empty())).then(|| Address {
            name: address.name.clone(),
            street: address.street.clone(),
            city: address.city.clone(),
            postal_code: address.postal_code.clone(),
            country: choice.country.clone(),
        });
        let request = OrderRequest {
            entry,
            quantity: quantity(&choice.quantity)?,
            shipping_option: choice.shipping_option.trim().to_string(),
            address: shipping_address,
            total: total.trim().to_string(),
        };
        order_flow::place(&state.federation.to_request_data(), &user.user, request)
            .await
            .map_err(federation_error)
    }
    .await;
    match placed {
        Ok(row) => Redirect::to(&format!("/orders/{}", row.id)).into_response(),
        Err(e @ (Error::NotFound(_) | Error::Db(_) | Error::Internal(_))) => {
            PageError::new(&state, e).nav(nav).into_response()
        }
        Err(e) => order_form(&state, &user, nav, choice, address, Some(e)).await,
    }
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage<'a> {
    node_name: &'a str,
    nav: Nav,
    orders: Vec<OrderRow>,
    page: u64,
    has_next: bool,
}

/// `GET /orders?page=`: what the visitor bought, newest first.
async fn my_orders(
    State(state): State<AppState>,
    user: PageUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, Some(&user)).await;
    let fail = PageError::with(&state, &nav);
    let found = orders::list(ctx, Scope::Bought(&user.user), None, page_number(&query))
        .await
        .map_err(&fail)?;
    let rows = found
        .items
        .iter()
        .map(|o| {
            let view = orders::summary(ctx, o, Party::Buyer)?;
            Ok(OrderRow {
                state: state_label(view.state),
                actions: Vec::new(),
                o: view,
            })
        })
        .collect::<Result<Vec<_>, Error>>()
        .map_err(&fail)?;
    Ok(no_store(render(&OrdersPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        has_next: found.has_next(),
        page: found.page,
        orders: rows,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_its_paragraphs_and_lines() {
        assert_eq!(
            paragraphs("IBAN MX00\r\nRef: order\n\n\n<b>Thanks</b>\n"),
            vec![
                vec!["IBAN MX00".to_string(), "Ref: order".to_string()],
                vec!["<b>Thanks</b>".to_string()],
            ]
        );
        assert!(paragraphs(" \n\n ").is_empty());
    }
}
