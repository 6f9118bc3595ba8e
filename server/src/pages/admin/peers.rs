//! `/admin/peers`: the peer co-op nodes (our follow of their instance actor, theirs of ours,
//! listings copied, last sync), adding one by its address, approving one that asked, and
//! removing one. The same calls as `tianguis peer …` and `/api/v1/admin/peers`
//! (`federation::peering`); its errors (unreachable, not a Tianguis node, blocked) are shown as
//! the 4xx they map to.

use askama::Template;
use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use market::{entities::peer, service::catalog};
use serde::Deserialize;

use super::{Admin, Shown, asks_us, done};
use crate::{
    config::FederationMode,
    pages::{Nav, PageError},
    routes::AppState,
    session::{PageUser, check_csrf},
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/peers", get(page).post(add))
        .route("/admin/peers/approve", post(approve))
        .route("/admin/peers/remove", post(remove))
}

/// A peer as the table shows it.
struct PeerRow {
    peer: peer::Model,
    /// Live listings copied from it.
    listings: u64,
    /// It asked to federate and waits for our approval.
    asks: bool,
}

#[derive(Template)]
#[template(path = "admin_peers.html")]
struct PeersPage<'a> {
    node_name: &'a str,
    nav: Nav,
    section: &'static str,
    note: Option<String>,
    error: Option<String>,
    csrf: String,
    peers: Vec<PeerRow>,
    allowlist: bool,
    /// The address typed into the Add form, shown again after a refusal.
    address: String,
}

async fn page(State(state): State<AppState>, Admin(user): Admin, headers: HeaderMap) -> Response {
    show(&state, &user, Shown::from_headers(&headers), String::new()).await
}

async fn show(state: &AppState, user: &PageUser, shown: Shown, address: String) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let shown = match shown.check(state, &nav) {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let loaded = async {
        let counts = catalog::count_by_origin(ctx).await?;
        let rows = market::service::peers::list(ctx).await?;
        Ok::<_, market::Error>(
            rows.into_iter()
                .map(|peer| PeerRow {
                    listings: counts.get(&peer.domain).copied().unwrap_or(0),
                    asks: asks_us(&peer),
                    peer,
                })
                .collect::<Vec<_>>(),
        )
    };
    let peers = match loaded.await {
        Ok(peers) => peers,
        Err(e) => return PageError::new(state, e).nav(nav).into_response(),
    };
    shown.answer(
        state,
        &PeersPage {
            node_name: &ctx.instance.name,
            nav,
            section: "peers",
            note: shown.note.clone(),
            error: shown.error_text(),
            csrf: user.csrf(),
            peers,
            allowlist: state.config.federation.mode == FederationMode::Allowlist,
            address,
        },
    )
}

/// The "Add a peer" form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AddForm {
    csrf: String,
    /// `https://other.coop` or `other.coop`.
    address: String,
}

async fn add(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<AddForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let address = form.address.trim();
    if address.is_empty() {
        let e = market::Error::invalid(
            "address",
            "the other node's address, such as https://other.coop",
        );
        return show(&state, &user, Shown::refused(e), String::new()).await;
    }
    let data = state.federation.to_request_data();
    match federation::peering::add(&data, address).await {
        Ok(added) => {
            let domain = &added.peer.domain;
            let note = if added.peer.outgoing == peer::outgoing::ACCEPTED {
                format!("{domain} accepted: its catalog is being copied.")
            } else if added.follow_sent {
                format!(
                    "Asked {domain} to federate. Its listings are copied once it accepts; \
                     reload this page to see its answer."
                )
            } else {
                format!("We already federate with {domain}.")
            };
            done(&state, "/admin/peers", &note)
        }
        Err(e) => {
            let address = address.to_string();
            show(&state, &user, Shown::refused(e.into_market()), address).await
        }
    }
}

/// The Approve and Remove buttons.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PeerForm {
    csrf: String,
    domain: String,
}

async fn approve(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<PeerForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let data = state.federation.to_request_data();
    match federation::peering::approve(&data, &form.domain).await {
        Ok(added) => done(
            &state,
            "/admin/peers",
            &format!(
                "Approved {}; {}.",
                added.peer.domain,
                if added.follow_sent {
                    "we asked to follow it back"
                } else {
                    "we already follow it"
                }
            ),
        ),
        Err(e) => {
            show(
                &state,
                &user,
                Shown::refused(e.into_market()),
                String::new(),
            )
            .await
        }
    }
}

async fn remove(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<PeerForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let data = state.federation.to_request_data();
    match federation::peering::remove(&data, &form.domain).await {
        Ok(removed) => done(
            &state,
            "/admin/peers",
            &format!(
                "Removed {}: {} listing{} copied from it forgotten.",
                removed.peer.domain,
                removed.listings,
                if removed.listings == 1 { "" } else { "s" }
            ),
        ),
        Err(e) => {
            show(
                &state,
                &user,
                Shown::refused(e.into_market()),
                String::new(),
            )
            .await
        }
    }
}
