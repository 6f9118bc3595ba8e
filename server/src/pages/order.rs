//! One order, for its two parties: `/orders/{id}` (figures, address, how to pay, the timeline,
//! the message thread and the buttons for the next steps) and its two forms, `POST
//! /orders/{id}/state` and `POST /orders/{id}/messages`. Anyone else gets 404, as if the order
//! did not exist.

use askama::Template;
use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use federation::orders as order_flow;
use market::{
    Error,
    service::{
        orders::{self, Address, OrderView, Party, State as OrderState},
        shops::Authority,
    },
};
use serde::Deserialize;

use super::{
    Nav, PageError,
    orders::{Action, actions, federation_error, paragraphs, state_label},
    render, vary_accept, wants_activity_json,
};
use crate::{
    routes::AppState,
    session::{PageUser, check_csrf, no_store, safe_next},
};

/// `/orders/{id}` and its forms.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/state", post(step))
        .route("/orders/{id}/messages", post(write))
}

/// Our order ids are UUIDs; anything else is no order of ours.
fn order_id(id: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| Error::not_found("order"))
}

/// One step of the timeline.
struct Step {
    label: &'static str,
    by: &'static str,
    note: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

/// One message of the thread.
struct Message {
    from: String,
    mine: bool,
    paragraphs: Vec<Vec<String>>,
    at: chrono::DateTime<chrono::Utc>,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    o: OrderView,
    state: &'static str,
    seller: bool,
    /// The shop's order list, for the seller.
    shop_orders: Option<String>,
    address: Option<Address>,
    /// How to pay, as paragraphs, once the shop has accepted.
    payment: Vec<Vec<String>>,
    payment_url: Option<String>,
    /// Who the viewer writes to: "the shop" or "the buyer".
    other: &'static str,
    steps: Vec<Step>,
    messages: Vec<Message>,
    /// Messages start once the shop has answered the offer.
    can_write: bool,
    actions: Vec<Action>,
    /// A refused form's reason, and what was typed in the message box.
    error: Option<String>,
    draft: String,
}

fn party_name(party: &str) -> &'static str {
    if party == Party::Seller.as_str() {
        "the shop"
    } else {
        "the buyer"
    }
}

/// `GET /orders/{id}`: the order for its buyer or its shop. (On the shop's node the same URL is
/// the order's Agreement id, so ActivityPub clients are answered apart.)
async fn order_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    user: Result<PageUser, Response>,
) -> Response {
    if wants_activity_json(&headers) {
        // The seller's order id is also its FEP-0837 Agreement's id: the parties' nodes fetch
        // it signed; everyone else gets 404.
        let data = state.federation.to_request_data();
        return vary_accept(
            federation::routes::agreement_document(&data, &id, &method, &uri, &headers).await,
        );
    }
    let user = match user {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let nav = Nav::build(&state, Some(&user)).await;
    vary_accept(show(&state, &user, nav, &id, None, String::new()).await)
}

/// Render order `id` for `user`, with a refused form's error (its status and message) and the
/// message being written, if any.
async fn show(
    state: &AppState,
    user: &PageUser,
    nav: Nav,
    id: &str,
    error: Option<Error>,
    draft: String,
) -> Response {
    let ctx = &state.ctx;
    let fail = PageError::with(state, &nav);
    let loaded = async {
        let id = order_id(id)?;
        let (row, party) = orders::access(ctx, Authority::User(&user.user), &id).await?;
        orders::view(ctx, &row, party).await
    }
    .await;
    let view = match loaded {
        Ok(view) => view,
        Err(e) => return fail(e).into_response(),
    };
    let agreed = matches!(
        view.state,
        OrderState::Accepted
            | OrderState::Paid
            | OrderState::Shipped
            | OrderState::Delivered
            | OrderState::Completed
    );
    let seller = view.role == Party::Seller;
    let status = error.as_ref().map_or(StatusCode::OK, |e| {
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let page = OrderPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        csrf: user.csrf(),
        state: state_label(view.state),
        seller,
        shop_orders: seller
            .then(|| {
                view.shop
                    .split('@')
                    .next()
                    .map(|h| format!("/shops/{h}/orders"))
            })
            .flatten(),
        address: view.address.clone(),
        payment: if agreed {
            paragraphs(&view.payment_instructions)
        } else {
            Vec::new()
        },
        payment_url: view.payment_url.clone().filter(|_| agreed),
        other: if seller { "the buyer" } else { "the shop" },
        steps: view
            .timeline
            .iter()
            .map(|e| Step {
                label: OrderState::parse(&e.state).map_or("Changed", state_label),
                by: party_name(&e.party),
                note: e.note.clone(),
                at: e.at,
            })
            .collect(),
        messages: view
            .messages
            .iter()
            .map(|m| Message {
                from: m.from.clone(),
                mine: m.party == view.role.as_str(),
                paragraphs: paragraphs(&m.content),
                at: m.at,
            })
            .collect(),
        can_write: view.state != OrderState::Offered,
        actions: actions(&view),
        error: error.map(|e| e.public_message()),
        draft,
        o: view,
    };
    (status, no_store(render(&page))).into_response()
}

/// The fields of a step's form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct StepForm {
    csrf: String,
    state: String,
    reason: String,
    /// Where to go afterwards (the shop's order list sends its own path); a local path only.
    back: String,
}

/// `POST /orders/{id}/state` (`state`, `reason` for a cancellation): take the step and 303 back,
/// or show the order with the reason it was refused (403 the other party's step, 409 not
/// possible now, 422 a shop cancelling without a reason).
async fn step(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Result<Form<StepForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let taken = async {
        let id = order_id(&id)?;
        let to = OrderState::parse(form.state.trim())
            .ok_or_else(|| Error::invalid("state", "not an order state"))?;
        let reason = Some(form.reason.as_str()).filter(|r| !r.trim().is_empty());
        order_flow::act(
            &state.federation.to_request_data(),
            Authority::User(&user.user),
            &id,
            to,
            reason,
        )
        .await
        .map_err(federation_error)?;
        Ok::<_, Error>(id)
    }
    .await;
    finish(&state, &user, &id, &form.back, taken, String::new()).await
}

/// The fields of the message form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct MessageForm {
    csrf: String,
    content: String,
}

/// `POST /orders/{id}/messages` (`content`): write to the other party and 303 back to the
/// thread, or show it again with the reason and what was typed.
async fn write(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Result<Form<MessageForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let written = async {
        let id = order_id(&id)?;
        order_flow::message(
            &state.federation.to_request_data(),
            Authority::User(&user.user),
            &id,
            &form.content,
        )
        .await
        .map_err(federation_error)?;
        Ok::<_, Error>(id)
    }
    .await;
    let back = format!("/orders/{id}#messages");
    finish(&state, &user, &id, &back, written, form.content).await
}

/// 303 to `back` (or the order) after a form succeeded; the order page with the error if not.
async fn finish(
    state: &AppState,
    user: &PageUser,
    id: &str,
    back: &str,
    outcome: Result<String, Error>,
    draft: String,
) -> Response {
    match outcome {
        Ok(id) => {
            let back = safe_next(back);
            let to = if back == "/" {
                format!("/orders/{id}")
            } else {
                back.to_string()
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => {
            let nav = Nav::build(state, Some(user)).await;
            if e.is_internal() || matches!(e, Error::NotFound(_)) {
                return PageError::new(state, e).nav(nav).into_response();
            }
            show(state, user, nav, id, Some(e), draft).await
        }
    }
}
