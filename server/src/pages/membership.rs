//! Joining the co-op through pages: `/coop/membership` shows the visitor's membership, the
//! application form (buyers), and for admins the applications waiting for a decision with
//! approve/reject buttons (when the bylaws let admins decide). Every form carries the CSRF
//! token; each action answers 303 back to the page.

use askama::Template;
use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use market::{
    bylaws::Admission,
    service::{
        membership::{self, Decider, MembershipView},
        periods,
    },
};
use serde::Deserialize;

use super::{Nav, PageError, render};
use crate::{
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

/// `/coop/membership` and its forms.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/coop/membership", get(membership_page))
        .route("/coop/membership/apply", post(apply))
        .route("/coop/membership/decide", post(decide))
}

#[derive(Template)]
#[template(path = "membership.html")]
struct MembershipPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    mine: MembershipView,
    by_vote: bool,
    is_admin: bool,
    pending: Vec<MembershipView>,
    /// The visitor's statement for each closed period, newest first.
    statements: Vec<periods::Statement>,
}

async fn membership_page(
    State(state): State<AppState>,
    user: PageUser,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, Some(&user)).await;
    let fail = PageError::with(&state, &nav);
    let mine = membership::status(ctx, &user.user).await.map_err(&fail)?;
    let pending = if user.user.is_admin() {
        membership::pending(ctx).await.map_err(&fail)?
    } else {
        Vec::new()
    };
    let mut statements = Vec::new();
    if user.user.is_member() {
        for period in periods::list(ctx).await.map_err(&fail)?.iter().rev() {
            statements.push(
                periods::statement(ctx, &period.label, &user.user.username)
                    .await
                    .map_err(&fail)?,
            );
        }
    }
    Ok(no_store(render(&MembershipPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        csrf: user.csrf(),
        mine,
        by_vote: ctx.instance.bylaws.admission == Admission::Vote,
        is_admin: user.user.is_admin(),
        pending,
        statements,
    })))
}

/// The fields of the application form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ApplyForm {
    csrf: String,
    statement: String,
}

async fn apply(
    State(state): State<AppState>,
    user: PageUser,
    form: Result<Form<ApplyForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let data = state.federation.to_request_data();
    let applied = federation::governance::apply_for_membership(&data, &user.user, &form.statement)
        .await
        .map_err(federation::Error::into_market);
    match applied {
        Ok(_) => Redirect::to("/coop/membership").into_response(),
        Err(e) => PageError::new(&state, e)
            .nav(Nav::session(&user))
            .into_response(),
    }
}

/// The fields of an Admit / Turn down button (here and on `/admin/members`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DecideForm {
    pub(super) csrf: String,
    pub(super) username: String,
    /// `approve` or `reject`.
    pub(super) decision: String,
}

impl DecideForm {
    /// Whether the button admits (`approve`) or turns down (`reject`); 422 for anything else.
    pub(super) fn approve(&self) -> Result<bool, market::Error> {
        match self.decision.as_str() {
            "approve" => Ok(true),
            "reject" => Ok(false),
            _ => Err(market::Error::invalid("decision", "approve or reject")),
        }
    }
}

async fn decide(
    State(state): State<AppState>,
    user: PageUser,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let approve = match form.approve() {
        Ok(approve) => approve,
        Err(e) => {
            return PageError::new(&state, e)
                .nav(Nav::session(&user))
                .into_response();
        }
    };
    match membership::decide(
        &state.ctx,
        Decider::Admin(&user.user),
        &form.username,
        approve,
    )
    .await
    {
        Ok(_) => Redirect::to("/coop/membership").into_response(),
        Err(e) => PageError::new(&state, e)
            .nav(Nav::session(&user))
            .into_response(),
    }
}
