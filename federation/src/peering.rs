//! Peer co-op nodes: following another node's instance actor, copying its catalog, and keeping
//! the copy in step.
//!
//! - `tianguis peer add https://other.node` ([`add`]) finds their instance actor (NodeInfo's
//!   `metadata.instanceActor`, else `/actor`) and sends it a `Follow` from ours.
//! - On their `Accept` ([`crate::activities::peer`]) we copy their catalog ([`sync`]): the
//!   collection in their actor's `streams`, page by page, only along `next` links on the same
//!   origin as the collection, at most `federation.catalog_page_limit` pages per run. After each
//!   page its `next` is stored, so an interrupted copy resumes where it stopped; items are keyed by
//!   their Proposal id, so reading a page twice changes nothing.
//! - Afterwards their `Create`/`Update`/`Delete` arrive live, and every
//!   `federation.reconcile_interval_secs` we ask their catalog again from where we stopped (the
//!   page after the last change we saw), so a lost delivery heals by itself.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
    time::Duration,
};

use activitypub_federation::{
    config::{Data, FederationConfig},
    fetch::{fetch_object_http, object_id::ObjectId},
    kinds::activity::{FollowType, UndoType},
    traits::Actor,
};
use market::{
    Context,
    entities::peer,
    service::{
        catalog::{self, CatalogImage, RemoteListing, Stored},
        deliveries::host_of,
        peers,
    },
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use url::Url;

use crate::{
    activities::new_activity_id,
    error::Error,
    objects::{instance_actor::ApubInstance, remote_actor::ApubRemoteActor},
    outbox,
    protocol::activities::{Follow, Undo},
};

/// How long one copier holds a peer (renewed after every page).
const SYNC_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// This process's name in sync leases.
fn worker_id() -> &'static str {
    static ID: LazyLock<String> = LazyLock::new(|| format!("sync-{}", uuid::Uuid::new_v4()));
    &ID
}

/// Wakes the reconciler (a peer accepted our follow: copy its catalog now).
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Our instance actor, for signing what it sends.
async fn instance_actor(data: &Data<Context>) -> Result<ApubInstance, Error> {
    let keys = market::service::instance::instance_keys(data).await?;
    ApubInstance::new(&data.instance, keys)
}

fn parse_url(s: &str) -> Result<Url, Error> {
    Url::parse(s).map_err(|_| Error::BadRequest(format!("{s:?} is not a URL")))
}

/// `scheme://host:port` of a URL, for same-origin checks.
fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A string, or the `id` (or `href`) of an object, or the first of an array.
fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map
            .get("id")
            .or_else(|| map.get("href"))
            .and_then(|v| v.as_str()),
        Value::Array(items) => items.first().and_then(id_of),
        _ => None,
    }
}

/// What `peer add` did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// The peer row.
    pub peer: peer::Model,
    /// Whether a `Follow` was sent (false if we already follow them).
    pub follow_sent: bool,
}

/// Add a peer node and follow its instance actor.
pub async fn add(data: &Data<Context>, address: &str) -> Result<Added, Error> {
    let (domain, base) = peers::parse_address(data, address)?;
    let known = peers::find(data, &domain).await?.is_some();
    let row = peers::add(data, &domain, &base).await?;
    // Already following: nothing to send. A pending request is sent again.
    if row.outgoing == peer::outgoing::ACCEPTED {
        return Ok(Added {
            peer: row,
            follow_sent: false,
        });
    }
    let row = match discover(data, row).await {
        Ok(row) => row,
        Err(e) => {
            // A node we could not even find is not kept as a peer: the admin sees the reason
            // and the list is as it was.
            if !known && let Err(cleanup) = peers::remove(data, &domain).await {
                tracing::warn!(%domain, error = %cleanup, "forgetting an unreachable peer");
            }
            return Err(e);
        }
    };
    let actor_id = row
        .actor_id
        .clone()
        .ok_or_else(|| Error::BadRequest("the peer has no instance actor".into()))?;
    let inbox = row
        .inbox
        .clone()
        .ok_or_else(|| Error::BadRequest("the peer's instance actor has no inbox".into()))?;
    let ours = instance_actor(data).await?;
    let follow = Follow {
        kind: FollowType::Follow,
        id: new_activity_id(data)?,
        actor: ObjectId::from(activitypub_federation::traits::Object::id(&ours).clone()),
        object: parse_url(&actor_id)?,
    };
    peers::follow_sent(data, row.id, follow.id.as_str()).await?;
    outbox::send(data, follow, &ours, vec![parse_url(&inbox)?]).await?;
    Ok(Added {
        peer: peers::get(data, &domain).await?,
        follow_sent: true,
    })
}

/// Find a node's instance actor and catalog: NodeInfo's `metadata.instanceActor`, else
/// `{base}/actor`; the catalog is the first of the actor's `streams` on its own origin, else
/// `{base}/catalog`. Everything must be on the node's own origin.
async fn discover(data: &Data<Context>, row: peer::Model) -> Result<peer::Model, Error> {
    let base = parse_url(&row.base_url)?;
    let actor_url = match nodeinfo_actor(data, &base).await {
        Some(url) if origin_of(&url) == origin_of(&base) => url,
        _ => parse_url(&format!("{}/actor", row.base_url))?,
    };
    let raw = fetch_object_http::<Context, Value>(&actor_url, &data.reset_request_count())
        .await
        .map_err(|e| Error::BadRequest(format!("fetching {actor_url}: {e}")))?
        .object;
    let catalog = raw
        .get("streams")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(id_of)
        .filter_map(|s| Url::parse(s).ok())
        .find(|u| origin_of(u) == origin_of(&base))
        .map(|u| u.to_string())
        .unwrap_or_else(|| format!("{}/catalog", row.base_url));
    let actor: ApubRemoteActor = ObjectId::<ApubRemoteActor>::from(actor_url.clone())
        .dereference(&data.reset_request_count())
        .await?;
    let inbox = actor.shared_inbox_or_inbox();
    Ok(peers::set_actor(
        data,
        row.id,
        actor_url.as_str(),
        inbox.as_str(),
        Some(&catalog),
    )
    .await?)
}

/// The instance actor NodeInfo advertises, if any.
async fn nodeinfo_actor(data: &Data<Context>, base: &Url) -> Option<Url> {
    let client = crate::config::delivery_client(&data.instance.domain);
    let get = |url: String| {
        let client = client.clone();
        async move {
            let response = client
                .get(&url)
                .header("Accept", "application/json")
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .ok()?;
            if !response.status().is_success() {
                return None;
            }
            let bytes = response.bytes().await.ok()?;
            if bytes.len() > 256 * 1024 {
                return None;
            }
            serde_json::from_slice::<Value>(&bytes).ok()
        }
    };
    let links = get(format!(
        "{}/.well-known/nodeinfo",
        base.as_str().trim_end_matches('/')
    ))
    .await?;
    let href = links
        .get("links")?
        .as_array()?
        .iter()
        .filter_map(|l| l.get("href").and_then(|h| h.as_str()))
        .filter_map(|h| Url::parse(h).ok())
        .find(|u| origin_of(u) == origin_of(base))?;
    let info = get(href.to_string()).await?;
    Url::parse(info.get("metadata")?.get("instanceActor")?.as_str()?).ok()
}

/// The domain a peer command names: an address (`https://b.coop`) or a domain as `peer list`
/// shows it (`b.coop`, `localhost:8081`).
fn domain_of(data: &Data<Context>, given: &str) -> String {
    match peers::parse_address(data, given) {
        Ok((domain, _)) => domain,
        Err(_) => given.trim().to_lowercase(),
    }
}

/// What `peer remove` did.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    /// The peer as it was.
    pub peer: peer::Model,
    /// Listings of theirs forgotten.
    pub listings: u64,
}

/// Stop federating with a peer: undo our follow of their instance actor (if any), forget the
/// peer and every listing copied from it. Their follow of ours ends too: our changes no longer go
/// to them (they learn it from our `Undo` only for our follow; theirs simply stops receiving).
pub async fn remove(data: &Data<Context>, address: &str) -> Result<Removed, Error> {
    let domain = domain_of(data, address);
    let row = peers::get(data, &domain).await?;
    if let (Some(follow_id), Some(actor_id), Some(inbox)) =
        (&row.follow_activity_id, &row.actor_id, &row.inbox)
        && row.outgoing != peer::outgoing::NONE
    {
        let ours = instance_actor(data).await?;
        let our_id = activitypub_federation::traits::Object::id(&ours).clone();
        let follow = serde_json::json!({
            "type": "Follow",
            "id": follow_id,
            "actor": our_id,
            "object": actor_id,
        });
        let undo = Undo {
            kind: UndoType::Undo,
            id: new_activity_id(data)?,
            actor: ObjectId::from(our_id),
            object: follow,
        };
        outbox::send(data, undo, &ours, vec![parse_url(inbox)?]).await?;
    }
    let (peer, listings) = peers::remove(data, &domain).await?;
    Ok(Removed { peer, listings })
}

/// Approve a node (allowlist mode: it may federate with us). A pending follow request of theirs
/// is accepted, and we follow them back: approving is agreeing to federate both ways.
pub async fn approve(data: &Data<Context>, domain: &str) -> Result<Added, Error> {
    let domain = domain_of(data, domain);
    let (row, accept) = peers::approve(data, &domain).await?;
    if accept {
        crate::activities::peer::send_accept(data, &row).await?;
    }
    if row.outgoing == peer::outgoing::NONE || row.outgoing == peer::outgoing::REJECTED {
        return add(data, &row.base_url).await;
    }
    Ok(Added {
        peer: peers::get(data, &domain).await?,
        follow_sent: false,
    })
}

/// How a sync run ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Pages read.
    pub pages: u64,
    /// Listings new to us.
    pub inserted: u64,
    /// Listings that changed.
    pub updated: u64,
    /// Listings withdrawn.
    pub deleted: u64,
    /// Items we already had as they are.
    pub unchanged: u64,
    /// Items we could not read (malformed, off-origin): skipped, with a warning.
    pub skipped: u64,
    /// The run reached the end of their catalog.
    pub reached_end: bool,
    /// Stopped at the page cap; the next run continues.
    pub capped: bool,
    /// Another process holds the peer; nothing done.
    pub busy: bool,
}

/// Copy what changed in a peer's catalog since the last run (all of it, the first time), at most
/// `catalog_page_limit` pages. `progress` is called after every page with the peer row.
pub async fn sync(
    data: &Data<Context>,
    peer_id: i32,
    progress: &mut (dyn FnMut(&peer::Model) + Send),
) -> Result<SyncReport, Error> {
    let worker = worker_id();
    let Some(row) = peers::claim_sync(data, peer_id, worker, SYNC_LEASE).await? else {
        return Ok(SyncReport {
            busy: true,
            ..Default::default()
        });
    };
    let mut report = SyncReport::default();
    let result = sync_claimed(data, row, &mut report, progress).await;
    let error = result.as_ref().err().map(|e| e.to_string());
    if let Some(error) = &error {
        tracing::warn!(peer = peer_id, %error, "catalog sync stopped");
    }
    peers::sync_ended(data, peer_id, worker, error.as_deref(), report.reached_end).await?;
    result.map(|()| report)
}

async fn sync_claimed(
    data: &Data<Context>,
    row: peer::Model,
    report: &mut SyncReport,
    progress: &mut (dyn FnMut(&peer::Model) + Send),
) -> Result<(), Error> {
    if row.outgoing != peer::outgoing::ACCEPTED {
        return Err(Error::BadRequest(format!(
            "{} has not accepted our follow",
            row.domain
        )));
    }
    let catalog_url = parse_url(
        row.catalog_url
            .as_deref()
            .unwrap_or(&format!("{}/catalog", row.base_url)),
    )?;
    let origin = origin_of(&catalog_url);
    let same_origin = |url: &Url| -> Result<(), Error> {
        if origin_of(url) == origin {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{} links to {url}, outside {origin}: not followed",
                row.domain
            )))
        }
    };
    let mut cursor = match &row.cursor {
        Some(cursor) => parse_url(cursor)?,
        None => {
            let root =
                fetch_object_http::<Context, Value>(&catalog_url, &data.reset_request_count())
                    .await?
                    .object;
            let first = root
                .get("first")
                .and_then(id_of)
                .ok_or_else(|| Error::BadRequest(format!("{catalog_url} has no first page")))?;
            let first = parse_url(first)?;
            same_origin(&first)?;
            let total = root.get("totalItems").and_then(|t| t.as_u64());
            peers::start_at(data, row.id, first.as_str(), total).await?;
            first
        }
    };
    let mut shops: HashMap<String, Arc<ApubRemoteActor>> = HashMap::new();
    let limit = data.instance.catalog_page_limit.max(1);
    let worker = worker_id();
    loop {
        if report.pages >= limit {
            report.capped = true;
            return Ok(());
        }
        let page = fetch_object_http::<Context, Value>(&cursor, &data.reset_request_count())
            .await?
            .object;
        let items = page
            .get("orderedItems")
            .or_else(|| page.get("items"))
            .and_then(|i| i.as_array())
            .cloned()
            .unwrap_or_default();
        ingest_page(data, &row.domain, &items, &mut shops, report).await?;
        report.pages += 1;
        let total = page.get("totalItems").and_then(|t| t.as_u64());
        let next = match page.get("next").and_then(id_of) {
            // A page that links to itself ends the run like an empty one.
            Some(next) if !items.is_empty() && next != cursor.as_str() => {
                let next = parse_url(next)?;
                if let Err(e) = same_origin(&next) {
                    // Keep what this page gave; do not go there.
                    peers::page_read(
                        data,
                        row.id,
                        worker,
                        SYNC_LEASE,
                        cursor.as_str(),
                        items.len() as u64,
                        total,
                        false,
                    )
                    .await?;
                    return Err(e);
                }
                Some(next)
            }
            _ => None,
        };
        let finished = next.is_none();
        let stored_cursor = next.clone().unwrap_or_else(|| cursor.clone());
        let held = peers::page_read(
            data,
            row.id,
            worker,
            SYNC_LEASE,
            stored_cursor.as_str(),
            items.len() as u64,
            total,
            finished,
        )
        .await?;
        if !held {
            return Err(Error::BadRequest(
                "another process took over this peer's sync".into(),
            ));
        }
        if let Some(now) = peers::find(data, &row.domain).await? {
            progress(&now);
        }
        match next {
            Some(next) => cursor = next,
            None => {
                report.reached_end = true;
                return Ok(());
            }
        }
    }
}

/// Store a page of a peer's catalog: its Proposals in one transaction (nothing is written for
/// those we already hold as they are), its Tombstones one by one. A malformed item is skipped
/// with a warning; a database error stops the page (it is read again next time).
async fn ingest_page(
    data: &Data<Context>,
    origin: &str,
    items: &[Value],
    shops: &mut HashMap<String, Arc<ApubRemoteActor>>,
    report: &mut SyncReport,
) -> Result<(), Error> {
    let skipped = |report: &mut SyncReport, e: &dyn std::fmt::Display| {
        report.skipped += 1;
        tracing::warn!(peer = %origin, error = %e, "catalog item skipped");
    };
    let mut listings = Vec::with_capacity(items.len());
    for item in items {
        if item.get("type").and_then(|t| t.as_str()) == Some("Proposal") {
            match read_listing(data, origin, item, shops).await {
                Ok(listing) => listings.push(listing),
                Err(e) => skipped(report, &e),
            }
            continue;
        }
        match ingest(data, origin, item, shops).await {
            Ok(Ingested::Deleted(true)) => report.deleted += 1,
            Ok(_) => report.unchanged += 1,
            Err(e) => skipped(report, &e),
        }
    }
    let mut photos = false;
    for (listing, result) in listings
        .iter()
        .zip(catalog::upsert_page(data, &listings).await?)
    {
        match result {
            Ok(Stored::Inserted) => report.inserted += 1,
            Ok(Stored::Updated) => report.updated += 1,
            Ok(Stored::Stale) => report.unchanged += 1,
            Err(e) => skipped(report, &e),
        }
        photos |= !listing.images.is_empty();
    }
    if photos && report.inserted + report.updated > 0 {
        crate::media::wake_thumbnailer();
    }
    Ok(())
}

/// A Proposal item as a listing to store, with its shop (fetched once per shop and run).
async fn read_listing(
    data: &Data<Context>,
    origin: &str,
    item: &Value,
    shops: &mut HashMap<String, Arc<ApubRemoteActor>>,
) -> Result<RemoteListing, Error> {
    let shop_id = item
        .get("attributedTo")
        .and_then(id_of)
        .ok_or_else(|| Error::BadRequest("a Proposal without attributedTo".into()))?;
    if host_of(shop_id).as_deref() != Some(origin) {
        return Err(Error::Forbidden(format!("{shop_id} is not on {origin}")));
    }
    let shop = match shops.get(shop_id) {
        Some(shop) => shop.clone(),
        None => {
            let shop = Arc::new(
                ObjectId::<ApubRemoteActor>::from(parse_url(shop_id)?)
                    .dereference(&data.reset_request_count())
                    .await?,
            );
            shops.insert(shop_id.to_string(), shop.clone());
            shop
        }
    };
    read_proposal(origin, item, &shop)
}

/// What one catalog item did.
pub enum Ingested {
    /// A Proposal stored (or found stale).
    Stored(Stored),
    /// A Tombstone applied (true) or not needed (false).
    Deleted(bool),
}

/// Store one item of a peer's catalog or live activity: a `Proposal`, or a `Tombstone`.
pub async fn ingest(
    data: &Data<Context>,
    origin: &str,
    item: &Value,
    shops: &mut HashMap<String, Arc<ApubRemoteActor>>,
) -> Result<Ingested, Error> {
    match item.get("type").and_then(|t| t.as_str()) {
        Some("Tombstone") => {
            let id = item
                .get("id")
                .and_then(|i| i.as_str())
                .ok_or_else(|| Error::BadRequest("a Tombstone without an id".into()))?;
            if host_of(id).as_deref() != Some(origin) {
                return Err(Error::Forbidden(format!("{id} is not on {origin}")));
            }
            let at = time_of(item, "deleted");
            Ok(Ingested::Deleted(
                catalog::delete_remote(data, origin, id, at).await?,
            ))
        }
        Some("Proposal") => {
            let listing = read_listing(data, origin, item, shops).await?;
            let stored = catalog::upsert_remote(data, &listing).await?;
            if stored != Stored::Stale && !listing.images.is_empty() {
                crate::media::wake_thumbnailer();
            }
            Ok(Ingested::Stored(stored))
        }
        other => Err(Error::BadRequest(format!(
            "a catalog item of type {other:?}"
        ))),
    }
}

/// An RFC 3339 time at `key` of an object (`published`, `updated`, a Tombstone's `deleted`).
pub fn time_of(item: &Value, key: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    item.get(key)
        .and_then(|d| d.as_str())
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// A number given as a decimal string (or, tolerantly, a JSON number).
fn decimal(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Read a peer's FEP-0837 `Proposal` (tolerantly: ids as strings or objects, numbers as strings
/// or numbers).
pub fn read_proposal(
    origin: &str,
    item: &Value,
    shop: &ApubRemoteActor,
) -> Result<RemoteListing, Error> {
    let bad = |why: &str| Error::BadRequest(format!("a Proposal {why}"));
    let id = item
        .get("id")
        .and_then(|i| i.as_str())
        .ok_or_else(|| bad("without an id"))?;
    let url = item.get("url").and_then(id_of).unwrap_or(id);
    let time = |key: &str| time_of(item, key);
    let published = time("published").ok_or_else(|| bad("without published"))?;
    let updated = time("updated").unwrap_or(published);
    let reciprocal = item
        .get("reciprocal")
        .ok_or_else(|| bad("without a reciprocal (price)"))?;
    let currency = reciprocal
        .get("resourceConformsTo")
        .and_then(|c| c.as_str())
        .and_then(|c| c.strip_prefix("urn:iso:std:iso:4217:"))
        .ok_or_else(|| bad("whose price is not in an ISO 4217 currency"))?;
    let price = decimal(
        reciprocal
            .get("resourceQuantity")
            .and_then(|q| q.get("hasNumericalValue")),
    )
    .ok_or_else(|| bad("without a price"))?;
    // No availableQuantity: nothing to order (we never guess stock).
    let stock = decimal(
        item.get("publishes")
            .and_then(|p| p.get("availableQuantity"))
            .and_then(|q| q.get("hasNumericalValue")),
    )
    .map(|s| {
        s.parse::<i64>()
            .map_err(|_| bad("whose stock is not a whole number"))
    })
    .transpose()?
    .unwrap_or(0);
    let tags = item
        .get("tag")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .filter(|t| t.get("type").and_then(|k| k.as_str()) == Some("Hashtag"))
        .filter_map(|t| t.get("name").and_then(|n| n.as_str()))
        .map(|n| n.trim_start_matches('#').to_string())
        .collect();
    let images = item
        .get("attachment")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter(|a| {
            matches!(
                a.get("type").and_then(|k| k.as_str()),
                Some("Image" | "Document")
            )
        })
        .filter_map(|a| {
            let url = a.get("url").and_then(id_of)?;
            let media_type = a
                .get("mediaType")
                .and_then(|m| m.as_str())
                .unwrap_or("image/jpeg");
            if !media_type.starts_with("image/") {
                return None;
            }
            Some(CatalogImage {
                url: url.to_string(),
                media_type: media_type.to_string(),
                alt: a
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or_default()
                    .to_string(),
                width: a.get("width").and_then(|w| w.as_i64()).unwrap_or(0) as i32,
                height: a.get("height").and_then(|h| h.as_i64()).unwrap_or(0) as i32,
                thumbnail: None,
                local_thumbnail: None,
                thumbnail_attempts: 0,
            })
        })
        .take(4)
        .collect();
    Ok(RemoteListing {
        object_id: id.to_string(),
        url: url.to_string(),
        origin: origin.to_string(),
        shop_id: shop.row.ap_id.clone(),
        shop_name: shop.row.name.clone(),
        shop_handle: shop
            .row
            .preferred_username
            .clone()
            .unwrap_or_else(|| shop.row.ap_id.clone()),
        title: item
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_string(),
        description_html: item
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_string(),
        tags,
        price,
        currency: currency.to_string(),
        stock,
        images,
        published,
        updated,
    })
}

/// Sync every peer whose catalog we copy and whose last run is older than `interval` (or that
/// never finished its first copy). Returns how many peers were synced.
pub async fn reconcile(data: &Data<Context>, interval: Duration) -> Result<usize, Error> {
    let now = chrono::Utc::now();
    let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::hours(1));
    let mut done = 0;
    for row in peers::followed_all(data).await? {
        let due = !row.backfilled || row.synced_at.is_none_or(|at| at + interval <= now);
        if !due {
            continue;
        }
        match sync(data, row.id, &mut |_| {}).await {
            Ok(report) if !report.busy => done += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(peer = %row.domain, error = %e, "reconciliation failed"),
        }
    }
    Ok(done)
}

/// Start copying a peer's catalog now, in the background (on their `Accept`).
pub fn start_sync(data: &Data<Context>, peer_id: i32) {
    let data = data.reset_request_count();
    tokio::spawn(async move {
        if let Err(e) = sync(&data, peer_id, &mut |_| {}).await {
            tracing::warn!(peer = peer_id, error = %e, "catalog copy failed; reconciliation retries");
        }
    });
    WAKE.notify_one();
}

/// Reconcile every `interval` (checked at least every 30 s, and at once when woken) until `stop`;
/// every tick close the proposals whose voting window has passed; every 5 minutes also cancel
/// our shops' orders left unpaid past `[orders] payment_days` or unanswered past
/// `[orders] answer_days`.
pub fn spawn_reconciler(
    config: FederationConfig<Context>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let tick = interval.min(Duration::from_secs(30));
        let mut swept: Option<tokio::time::Instant> = None;
        loop {
            let data = config.to_request_data();
            if let Err(e) = reconcile(&data, interval).await {
                tracing::warn!(error = %e, "reconciliation pass failed");
            }
            // Proposals whose window has passed close within a tick, results announced.
            if let Err(e) = crate::governance::close_due(&data).await {
                tracing::warn!(error = %e, "closing due proposals failed");
            }
            // Unpaid orders are looked at every few minutes: a deadline is counted in days.
            if swept.is_none_or(|t| t.elapsed() >= Duration::from_secs(300)) {
                swept = Some(tokio::time::Instant::now());
                if let Err(e) = crate::orders::expire_unpaid(&data, chrono::Utc::now()).await {
                    tracing::warn!(error = %e, "cancelling unpaid orders failed");
                }
                if let Err(e) = crate::orders::expire_unanswered(&data, chrono::Utc::now()).await {
                    tracing::warn!(error = %e, "declining unanswered orders failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = WAKE.notified() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}
