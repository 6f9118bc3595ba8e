//! Server-rendered HTML pages: the node's home, a shop, a listing, and (in the submodules) the
//! header's links and the order pages. They work without JavaScript; every text is escaped by
//! the templates, only the sanitised description HTML is inserted as is.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use market::{
    entities::shop,
    service::{
        PageRequest,
        catalog::{
            self, EntryView,
            search::{self, SearchQuery},
        },
        listings::{self, ListingFilter, ListingView},
        shops,
    },
};

use crate::{routes::AppState, session::MaybeUser};

mod admin;
mod dashboard;
mod error;
mod membership;
mod nav;
mod notifications;
mod order;
mod orders;
mod proposals;
mod selling;
mod transparency;

pub use error::not_found;
use error::{PageError, render};
pub use nav::{Nav, NavAccount};

/// The page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(dashboard::routes())
        .merge(orders::routes())
        .merge(order::routes())
        .merge(selling::routes())
        .merge(notifications::routes())
        .merge(membership::routes())
        .merge(proposals::routes())
        .merge(transparency::routes())
        .merge(admin::routes())
        .route("/", get(home))
        .route("/shops/{handle}", get(shop_page))
        .route("/listings/{id}", get(listing_page))
        .route("/tags/{tag}", get(tag_page))
        .route("/search", get(search_page))
        .route("/catalog/items/{id}", get(catalog_entry_page))
        .route("/shops/{handle}/followers", get(followers_page))
        .route("/static/style.css", get(stylesheet))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    node_name: &'a str,
    nav: Nav,
    domain: &'a str,
    listings: Vec<ListingView>,
    /// The newest entries copied from peer co-ops.
    from_peers: Vec<Card>,
    shops: Vec<shop::Model>,
}

#[derive(Template)]
#[template(path = "shop.html")]
struct ShopPage<'a> {
    node_name: &'a str,
    nav: Nav,
    domain: &'a str,
    avatar_url: Option<String>,
    followers: u64,
    shop: shop::Model,
    listings: Vec<ListingView>,
    page: u64,
    has_next: bool,
}

#[derive(Template)]
#[template(path = "listing.html")]
struct ListingPage<'a> {
    node_name: &'a str,
    nav: Nav,
    l: ListingView,
    /// The Order form, when the listing is in the catalog and in stock.
    order: Option<OrderButton>,
    /// The shop's shipping options in the listing's currency.
    shipping: Vec<market::service::checkout::ShippingOption>,
}

#[derive(Template)]
#[template(path = "followers.html")]
struct FollowersPage<'a> {
    node_name: &'a str,
    nav: Nav,
    domain: &'a str,
    shop: shop::Model,
    followers: Vec<market::service::followers::FollowerView>,
    page: u64,
    has_next: bool,
}

/// Who follows a shop (accepted followers only; requests are for the owner, in the API). The
/// same URL is the shop's ActivityPub `followers` collection, which lists the same actors.
async fn followers_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let page_number = query
        .get("page")
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p >= 1);
    if wants_activity_json(&headers) {
        let data = state.federation.to_request_data();
        return Ok(
            federation::routes::followers_document(&data, &handle, page_number)
                .await
                .into_response(),
        );
    }
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let shop = shops::get_shop(ctx, &handle).await.map_err(&fail)?;
    let page = PageRequest::parse(page_number, Some(50)).map_err(&fail)?;
    let found = market::service::followers::list_followers(ctx, shop.id, page)
        .await
        .map_err(&fail)?;
    Ok(vary_accept(render(&FollowersPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        domain: &ctx.instance.domain,
        has_next: found.has_next(),
        page: found.page,
        followers: found
            .items
            .into_iter()
            .filter(|f| f.state == "accepted")
            .collect(),
        shop,
    })))
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage<'a> {
    node_name: &'a str,
    nav: Nav,
    tag: String,
    listings: Vec<ListingView>,
}

/// Listings with one hashtag (where the hashtags in federated Notes link to).
async fn tag_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(tag): Path<String>,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let tag = market::types::Tag::parse(&tag)
        .map_err(|_| fail(market::Error::not_found("tag")))?
        .into_inner();
    let filter = ListingFilter {
        tag: Some(tag.clone()),
        ..Default::default()
    };
    let page = PageRequest::parse(Some(1), Some(48)).map_err(&fail)?;
    let found = listings::list_listings(ctx, filter, page)
        .await
        .map_err(&fail)?;
    Ok(render(&TagPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        tag,
        listings: found.items,
    }))
}

/// The search form's fields as the visitor typed them, to show them again.
struct SearchForm {
    q: String,
    tag: String,
    currency: String,
    min_price: String,
    max_price: String,
    shop: String,
    node: String,
    in_stock: bool,
}

/// The query parameters the search page keeps from one page of results to the next.
const SEARCH_PARAMS: [&str; 8] = [
    "q",
    "tag",
    "currency",
    "min_price",
    "max_price",
    "shop",
    "node",
    "in_stock",
];

/// One result: the entry and the thumbnail to show (`src`, `alt`), if we have one.
struct Card {
    entry: EntryView,
    thumb: Option<(String, String)>,
}

impl Card {
    fn of(entry: EntryView) -> Card {
        Card {
            thumb: entry
                .images
                .iter()
                .find_map(|i| Some((i.thumbnail_url.clone()?, i.alt.clone()))),
            entry,
        }
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    node_name: &'a str,
    nav: Nav,
    max_query_chars: usize,
    form: SearchForm,
    /// Why the search was refused (shown instead of results).
    error: Option<String>,
    /// Some criterion was given (else the page shows the newest entries).
    searched: bool,
    cards: Vec<Card>,
    total: u64,
    page: u64,
    prev_href: Option<String>,
    next_href: Option<String>,
}

/// `/search`: the federated catalog, searched with a plain GET form. A refused parameter shows
/// the form again with the reason (422).
async fn search_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let value = |name: &str| params.get(name).cloned().unwrap_or_default();
    let form = SearchForm {
        q: value("q"),
        tag: value("tag"),
        currency: value("currency"),
        min_price: value("min_price"),
        max_price: value("max_price"),
        shop: value("shop"),
        node: value("node"),
        in_stock: params
            .get("in_stock")
            .is_some_and(|v| matches!(v.trim(), "true" | "1" | "yes" | "on")),
    };
    let mut page = SearchPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        max_query_chars: search::MAX_QUERY_CHARS,
        form,
        error: None,
        searched: SEARCH_PARAMS
            .iter()
            .any(|p| params.get(*p).is_some_and(|v| !v.trim().is_empty())),
        cards: Vec::new(),
        total: 0,
        page: 1,
        prev_href: None,
        next_href: None,
    };
    let found = match SearchQuery::from_params(&params) {
        Ok(query) => search::search(ctx, &query).await,
        Err(e) => Err(e),
    };
    let found = match found {
        Ok(found) => found,
        Err(e) if e.is_internal() => {
            return PageError::new(&state, e).nav(nav).into_response();
        }
        Err(e) => {
            page.error = Some(e.public_message());
            return (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                render(&page),
            )
                .into_response();
        }
    };
    let href = |number: u64| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for name in SEARCH_PARAMS.iter().chain(&["per_page"]) {
            if let Some(v) = params.get(*name).filter(|v| !v.trim().is_empty()) {
                query.append_pair(name, v);
            }
        }
        query.append_pair("page", &number.to_string());
        format!("/search?{}", query.finish())
    };
    page.prev_href = (found.page > 1).then(|| href(found.page - 1));
    page.next_href = found.has_next().then(|| href(found.page + 1));
    page.total = found.total;
    page.page = found.page;
    page.cards = found.items.into_iter().map(Card::of).collect();
    render(&page)
}

#[derive(Template)]
#[template(path = "catalog_entry.html")]
struct CatalogEntryPage<'a> {
    node_name: &'a str,
    nav: Nav,
    e: EntryView,
    /// The Order form, when the entry is in stock.
    order: Option<OrderButton>,
}

/// The Order form of a listing: a GET to `/orders/new` (which asks to log in first).
struct OrderButton {
    /// The catalog entry's id.
    entry: i32,
    /// Most items one may ask for now.
    max: i32,
}

impl OrderButton {
    fn of(entry: i32, stock: i32) -> Option<OrderButton> {
        (stock > 0).then(|| OrderButton {
            entry,
            max: stock.min(market::service::orders::MAX_QUANTITY),
        })
    }
}

/// `/catalog/items/{id}`: one catalog entry, ours or a peer's, with a link to its own page and
/// the Order form.
async fn catalog_entry_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let id = id
        .parse::<i32>()
        .map_err(|_| fail(market::Error::not_found("catalog entry")))?;
    let entry = catalog::get_entry(ctx, id).await.map_err(&fail)?;
    Ok(render(&CatalogEntryPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        order: OrderButton::of(entry.id, if entry.in_stock { entry.stock } else { 0 }),
        e: entry,
    }))
}

async fn home(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let page = PageRequest::parse(Some(1), Some(24)).map_err(&fail)?;
    let recent = listings::list_listings(ctx, ListingFilter::default(), page)
        .await
        .map_err(&fail)?;
    let shops = shops::list_shops(ctx).await.map_err(&fail)?;
    // The newest of the whole catalog, of which those from peers (a node's own listings are
    // above): enough to fill a row even when this node's are the newest.
    let newest = SearchQuery {
        in_stock: true,
        page: PageRequest {
            page: 1,
            per_page: 48,
        },
        ..SearchQuery::default()
    };
    let from_peers = search::search(ctx, &newest)
        .await
        .map_err(&fail)?
        .items
        .into_iter()
        .filter(|e| !e.local)
        .take(12)
        .map(Card::of)
        .collect();
    Ok(render(&HomePage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        domain: &ctx.instance.domain,
        listings: recent.items,
        from_peers,
        shops,
    }))
}

/// The same URL answers ActivityPub clients with JSON-LD (see `federation::negotiate`).
fn wants_activity_json(headers: &HeaderMap) -> bool {
    federation::wants_activity_json(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

/// Pages that also exist as ActivityPub documents say so in `Vary`.
fn vary_accept(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    response
}

async fn shop_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if wants_activity_json(&headers) {
        let data = state.federation.to_request_data();
        return Ok(federation::routes::shop_document(&data, &handle)
            .await
            .into_response());
    }
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let shop = shops::get_shop(ctx, &handle).await.map_err(&fail)?;
    let number = query.get("page").map(|p| p.parse::<u64>().unwrap_or(1));
    let page = PageRequest::parse(number.filter(|n| *n >= 1), Some(24)).map_err(&fail)?;
    let filter = ListingFilter {
        shop_id: Some(shop.id),
        include_withdrawn: false,
        tag: None,
    };
    let found = listings::list_listings(ctx, filter, page)
        .await
        .map_err(&fail)?;
    let followers = market::service::followers::count_followers(ctx, shop.id)
        .await
        .map_err(&fail)?;
    Ok(vary_accept(render(&ShopPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        domain: &ctx.instance.domain,
        avatar_url: shop
            .avatar_file
            .as_deref()
            .map(|f| ctx.instance.media_url(f)),
        has_next: found.has_next(),
        page: found.page,
        listings: found.items,
        followers,
        shop,
    })))
}

async fn listing_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| PageError::new(&state, market::Error::not_found("listing")))?
        .to_string();
    if wants_activity_json(&headers) {
        let data = state.federation.to_request_data();
        return Ok(federation::routes::listing_document(&data, &id)
            .await
            .into_response());
    }
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let listing = listings::get_listing(ctx, &id).await.map_err(&fail)?;
    if listing.status == "withdrawn" {
        return Err(PageError {
            status: StatusCode::GONE,
            node_name: ctx.instance.name.clone(),
            message: "This listing was withdrawn by its shop.".into(),
            nav: nav.clone(),
        });
    }
    // Orders go through the catalog entry (the same path as a peer's listing), found by the
    // listing's Proposal id.
    let entry = catalog::find_by_object(ctx, &format!("{}/proposal", listing.url))
        .await
        .map_err(&fail)?
        .filter(|e| !e.deleted);
    let shipping = market::service::checkout::get(ctx, &listing.shop.handle)
        .await
        .map_err(&fail)?
        .shipping_options
        .into_iter()
        .filter(|o| o.currency == listing.currency)
        .collect();
    Ok(vary_accept(render(&ListingPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        order: entry.and_then(|e| OrderButton::of(e.id, listing.stock)),
        shipping,
        l: listing,
    })))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/style.css"),
    )
}
