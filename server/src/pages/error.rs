//! Error pages, and rendering a template into a response.

use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

use super::Nav;
use crate::{routes::AppState, session::MaybeUser};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    node_name: &'a str,
    nav: Nav,
    heading: &'a str,
    message: &'a str,
}

/// An error shown as a page.
pub(super) struct PageError {
    pub(super) status: StatusCode,
    pub(super) node_name: String,
    pub(super) message: String,
    pub(super) nav: Nav,
}

impl PageError {
    /// The page for `err`, with a header that does not know who is looking.
    pub(super) fn new(state: &AppState, err: market::Error) -> Self {
        if err.is_internal() {
            tracing::error!(error = %err, "page failed");
        }
        PageError {
            status: StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            node_name: state.ctx.instance.name.clone(),
            message: err.public_message(),
            nav: Nav::unknown(),
        }
    }

    /// The same page with the visitor's header.
    pub(super) fn nav(mut self, nav: Nav) -> Self {
        self.nav = nav;
        self
    }

    /// `map_err` for a handler that built its header already.
    pub(super) fn with<'a>(
        state: &'a AppState,
        nav: &'a Nav,
    ) -> impl Fn(market::Error) -> PageError + 'a {
        move |e| PageError::new(state, e).nav(nav.clone())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let heading = self.status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            node_name: &self.node_name,
            nav: self.nav.clone(),
            heading,
            message: &self.message,
        };
        (self.status, render(&page)).into_response()
    }
}

/// The page, or a bare 500 if the template fails (logged).
pub(super) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The page for any unknown path.
pub async fn not_found(State(state): State<AppState>, MaybeUser(user): MaybeUser) -> Response {
    let nav = Nav::build(&state, user.as_ref()).await;
    PageError::new(&state, market::Error::not_found("page"))
        .nav(nav)
        .into_response()
}
