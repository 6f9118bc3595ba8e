//! The co-op's proposals as pages: `/coop/proposals` (open first) and `/coop/proposals/{id}`
//! (text, options, a vote form for members, the receipt shown once right after voting, a
//! receipt check, and the result once closed). The same URL is the proposal's `Question` for
//! ActivityPub clients. A fuller governance UI is a later issue.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{Path, Query, State, rejection::FormRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use federation::governance as flow;
use market::{
    Error,
    service::governance::{self, Choice, ProposalView},
};
use serde::Deserialize;

use super::{Nav, PageError, orders::page_number, render, vary_accept, wants_activity_json};
use crate::{
    routes::AppState,
    session::{MaybeUser, PageUser, check_csrf, no_store},
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/coop/proposals", get(list).post(create))
        .route("/coop/proposals/{id}", get(show))
        .route("/coop/proposals/{id}/vote", post(vote))
        .route("/coop/proposals/{id}/receipt", post(check_receipt))
}

#[derive(Template)]
#[template(path = "proposals.html")]
struct ListPage<'a> {
    node_name: &'a str,
    nav: Nav,
    proposals: Vec<ProposalView>,
    page: u64,
    has_next: bool,
    /// Members get the form to propose.
    member: bool,
    csrf: String,
}

/// The fields of the "New proposal" form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ProposeForm {
    csrf: String,
    title: String,
    text: String,
    /// One option per line; empty for yes/no.
    options: String,
    /// Days the vote stays open.
    days: String,
}

/// `POST /coop/proposals`: a member proposes; 303 to the new proposal's page. A refused form
/// answers the error page with its message (422 naming the field).
async fn create(
    State(state): State<AppState>,
    user: PageUser,
    form: Result<Form<ProposeForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let options: Vec<String> = form
        .options
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let days = match form.days.trim() {
        "" => Ok(7.0),
        d => d
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && *d > 0.0)
            .ok_or_else(|| Error::invalid("days", "a number of days, such as 7")),
    };
    let input = days.map(|days| governance::NewProposal {
        title: form.title,
        text: form.text,
        options: (!options.is_empty()).then_some(options),
        hours: Some(days * 24.0),
        ..Default::default()
    });
    let data = state.federation.to_request_data();
    let made = match input {
        Ok(input) => flow::propose(&data, &user.user, input)
            .await
            .map_err(federation::Error::into_market),
        Err(e) => Err(e),
    };
    match made {
        Ok(view) => {
            axum::response::Redirect::to(&format!("/coop/proposals/{}", view.id)).into_response()
        }
        Err(e) => PageError::new(&state, e)
            .nav(crate::pages::Nav::session(&user))
            .into_response(),
    }
}

async fn list(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let nav = Nav::build(&state, user.as_ref()).await;
    let member = user.as_ref().is_some_and(|u| u.user.is_member());
    let csrf = user.as_ref().map(PageUser::csrf).unwrap_or_default();
    let data = state.federation.to_request_data();
    let page = page_number(&query);
    match flow::list(&data, page).await {
        Ok(found) => render(&ListPage {
            node_name: &state.ctx.instance.name,
            nav,
            has_next: found.has_next(),
            page: found.page,
            proposals: found.items,
            member,
            csrf,
        }),
        Err(e) => PageError::new(&state, e.into_market())
            .nav(nav)
            .into_response(),
    }
}

#[derive(Template)]
#[template(path = "proposal.html")]
struct ProposalPage<'a> {
    node_name: &'a str,
    nav: Nav,
    p: ProposalView,
    /// The vote form and receipt check are for members.
    member: bool,
    voted: bool,
    csrf: String,
    /// A receipt just issued: shown this once.
    receipt: Option<String>,
    /// What a checked receipt counted for, or why it was not found.
    checked: Option<String>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    user: Option<&PageUser>,
    id: &str,
    receipt: Option<String>,
    checked: Option<String>,
    error: Option<Error>,
) -> Response {
    let nav = Nav::build(state, user).await;
    let data = state.federation.to_request_data();
    let p = match flow::get(&data, id).await {
        Ok(p) => p,
        Err(e) => {
            return PageError::new(state, e.into_market())
                .nav(nav)
                .into_response();
        }
    };
    let member = user.is_some_and(|u| u.user.is_member());
    let voted = match user {
        Some(u) if member => governance::has_voted(&state.ctx, &p.id, &u.user)
            .await
            .unwrap_or(false),
        _ => false,
    };
    let status = error.as_ref().map_or(StatusCode::OK, |e| {
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let response = render(&ProposalPage {
        node_name: &state.ctx.instance.name,
        nav,
        p,
        member,
        voted,
        csrf: user.map(PageUser::csrf).unwrap_or_default(),
        receipt,
        checked,
        error: error.map(|e| e.public_message()),
    });
    // A page with a receipt or a checked vote must not be kept by a browser or proxy.
    no_store((status, response).into_response())
}

async fn show(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if wants_activity_json(&headers) {
        let data = state.federation.to_request_data();
        return match flow::question_document(&data, &id).await {
            Ok(question) => federation::routes::activity_json(question, StatusCode::OK),
            Err(e) => e.into_response(),
        };
    }
    vary_accept(page(&state, user.as_ref(), &id, None, None, None).await)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VoteForm {
    csrf: String,
    option: String,
}

async fn vote(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Result<Form<VoteForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let data = state.federation.to_request_data();
    let choice = match form.option.trim().parse::<u64>() {
        Ok(index) => Choice::Index(index),
        Err(_) => Choice::Label(form.option),
    };
    match flow::vote(&data, &user.user, &id, &choice).await {
        Ok(receipt) => page(&state, Some(&user), &id, Some(receipt.receipt), None, None).await,
        Err(e) => page(&state, Some(&user), &id, None, None, Some(e.into_market())).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReceiptForm {
    csrf: String,
    receipt: String,
}

async fn check_receipt(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Result<Form<ReceiptForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    match governance::check_receipt(&state.ctx, &user.user, &id, &form.receipt).await {
        Ok(counted) => {
            let text = format!("Your vote was counted, for “{}”.", counted.option);
            page(&state, Some(&user), &id, None, Some(text), None).await
        }
        Err(Error::NotFound(_)) => {
            let text = "No vote of this proposal has that receipt.".to_string();
            page(&state, Some(&user), &id, None, Some(text), None).await
        }
        Err(e) => page(&state, Some(&user), &id, None, None, Some(e)).await,
    }
}
