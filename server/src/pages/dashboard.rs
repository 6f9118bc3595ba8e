//! The seller's pages: `/selling` (the visitor's shops with their listings, counts, follow
//! requests and links, or the form to open a shop), a listing's new and edit forms
//! ([`listing_form`]) and a shop's settings ([`shop_settings`]). Plain HTML forms, no script:
//! every form posts its session's CSRF value, a success answers 303, a refused form comes back
//! with what was typed and the reason next to its field (`aria-invalid`, `aria-describedby`).

use askama::Template;
use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use market::{
    Error,
    entities::shop,
    service::{
        PageRequest, followers,
        followers::FollowerView,
        listings::{self, ListingFilter, ListingView},
        orders::{self, Scope, State as OrderState},
        shops::{self, Authority},
    },
};
use serde::Deserialize;

use super::{Nav, PageError, render};
use crate::{
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

mod listing_form;
mod shop_settings;
mod upload;

/// An error as a page, with the visitor's header.
async fn error_page(state: &AppState, user: &PageUser, err: Error) -> Response {
    let nav = Nav::build(state, Some(user)).await;
    PageError::new(state, err).nav(nav).into_response()
}

/// The seller's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/selling", get(dashboard))
        .route("/selling/shops", post(open_shop))
        .route("/shops/{handle}/followers/{id}/decide", post(decide_follow))
        .merge(listing_form::routes())
        .merge(shop_settings::routes())
}

/// Why a form was refused, and the input it is about.
#[derive(Debug, Default, Clone)]
struct Problem {
    /// The `id` of the input at fault; empty when the problem is the form's as a whole.
    id: String,
    /// What to tell the visitor.
    message: String,
}

impl Problem {
    /// `err`, placed at the input `id_of` names for the error's field (`None`: the whole form).
    /// Only refusals a visitor can act on are shown on the form; internal errors never get here.
    fn of(err: &Error, id_of: impl Fn(&str) -> Option<String>) -> Problem {
        match err {
            Error::Invalid { field, reason } => match id_of(field) {
                Some(id) => Problem {
                    id,
                    message: reason.clone(),
                },
                None => Problem {
                    id: String::new(),
                    message: err.public_message(),
                },
            },
            other => Problem {
                id: String::new(),
                message: other.public_message(),
            },
        }
    }

    /// The problem is with the input `id`.
    fn is(&self, id: &str) -> bool {
        !self.message.is_empty() && self.id == id
    }

    /// There is a problem to show.
    fn any(&self) -> bool {
        !self.message.is_empty()
    }
}

/// The status a refused form is shown again with: the error's own (422 for a field, 409 for a
/// taken handle, 413/415 for a photo).
fn status_of(err: &Error) -> StatusCode {
    StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// A form the visitor cannot fix by editing it (a database failure, a vanished shop) is shown
/// as an error page rather than on the form.
fn unfixable(err: &Error) -> bool {
    err.is_internal() || matches!(err, Error::NotFound(_) | Error::Forbidden(_))
}

/// A shop's listing ids are UUIDs; anything else is no listing.
fn listing_id(id: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| Error::not_found("listing"))
}

/// The shop `handle`, if `user` may run it (403 page otherwise, 404 for no such shop).
async fn managed_shop(
    state: &AppState,
    user: &PageUser,
    handle: &str,
) -> Result<shop::Model, Error> {
    let shop = shops::get_shop(&state.ctx, handle).await?;
    shops::ensure_can_manage(Authority::User(&user.user), &shop)?;
    Ok(shop)
}

/// The states of an order in which the next step is the shop's: accept or decline it (offered:
/// on the shop's side, an order held for a shop that accepts by hand), mark the payment received
/// (accepted), send the goods (paid), issue the receipt (delivered). A shipped order waits for
/// its delivery.
const SHOP_MOVES_NEXT: [OrderState; 4] = [
    OrderState::Offered,
    OrderState::Accepted,
    OrderState::Paid,
    OrderState::Delivered,
];

/// Most listings the dashboard shows per shop (the rest are on the shop's page).
const LISTINGS_SHOWN: u64 = 100;
/// Most follow requests the dashboard shows per shop.
const REQUESTS_SHOWN: u64 = 20;

/// One shop on the dashboard.
struct ShopPanel {
    shop: shop::Model,
    /// Listings on show (not withdrawn), newest first, at most [`LISTINGS_SHOWN`].
    listings: Vec<ListingView>,
    listing_count: u64,
    /// The shop has more listings than are shown.
    more: bool,
    /// Orders whose next step is the shop's.
    waiting: u64,
    followers: u64,
    /// Follow requests waiting for a decision, and how many there are in all.
    requests: Vec<FollowerView>,
    request_count: u64,
}

/// What was typed in the "Open a shop" form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct OpenShopForm {
    csrf: String,
    handle: String,
    name: String,
}

#[derive(Template)]
#[template(path = "selling.html")]
struct SellingPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    domain: &'a str,
    /// The visitor may open and run shops (a co-op member).
    member: bool,
    panels: Vec<ShopPanel>,
    open: OpenShopForm,
    problem: Problem,
}

async fn panel(state: &AppState, shop: shop::Model) -> Result<ShopPanel, Error> {
    let ctx = &state.ctx;
    let filter = ListingFilter {
        shop_id: Some(shop.id),
        include_withdrawn: false,
        tag: None,
    };
    let found = listings::list_listings(
        ctx,
        filter,
        PageRequest::parse(Some(1), Some(LISTINGS_SHOWN))?,
    )
    .await?;
    let one = PageRequest::parse(Some(1), Some(1))?;
    let mut waiting = 0;
    for s in SHOP_MOVES_NEXT {
        waiting += orders::list(ctx, Scope::Sold(shop.id), Some(s), one)
            .await?
            .total;
    }
    let followers = followers::count_followers(ctx, shop.id).await?;
    let (requests, request_count) =
        followers::pending_requests(ctx, shop.id, REQUESTS_SHOWN).await?;
    Ok(ShopPanel {
        listing_count: found.total,
        more: found.total > found.items.len() as u64,
        listings: found.items,
        waiting,
        followers,
        requests,
        request_count,
        shop,
    })
}

/// Render the dashboard for `user`, with the "Open a shop" form as typed and its problem.
async fn show(
    state: &AppState,
    user: &PageUser,
    open: OpenShopForm,
    problem: Option<Error>,
) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let fail = PageError::with(state, &nav);
    let member = user.user.is_member();
    let mut panels = Vec::new();
    if member {
        let owned = match shops::shops_of(ctx, &user.user).await {
            Ok(owned) => owned,
            Err(e) => return fail(e).into_response(),
        };
        for shop in owned {
            match panel(state, shop).await {
                Ok(p) => panels.push(p),
                Err(e) => return fail(e).into_response(),
            }
        }
    }
    let status = problem.as_ref().map_or(StatusCode::OK, status_of);
    let problem = problem
        .map(|e| {
            Problem::of(&e, |field| match field {
                "handle" => Some("shop-handle".into()),
                "name" => Some("shop-name".into()),
                _ => None,
            })
        })
        .unwrap_or_default();
    let page = SellingPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        csrf: user.csrf(),
        domain: &ctx.instance.domain,
        member,
        panels,
        open,
        problem,
    };
    (status, no_store(render(&page))).into_response()
}

/// `GET /selling`: the seller's dashboard.
async fn dashboard(State(state): State<AppState>, user: PageUser) -> Response {
    show(&state, &user, OpenShopForm::default(), None).await
}

/// `POST /selling/shops` (`handle`, `name`): open a shop run by the visitor, then back to the
/// dashboard; a taken or malformed handle comes back on the form (409, 422).
async fn open_shop(
    State(state): State<AppState>,
    user: PageUser,
    form: Result<Form<OpenShopForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let opened = async {
        let new = shops::NewShop::parse(&form.handle, &form.name, None)?;
        shops::create_shop(&state.ctx, &user.user, new).await
    }
    .await;
    match opened {
        Ok(shop) => Redirect::to(&format!("/selling#shop-{}", shop.handle)).into_response(),
        Err(e) if unfixable(&e) => PageError::new(&state, e)
            .nav(Nav::session(&user))
            .into_response(),
        Err(e) => show(&state, &user, form, Some(e)).await,
    }
}

/// The fields of an approve/reject button.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DecideForm {
    csrf: String,
    decision: String,
}

/// `POST /shops/{handle}/followers/{id}/decide` (`decision`: approve or reject): answer a
/// follow request; the follower's server gets an `Accept` or `Reject`. Back to the dashboard.
async fn decide_follow(
    State(state): State<AppState>,
    user: PageUser,
    Path((handle, id)): Path<(String, String)>,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let decided = async {
        let accept = match form.decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => return Err(Error::invalid("decision", "approve or reject")),
        };
        let id = id
            .parse::<i32>()
            .map_err(|_| Error::not_found("follow request"))?;
        let shop = shops::get_shop(&state.ctx, &handle).await?;
        let decided =
            followers::decide_follow(&state.ctx, Authority::User(&user.user), &shop, id, accept)
                .await?;
        let data = state.federation.to_request_data();
        federation::activities::accept_follow::answer(&data, decided, accept)
            .await
            .map_err(|e| Error::Internal(format!("could not answer the follow: {e}")))?;
        Ok(shop.handle)
    }
    .await;
    match decided {
        Ok(handle) => Redirect::to(&format!("/selling#shop-{handle}")).into_response(),
        Err(e) => PageError::new(&state, e)
            .nav(Nav::session(&user))
            .into_response(),
    }
}
