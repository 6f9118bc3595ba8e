//! `/admin/federation`: the federation policy. The mode (open or allowlist) comes from the
//! config file and is only explained here; the domain blocklist is edited here (block with a
//! reason, which forgets what the node holds from the domain; unblock) and downloaded as
//! Mastodon's domain-block CSV. The same services as `tianguis domain …`.

use askama::Template;
use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use market::{entities::domain_block, service::domains};
use serde::Deserialize;

use super::{Admin, Shown, done};
use crate::{
    config::FederationMode,
    pages::{Nav, PageError},
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/federation", get(page))
        .route("/admin/federation/block", post(block))
        .route("/admin/federation/unblock", post(unblock))
        .route("/admin/federation/blocklist.csv", get(blocklist_csv))
}

#[derive(Template)]
#[template(path = "admin_federation.html")]
struct PolicyPage<'a> {
    node_name: &'a str,
    nav: Nav,
    section: &'static str,
    note: Option<String>,
    error: Option<String>,
    csrf: String,
    allowlist: bool,
    blocked: Vec<domain_block::Model>,
    /// The Block form as it was sent, shown again after a refusal.
    domain: String,
    reason: String,
}

async fn page(State(state): State<AppState>, Admin(user): Admin, headers: HeaderMap) -> Response {
    show(
        &state,
        &user,
        Shown::from_headers(&headers),
        BlockForm::default(),
    )
    .await
}

async fn show(state: &AppState, user: &PageUser, shown: Shown, form: BlockForm) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let shown = match shown.check(state, &nav) {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let blocked = match domains::list(ctx).await {
        Ok(blocked) => blocked,
        Err(e) => return PageError::new(state, e).nav(nav).into_response(),
    };
    shown.answer(
        state,
        &PolicyPage {
            node_name: &ctx.instance.name,
            nav,
            section: "federation",
            note: shown.note.clone(),
            error: shown.error_text(),
            csrf: user.csrf(),
            allowlist: state.config.federation.mode == FederationMode::Allowlist,
            blocked,
            domain: form.domain,
            reason: form.reason,
        },
    )
}

/// The Block form (and Unblock's button, which sends only the domain).
#[derive(Deserialize, Default)]
#[serde(default)]
struct BlockForm {
    csrf: String,
    /// `example.com` or `*.example.com`.
    domain: String,
    /// Why (shown in the CSV export's public comment).
    reason: String,
}

async fn block(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<BlockForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let reason = Some(form.reason.trim()).filter(|r| !r.is_empty());
    match domains::block(&state.ctx, &form.domain, reason).await {
        Ok((domain, purged)) => done(
            &state,
            "/admin/federation",
            &format!(
                "Blocked {domain}. Forgotten: {} remote account{} (and their follows), {} copied \
                 listing{}, {} peer node{}; {} waiting deliver{} refused.",
                purged.actors,
                plural(purged.actors),
                purged.listings,
                plural(purged.listings),
                purged.peers,
                plural(purged.peers),
                purged.deliveries,
                if purged.deliveries == 1 { "y" } else { "ies" },
            ),
        ),
        Err(e) => show(&state, &user, Shown::refused(e), form).await,
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

async fn unblock(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<BlockForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let outcome = match domains::unblock(&state.ctx, &form.domain).await {
        Ok(true) => domains::normalize(&form.domain),
        Ok(false) => Err(market::Error::not_found("blocked domain")),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(domain) => done(
            &state,
            "/admin/federation",
            &format!("Unblocked {domain}. Nothing forgotten comes back by itself."),
        ),
        Err(e) => show(&state, &user, Shown::refused(e), BlockForm::default()).await,
    }
}

/// `GET /admin/federation/blocklist.csv`: the blocklist as Mastodon's domain-block CSV (what
/// `tianguis domain export` prints), to share with other servers' admins.
async fn blocklist_csv(State(state): State<AppState>, Admin(user): Admin) -> Response {
    match domains::list(&state.ctx).await {
        Ok(entries) => no_store(
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"domain_blocks.csv\"",
                    ),
                ],
                domains::to_csv(&entries),
            )
                .into_response(),
        ),
        Err(e) => PageError::new(&state, e)
            .nav(Nav::session(&user))
            .into_response(),
    }
}
