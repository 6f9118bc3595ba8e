//! What the node serves to the fediverse: WebFinger, host-meta, NodeInfo, actors, collections,
//! listing objects and the inboxes.

use activitypub_federation::{
    config::Data, fetch::webfinger::build_webfinger_response, traits::Object,
};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, Query},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use market::{
    Context,
    service::{PageRequest, followers, listings, listings::ListingFilter, shops},
};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::{
    error::Error,
    inbox::{self, MAX_ACTIVITY_BYTES},
    negotiate::ACTIVITY_JSON,
    objects::{instance_actor::ApubInstance, listing, shop::ApubShop},
    protocol::{
        self,
        collection::{OrderedCollection, OrderedCollectionPage},
    },
};

/// Items per page of a collection.
const PAGE_SIZE: u64 = 20;

/// The federation routes. They need `FederationMiddleware` on the router that mounts them.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/host-meta", get(host_meta))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.1", get(nodeinfo))
        .route("/actor", get(instance_actor))
        .route("/actor/inbox", post(inbox::receive))
        .route("/catalog", get(catalog))
        .route("/coop", get(coop_actor))
        .route("/coop/inbox", post(inbox::receive))
        .route("/coop/outbox", get(coop_outbox))
        .route("/coop/followers", get(coop_followers))
        .route("/inbox", post(inbox::receive))
        .route("/shops/{handle}/inbox", post(inbox::receive))
        .route("/shops/{handle}/outbox", get(outbox))
        .route("/shops/{handle}/following", get(following_collection))
        .route("/listings/{id}/proposal", get(proposal))
        .route("/listings/{id}/proposal/quote", get(quote))
        .route("/users/{username}", get(person))
        .route("/users/{username}/inbox", post(inbox::receive))
        .route("/users/{username}/outbox", get(person_outbox))
        .layer(DefaultBodyLimit::max(MAX_ACTIVITY_BYTES))
}

/// A JSON-LD document with our `@context`, served as `application/activity+json`.
pub fn activity_json(body: impl serde::Serialize, status: StatusCode) -> Response {
    let mut value = serde_json::to_value(body).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("@context".into(), protocol::context());
    }
    let mut response = (status, Json(value)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ACTIVITY_JSON),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// The shop actor document (for `/shops/{handle}` when an ActivityPub client asks).
pub async fn shop_document(data: &Data<Context>, handle: &str) -> Result<Response, Error> {
    let shop = shops::get_shop(data, handle).await?;
    let actor = ApubShop::new(&data.instance, shop)?;
    Ok(activity_json(
        actor.to_json(&data.instance)?,
        StatusCode::OK,
    ))
}

/// A listing's `Note` (or `Tombstone` with 410 once withdrawn), for `/listings/{id}`.
pub async fn listing_document(data: &Data<Context>, id: &str) -> Result<Response, Error> {
    let view = listings::get_listing(data, id).await?;
    if view.status == "withdrawn" {
        return Ok(activity_json(listing::tombstone(&view)?, StatusCode::GONE));
    }
    Ok(activity_json(
        listing::note(&data.instance, &view)?,
        StatusCode::OK,
    ))
}

async fn proposal(data: Data<Context>, Path(id): Path<String>) -> Result<Response, Error> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| Error::Market(market::Error::not_found("listing")))?
        .to_string();
    let view = listings::get_listing(&data, &id).await?;
    if view.status == "withdrawn" {
        return Ok(activity_json(
            listing::proposal_tombstone(&view)?,
            StatusCode::GONE,
        ));
    }
    Ok(activity_json(
        listing::proposal(&data.instance, &view)?,
        StatusCode::OK,
    ))
}

/// `GET {proposal}/quote?quantity=&shipping_option=&country=`: what an order would cost, computed
/// by this node (the seller's): the buyer's node shows it before the buyer confirms. Public, as
/// the listing is; plain JSON (see FEDERATION.md, "Orders").
async fn quote(
    data: Data<Context>,
    Path(id): Path<String>,
    Query(request): Query<market::service::orders::QuoteRequest>,
) -> Result<Response, Error> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| Error::Market(market::Error::not_found("listing")))?
        .to_string();
    match market::service::orders::quote(&data, &id, &request).await {
        Ok(quote) => Ok((StatusCode::OK, Json(quote)).into_response()),
        // Answered like the API: `{error, message, field}`, so the buyer's node can pass the
        // seller's refusal on, field and all.
        Err(market::Error::Invalid { field, reason }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "invalid", "field": field, "message": reason})),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// An order's Agreement (`/orders/{id}` asked for as ActivityPub), for a request signed by the
/// buyer or the shop; 404 for everyone else, unsigned requests included, so a stranger cannot
/// even learn that the order exists.
pub async fn agreement_document(
    data: &Data<Context>,
    id: &str,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> Response {
    let not_found = || Error::Market(market::Error::not_found("order")).into_response();
    let Ok(id) = uuid::Uuid::parse_str(id) else {
        return not_found();
    };
    let Ok(Some(order)) = market::service::orders::find_by_agreement(
        data,
        &data.instance.url(&format!("/orders/{id}")),
    )
    .await
    else {
        return not_found();
    };
    let signer = match crate::signed_fetch::signer(data, method, uri, headers).await {
        Ok(signer) => signer,
        Err(e) => {
            tracing::debug!(error = %e, "unsigned or badly signed fetch of an order");
            return not_found();
        }
    };
    if signer != order.buyer_actor && signer != order.shop_actor {
        return not_found();
    }
    match crate::orders::agreement_json(&order) {
        Ok(document) => activity_json(document, StatusCode::OK),
        Err(e) => Error::Market(e).into_response(),
    }
}

/// A user's actor (`Person`), for the shops its orders go to.
async fn person(data: Data<Context>, Path(username): Path<String>) -> Result<Response, Error> {
    let document = crate::orders::person(&data, &username).await?;
    Ok(activity_json(document, StatusCode::OK))
}

/// A user's outbox: always empty (orders and messages are addressed to one party, never public).
async fn person_outbox(
    data: Data<Context>,
    Path(username): Path<String>,
) -> Result<Response, Error> {
    market::service::accounts::find_user(&data, &username)
        .await?
        .filter(|u| u.username == username)
        .ok_or_else(|| market::Error::not_found("user"))?;
    Ok(activity_json(
        json!({
            "type": "OrderedCollection",
            "id": data.instance.url(&format!("/users/{username}/outbox")),
            "totalItems": 0,
            "orderedItems": [],
        }),
        StatusCode::OK,
    ))
}

/// The co-op actor (`Organization`) for ActivityPub clients; browsers go to its proposals.
async fn coop_actor(
    data: Data<Context>,
    headers: axum::http::HeaderMap,
) -> Result<Response, Error> {
    let accept = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok());
    if !crate::negotiate::wants_activity_json(accept) {
        return Ok(axum::response::Redirect::to("/coop/proposals").into_response());
    }
    let document = crate::governance::actor_document(&data).await?;
    Ok(activity_json(document, StatusCode::OK))
}

async fn coop_outbox(data: Data<Context>) -> Result<Response, Error> {
    let document = crate::governance::outbox_document(&data).await?;
    Ok(activity_json(document, StatusCode::OK))
}

async fn coop_followers(data: Data<Context>) -> Result<Response, Error> {
    let document = crate::governance::followers_document(&data).await?;
    Ok(activity_json(document, StatusCode::OK))
}

async fn instance_actor(data: Data<Context>) -> Result<Response, Error> {
    let keys = market::service::instance::instance_keys(&data).await?;
    let actor = ApubInstance::new(&data.instance, keys)?;
    Ok(activity_json(actor.into_json(&data).await?, StatusCode::OK))
}

#[derive(Deserialize)]
struct WebfingerQuery {
    resource: Option<String>,
}

/// `acct:handle@domain` (as Mastodon sends it, unencoded, or percent-encoded) or a shop's URL.
async fn webfinger(
    data: Data<Context>,
    Query(query): Query<WebfingerQuery>,
) -> Result<Response, Error> {
    let not_found = || Error::Market(market::Error::not_found("account"));
    let resource = query
        .resource
        .ok_or_else(|| Error::BadRequest("give ?resource=acct:name@domain".into()))?;
    let domain = &data.instance.domain;
    let host = domain.split(':').next().unwrap_or_default();
    let name = if let Some(acct) = resource.strip_prefix("acct:") {
        let (name, at) = acct.rsplit_once('@').ok_or_else(not_found)?;
        if !at.eq_ignore_ascii_case(domain) {
            return Err(not_found());
        }
        name.to_ascii_lowercase()
    } else if let Some(handle) = resource.strip_prefix(&data.instance.url("/shops/")) {
        handle.to_string()
    } else if resource == data.instance.url("/actor") {
        host.to_string()
    } else if resource == crate::governance::coop_id(&data) {
        crate::governance::COOP_NAME.to_string()
    } else {
        return Err(not_found());
    };
    let (subject, href) = if name == host {
        (format!("acct:{host}@{domain}"), data.instance.url("/actor"))
    } else if name == crate::governance::COOP_NAME {
        (
            format!("acct:{name}@{domain}"),
            crate::governance::coop_id(&data),
        )
    } else {
        let shop = shops::find_shop(&data, &name)
            .await?
            .ok_or_else(not_found)?;
        (format!("acct:{}@{domain}", shop.handle), shop.ap_id)
    };
    let href = Url::parse(&href).map_err(|e| Error::Internal(e.to_string()))?;
    let mut response = Json(build_webfinger_response(subject, href)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jrd+json"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

/// The `lrdd` template Mastodon falls back to when WebFinger answers 404.
async fn host_meta(data: Data<Context>) -> Response {
    let template = data.instance.url("/.well-known/webfinger?resource={uri}");
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" template="{}"/>
</XRD>
"#,
        html_escape::encode_double_quoted_attribute(&template)
    );
    (
        [(header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8")],
        xml,
    )
        .into_response()
}

async fn nodeinfo_links(data: Data<Context>) -> Response {
    Json(json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": data.instance.url("/nodeinfo/2.1"),
        }]
    }))
    .into_response()
}

async fn nodeinfo(data: Data<Context>) -> Result<Response, Error> {
    let shops = shops::count_shops(&data).await?;
    let listings = listings::count_visible(&data).await?;
    let body = json!({
        "version": "2.1",
        "software": {
            "name": "tianguis",
            "version": env!("CARGO_PKG_VERSION"),
            "repository": env!("CARGO_PKG_REPOSITORY"),
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": false,
        "usage": {
            "users": {"total": shops},
            "localPosts": listings,
        },
        "metadata": {
            "nodeName": data.instance.name,
            "shops": shops,
            "listings": listings,
            "instanceActor": data.instance.url("/actor"),
        },
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            r#"application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#""#,
        ),
    );
    Ok(response)
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

/// Links of page `page` of a collection at `base`: (this, next, prev, first, last).
type PageLinks = (Url, Option<Url>, Option<Url>, Url, Url);

fn page_urls(base: &str, page: u64, total: u64) -> Result<PageLinks, Error> {
    let last_page = total.div_ceil(PAGE_SIZE).max(1);
    let at = |n: u64| {
        Url::parse(&format!("{base}?page={n}")).map_err(|e| Error::Internal(e.to_string()))
    };
    let next = if page < last_page {
        Some(at(page + 1)?)
    } else {
        None
    };
    let prev = if page > 1 { Some(at(page - 1)?) } else { None };
    Ok((at(page)?, next, prev, at(1)?, at(last_page)?))
}

/// A shop's outbox: a `Create` per listing on show, newest first, paged.
async fn outbox(
    data: Data<Context>,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Error> {
    let shop = shops::get_shop(&data, &handle).await?;
    let base = format!("{}/outbox", shop.ap_id);
    let id = Url::parse(&base).map_err(|e| Error::Internal(e.to_string()))?;
    let filter = ListingFilter {
        shop_id: Some(shop.id),
        include_withdrawn: false,
        tag: None,
    };
    let Some(page) = q.page else {
        let total = listings::list_listings(&data, filter, PageRequest::parse(Some(1), Some(1))?)
            .await?
            .total;
        let (_, _, _, first, last) = page_urls(&base, 1, total)?;
        return Ok(activity_json(
            OrderedCollection {
                kind: "OrderedCollection".into(),
                id,
                total_items: total,
                first: Some(first),
                last: Some(last),
            },
            StatusCode::OK,
        ));
    };
    let found = listings::list_listings(
        &data,
        filter,
        PageRequest::parse(Some(page), Some(PAGE_SIZE))?,
    )
    .await?;
    let mut items = Vec::with_capacity(found.items.len());
    for view in &found.items {
        let note = listing::note(&data.instance, view)?;
        items.push(json!({
            "id": format!("{}/activity", view.url),
            "type": "Create",
            "actor": view.shop.url,
            "published": view.created_at,
            "to": note.to,
            "cc": note.cc,
            "object": note,
        }));
    }
    let (page_id, next, prev, _, _) = page_urls(&base, page, found.total)?;
    Ok(activity_json(
        OrderedCollectionPage {
            kind: "OrderedCollectionPage".into(),
            id: page_id,
            part_of: id,
            total_items: found.total,
            next,
            prev,
            ordered_items: items,
        },
        StatusCode::OK,
    ))
}

/// Items per page of the catalog feed (peers copy whole catalogs through it).
const CATALOG_PAGE_SIZE: u64 = 100;

#[derive(Deserialize)]
struct CatalogQuery {
    after: Option<String>,
}

/// The node's catalog feed, linked from the instance actor's `streams`: every listing ever
/// published, in the order it last changed, oldest change first, each as its FEP-0837
/// `Proposal` (with the listing's tags and photos) or, once withdrawn, as a `Tombstone` of it. Pages are keyed by a cursor
/// (`?after=0` is the start; every page with items has a `next`, the first empty one has
/// none), so a peer can copy the whole catalog, resume an interrupted copy from the last `next`
/// it saw, and later ask that empty page again for only what changed since.
async fn catalog(data: Data<Context>, Query(q): Query<CatalogQuery>) -> Result<Response, Error> {
    let base = data.instance.url("/catalog");
    let id = Url::parse(&base).map_err(|e| Error::Internal(e.to_string()))?;
    let at = |after: &str| {
        Url::parse(&format!("{base}?after={after}")).map_err(|e| Error::Internal(e.to_string()))
    };
    let total = listings::count_all(&data).await?;
    let Some(after) = q.after else {
        return Ok(activity_json(
            OrderedCollection {
                kind: "OrderedCollection".into(),
                id,
                total_items: total,
                first: Some(at("0")?),
                last: None,
            },
            StatusCode::OK,
        ));
    };
    let cursor = match after.as_str() {
        "0" => None,
        text => Some(listings::FeedCursor::decode(text)?),
    };
    let views = listings::changed_after(&data, cursor.as_ref(), CATALOG_PAGE_SIZE).await?;
    let mut items = Vec::with_capacity(views.len());
    for view in &views {
        let item = if view.status == "withdrawn" {
            serde_json::to_value(listing::proposal_tombstone(view)?)
        } else {
            serde_json::to_value(listing::proposal(&data.instance, view)?)
        };
        items.push(item.map_err(|e| Error::Internal(e.to_string()))?);
    }
    // Every page with items links the page after it; the first empty page has no `next`. A
    // peer keeps that page's address and asks it again later for what changed since.
    let next = match views.last() {
        Some(last) => Some(at(&listings::FeedCursor::after(last).encode())?),
        None => None,
    };
    Ok(activity_json(
        OrderedCollectionPage {
            kind: "OrderedCollectionPage".into(),
            id: at(&after)?,
            part_of: id,
            total_items: total,
            next,
            prev: None,
            ordered_items: items,
        },
        StatusCode::OK,
    ))
}

/// A shop's followers: the count, and pages of follower ids (for `/shops/{handle}/followers`
/// when an ActivityPub client asks; browsers get the HTML list).
pub async fn followers_document(
    data: &Data<Context>,
    handle: &str,
    page: Option<u64>,
) -> Result<Response, Error> {
    let q = PageQuery { page };
    let shop = shops::get_shop(data, handle).await?;
    let base = format!("{}/followers", shop.ap_id);
    let id = Url::parse(&base).map_err(|e| Error::Internal(e.to_string()))?;
    let total = followers::count_followers(data, shop.id).await?;
    let Some(page) = q.page else {
        let (_, _, _, first, _) = page_urls(&base, 1, total)?;
        return Ok(activity_json(
            OrderedCollection {
                kind: "OrderedCollection".into(),
                id,
                total_items: total,
                first: Some(first),
                last: None,
            },
            StatusCode::OK,
        ));
    };
    let found = followers::list_followers(
        data,
        shop.id,
        PageRequest::parse(Some(page), Some(PAGE_SIZE))?,
    )
    .await?;
    let items = found
        .items
        .into_iter()
        .filter(|f| f.state == "accepted")
        .map(|f| serde_json::Value::String(f.actor))
        .collect();
    let (page_id, next, prev, _, _) = page_urls(&base, page, found.total)?;
    Ok(activity_json(
        OrderedCollectionPage {
            kind: "OrderedCollectionPage".into(),
            id: page_id,
            part_of: id,
            total_items: total,
            next,
            prev,
            ordered_items: items,
        },
        StatusCode::OK,
    ))
}

/// Shops follow no one.
async fn following_collection(
    data: Data<Context>,
    Path(handle): Path<String>,
) -> Result<Response, Error> {
    let shop = shops::get_shop(&data, &handle).await?;
    let id = Url::parse(&format!("{}/following", shop.ap_id))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(activity_json(
        OrderedCollection {
            kind: "OrderedCollection".into(),
            id,
            total_items: 0,
            first: None,
            last: None,
        },
        StatusCode::OK,
    ))
}
