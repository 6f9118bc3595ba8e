//! The visitor's notifications (an order changed state or got a message): `/notifications`, and
//! `POST /notifications/read` to mark them all read.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{Query, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use market::{entities::notification, service::orders};
use serde::Deserialize;

use super::{Nav, PageError, orders::page_number, render};
use crate::{
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

/// `/notifications`, `/notifications/read`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(notifications_page))
        .route("/notifications/read", post(mark_all_read))
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    items: Vec<notification::Model>,
    unread: u64,
    page: u64,
    has_next: bool,
}

/// `GET /notifications?page=`: newest first, unread ones marked.
async fn notifications_page(
    State(state): State<AppState>,
    user: PageUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, Some(&user)).await;
    let (found, unread) = orders::notifications(ctx, &user.user, false, page_number(&query))
        .await
        .map_err(PageError::with(&state, &nav))?;
    Ok(no_store(render(&NotificationsPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        csrf: user.csrf(),
        has_next: found.has_next(),
        page: found.page,
        items: found.items,
        unread,
    })))
}

/// The fields of the "Mark all read" form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ReadForm {
    csrf: String,
}

/// `POST /notifications/read`: mark every notification read, 303 back to the list.
async fn mark_all_read(
    State(state): State<AppState>,
    user: PageUser,
    form: Result<Form<ReadForm>, FormRejection>,
) -> Response {
    let submitted = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &submitted) {
        return refused;
    }
    match orders::mark_read(&state.ctx, &user.user, None).await {
        Ok(_) => Redirect::to("/notifications").into_response(),
        Err(e) => PageError::new(&state, e)
            .nav(Nav::session(&user))
            .into_response(),
    }
}
