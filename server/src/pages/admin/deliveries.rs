//! `/admin/deliveries`: delivery health (queue depth, oldest pending, given up, refused,
//! failing and unavailable hosts: the figures of `tianguis deliveries status`), with a
//! "Retry now" button per host (`deliveries::retry_now`, then the worker is woken).

use askama::Template;
use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use market::service::deliveries::{self, QueueStatus};
use serde::Deserialize;

use super::{Admin, Shown, done};
use crate::{
    pages::{Nav, PageError},
    routes::AppState,
    session::{PageUser, check_csrf},
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/deliveries", get(page))
        .route("/admin/deliveries/retry", post(retry))
}

#[derive(Template)]
#[template(path = "admin_deliveries.html")]
struct DeliveriesPage<'a> {
    node_name: &'a str,
    nav: Nav,
    section: &'static str,
    note: Option<String>,
    error: Option<String>,
    csrf: String,
    status: QueueStatus,
}

async fn page(State(state): State<AppState>, Admin(user): Admin, headers: HeaderMap) -> Response {
    show(&state, &user, Shown::from_headers(&headers)).await
}

async fn show(state: &AppState, user: &PageUser, shown: Shown) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let shown = match shown.check(state, &nav) {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let status = match deliveries::status(ctx).await {
        Ok(status) => status,
        Err(e) => return PageError::new(state, e).nav(nav).into_response(),
    };
    shown.answer(
        state,
        &DeliveriesPage {
            node_name: &ctx.instance.name,
            nav,
            section: "deliveries",
            note: shown.note.clone(),
            error: shown.error_text(),
            csrf: user.csrf(),
            status,
        },
    )
}

/// A "Retry now" button.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RetryForm {
    csrf: String,
    /// The host (and port) as the page shows it.
    host: String,
}

async fn retry(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<RetryForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    // The same check as `POST /api/v1/admin/deliveries/retry`.
    let host = form.host.trim();
    if host.is_empty() || host.len() > 255 || host.contains(['/', ' ']) {
        let e = market::Error::invalid("host", "a host name, with its port if not 443");
        return show(&state, &user, Shown::refused(e)).await;
    }
    match deliveries::retry_now(&state.ctx, Some(host)).await {
        Ok(due) => done(
            &state,
            "/admin/deliveries",
            &format!(
                "{due} deliver{} to {host} {} due now; its failures are forgotten.",
                if due == 1 { "y" } else { "ies" },
                if due == 1 { "is" } else { "are" }
            ),
        ),
        Err(e) => show(&state, &user, Shown::refused(e)).await,
    }
}
