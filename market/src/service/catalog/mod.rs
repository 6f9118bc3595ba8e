//! The federated catalog: every listing this node knows, its own (kept in step with `listings`
//! in the same transaction as each change) and its peers' (copied from their catalog feeds and
//! live activities). Search and the catalog pages read only this table.
//!
//! A remote entry changes only when what arrives is newer (`updated`) than what is stored, so
//! activities and catalog pages may arrive in any order; a withdrawn listing stays as a
//! tombstone (`deleted`), so a late `Update` cannot bring it back.

pub mod search;

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::{
    Context, Error, Result, db,
    entities::{catalog_entry, catalog_entry_tag, listing, listing_image, listing_tag, shop},
    markdown,
    service::domains,
    types::{Currency, Money},
};

/// An image of a catalog entry, as stored (JSON) and shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogImage {
    /// The full image, where its node serves it.
    pub url: String,
    pub media_type: String,
    /// Alt text.
    pub alt: String,
    pub width: i32,
    pub height: i32,
    /// Our copy of a small version: a file name under the media dir (`None` until fetched, or
    /// for our own listings, whose thumbnails are in `local_thumbnail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// Our own listing's thumbnail URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_thumbnail: Option<String>,
    /// Failed attempts to make our thumbnail (given up after a few).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub thumbnail_attempts: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// A listing as a peer published it, read from its Proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteListing {
    /// The Proposal's id.
    pub object_id: String,
    /// The listing's page.
    pub url: String,
    /// The node (`host` or `host:port`); every URL above is on it.
    pub origin: String,
    pub shop_id: String,
    pub shop_name: String,
    pub shop_handle: String,
    pub title: String,
    /// As received: sanitised here before it is stored.
    pub description_html: String,
    pub tags: Vec<String>,
    /// Decimal string.
    pub price: String,
    pub currency: String,
    pub stock: i64,
    pub images: Vec<CatalogImage>,
    pub published: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
}

/// What storing a remote listing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// New.
    Inserted,
    /// Replaced an older version.
    Updated,
    /// What we have is as new or newer (or withdrawn since): nothing changed.
    Stale,
}

/// A catalog entry as the API and pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub id: i32,
    /// The Proposal's id.
    pub object_id: String,
    /// The listing's page on its node.
    pub url: String,
    /// Our listing id, for our own listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_id: Option<String>,
    /// The node it comes from.
    pub node: String,
    /// From this node.
    pub local: bool,
    pub shop: EntryShop,
    pub title: String,
    pub description_html: String,
    pub tags: Vec<String>,
    pub price: String,
    pub currency: String,
    pub stock: i32,
    pub in_stock: bool,
    pub images: Vec<EntryImage>,
    pub published: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
}

/// The shop of an entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryShop {
    /// The shop actor's id (its page).
    pub id: String,
    pub name: String,
    /// `handle@node`.
    pub handle: String,
}

/// An image of an entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryImage {
    /// The full image on its node.
    pub url: String,
    /// A thumbnail we serve (our copy), if we have one.
    pub thumbnail_url: Option<String>,
    pub alt: String,
    pub media_type: String,
    pub width: i32,
    pub height: i32,
}

impl EntryView {
    /// Build from a row.
    pub fn from_row(ctx: &Context, row: catalog_entry::Model) -> EntryView {
        let tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
        let images: Vec<CatalogImage> = serde_json::from_str(&row.images).unwrap_or_default();
        let local = row.origin == ctx.instance.domain;
        EntryView {
            id: row.id,
            object_id: row.object_id,
            url: row.url,
            listing_id: row.listing_id,
            local,
            shop: EntryShop {
                id: row.shop_id,
                name: row.shop_name,
                handle: format!("{}@{}", row.shop_handle, row.origin),
            },
            node: row.origin,
            title: row.title,
            description_html: row.description_html,
            tags,
            price: row.price,
            currency: row.currency,
            stock: row.stock,
            in_stock: row.stock > 0 && !row.deleted,
            images: images
                .into_iter()
                .map(|i| EntryImage {
                    thumbnail_url: i
                        .local_thumbnail
                        .clone()
                        .or_else(|| i.thumbnail.as_ref().map(|t| ctx.instance.media_url(t))),
                    url: i.url,
                    alt: i.alt,
                    media_type: i.media_type,
                    width: i.width,
                    height: i.height,
                })
                .collect(),
            published: row.published,
            updated: row.updated,
        }
    }
}

/// One entry, by its id (withdrawn ones are 404).
pub async fn get_entry(ctx: &Context, id: i32) -> Result<EntryView> {
    let row = catalog_entry::Entity::find_by_id(id)
        .filter(catalog_entry::Column::Deleted.eq(false))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("catalog entry"))?;
    Ok(EntryView::from_row(ctx, row))
}

/// The stored entry for a Proposal id or listing page URL, withdrawn ones too.
pub async fn find_by_object(ctx: &Context, id: &str) -> Result<Option<catalog_entry::Model>> {
    Ok(catalog_entry::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(catalog_entry::Column::ObjectId.eq(id))
                .add(catalog_entry::Column::Url.eq(id)),
        )
        .one(&ctx.db)
        .await?)
}

/// Check what a peer sent before storing it: a price that parses exactly in its currency, a
/// stock that fits, a title, and every URL on the origin.
fn check_remote(item: &RemoteListing) -> Result<Money> {
    let currency = Currency::parse(&item.currency)?;
    let price = Money::parse(&item.price, currency)?;
    if item.stock < 0 || item.stock > i64::from(i32::MAX) {
        return Err(Error::invalid("stock", "must be between 0 and 2147483647"));
    }
    if item.title.trim().is_empty() || item.title.chars().count() > 300 {
        return Err(Error::invalid("name", "a title of 1 to 300 characters"));
    }
    for url in [&item.object_id, &item.url, &item.shop_id] {
        if crate::service::deliveries::host_of(url).as_deref() != Some(item.origin.as_str()) {
            return Err(Error::invalid(
                "id",
                format!("{url} is not on {}", item.origin),
            ));
        }
    }
    Ok(price)
}

/// Store a peer's listing, unless what we have is as new or newer.
pub async fn upsert_remote(ctx: &Context, item: &RemoteListing) -> Result<Stored> {
    upsert_page(ctx, std::slice::from_ref(item))
        .await?
        .pop()
        .unwrap_or(Ok(Stored::Stale))
}

/// Store a page of a peer's listings: one read finds which are new or newer than what we hold,
/// and those are written in one transaction (an unchanged page writes nothing). Returns each
/// item's outcome, in order: a refused item (a bad price, another node's listing) does not stop
/// the others; a database error stops the page, and nothing of it is written.
pub async fn upsert_page(ctx: &Context, items: &[RemoteListing]) -> Result<Vec<Result<Stored>>> {
    let mut results: Vec<Result<Stored>> = Vec::with_capacity(items.len());
    let mut prices = Vec::with_capacity(items.len());
    for item in items {
        match check_remote(item) {
            Ok(price) => {
                prices.push(Some(price));
                results.push(Ok(Stored::Stale));
            }
            Err(e) => {
                prices.push(None);
                results.push(Err(e));
            }
        }
    }
    let ids: Vec<&str> = items.iter().map(|i| i.object_id.as_str()).collect();
    let held: HashMap<String, (String, bool, chrono::DateTime<chrono::Utc>, bool)> =
        catalog_entry::Entity::find()
            .select_only()
            .column(catalog_entry::Column::ObjectId)
            .column(catalog_entry::Column::Origin)
            .column(catalog_entry::Column::ListingId)
            .column(catalog_entry::Column::Updated)
            .column(catalog_entry::Column::Deleted)
            .filter(catalog_entry::Column::ObjectId.is_in(ids))
            .into_tuple::<(
                String,
                String,
                Option<String>,
                chrono::DateTime<chrono::Utc>,
                bool,
            )>()
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|(id, origin, listing, updated, deleted)| {
                (id, (origin, listing.is_some(), updated, deleted))
            })
            .collect();
    let mut to_write = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(price) = prices[i] else { continue };
        match held.get(&item.object_id) {
            Some((origin, local, _, _)) if *origin != item.origin || *local => {
                results[i] = Err(Error::Forbidden(format!(
                    "{} belongs to {origin}",
                    item.object_id
                )));
            }
            Some((_, _, updated, deleted)) if *deleted || *updated >= item.updated => {}
            _ => to_write.push((i, price)),
        }
    }
    if to_write.is_empty() {
        return Ok(results);
    }
    let txn = db::begin_write(&ctx.db).await?;
    let mut dropped = Vec::new();
    for (i, price) in to_write {
        match upsert_in(&txn, &items[i], price).await {
            Ok((stored, old)) => {
                results[i] = Ok(stored);
                dropped.extend(old);
            }
            Err(Error::Forbidden(why)) => results[i] = Err(Error::Forbidden(why)),
            Err(e) => return Err(e),
        }
    }
    txn.commit().await?;
    // Thumbnails of images the peer dropped are not needed any more.
    for (old, kept) in dropped {
        remove_thumbnails(ctx, &old, &kept).await;
    }
    Ok(results)
}

/// Store one checked item inside `txn`, reading what we hold again under the write lock. Returns
/// the outcome and, for an update, the old images and the new (to delete unused thumbnails
/// after commit). `Forbidden` (another node's listing) writes nothing.
async fn upsert_in(
    txn: &impl ConnectionTrait,
    item: &RemoteListing,
    price: Money,
) -> Result<(Stored, Option<(String, Vec<CatalogImage>)>)> {
    let existing = catalog_entry::Entity::find()
        .filter(catalog_entry::Column::ObjectId.eq(&item.object_id))
        .one(txn)
        .await?;
    if let Some(existing) = &existing {
        if existing.origin != item.origin || existing.listing_id.is_some() {
            return Err(Error::Forbidden(format!(
                "{} belongs to {}",
                item.object_id, existing.origin
            )));
        }
        if existing.deleted || existing.updated >= item.updated {
            return Ok((Stored::Stale, None));
        }
    }
    let now = chrono::Utc::now();
    let tags: Vec<String> = item
        .tags
        .iter()
        .map(|t| t.trim_start_matches('#').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let description_html = markdown::sanitize(&item.description_html);
    let mut row = catalog_entry::ActiveModel {
        object_id: Set(item.object_id.clone()),
        url: Set(item.url.clone()),
        listing_id: Set(None),
        origin: Set(item.origin.clone()),
        shop_id: Set(item.shop_id.clone()),
        shop_name: Set(item.shop_name.clone()),
        shop_handle: Set(item.shop_handle.clone()),
        title: Set(item.title.clone()),
        description_text: Set(markdown::to_text(&description_html)),
        description_html: Set(description_html),
        tags: Set(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into())),
        tags_text: Set(tags.join(" ")),
        price: Set(price.amount_string()),
        price_minor: Set(price.minor()),
        currency: Set(price.currency().code().to_string()),
        stock: Set(item.stock as i32),
        images: Set(serde_json::to_string(&item.images).unwrap_or_else(|_| "[]".into())),
        thumbs_pending: Set(item.images.iter().any(|i| i.thumbnail.is_none())),
        published: Set(item.published),
        updated: Set(item.updated),
        deleted: Set(false),
        received_at: Set(now),
        ..Default::default()
    };
    let mut dropped = None;
    let (id, stored) = match existing {
        Some(existing) => {
            // Keep the thumbnails we already have for images that did not change.
            let old: Vec<CatalogImage> = serde_json::from_str(&existing.images).unwrap_or_default();
            let mut images = item.images.clone();
            for image in &mut images {
                if let Some(same) = old.iter().find(|o| o.url == image.url) {
                    image.thumbnail = same.thumbnail.clone();
                    image.thumbnail_attempts = same.thumbnail_attempts;
                }
            }
            row.images = Set(serde_json::to_string(&images).unwrap_or_else(|_| "[]".into()));
            row.thumbs_pending = Set(images.iter().any(|i| i.thumbnail.is_none()));
            dropped = Some((existing.images.clone(), images));
            row.id = Set(existing.id);
            row.update(txn).await?;
            (existing.id, Stored::Updated)
        }
        None => (row.insert(txn).await?.id, Stored::Inserted),
    };
    replace_tags(txn, id, &tags).await?;
    Ok((stored, dropped))
}

async fn replace_tags(conn: &impl ConnectionTrait, id: i32, tags: &[String]) -> Result<()> {
    catalog_entry_tag::Entity::delete_many()
        .filter(catalog_entry_tag::Column::EntryId.eq(id))
        .exec(conn)
        .await?;
    let mut unique: Vec<&String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !unique.contains(&tag) {
            unique.push(tag);
        }
    }
    if unique.is_empty() {
        return Ok(());
    }
    catalog_entry_tag::Entity::insert_many(unique.into_iter().map(|tag| {
        catalog_entry_tag::ActiveModel {
            entry_id: Set(id),
            tag: Set(tag.clone()),
        }
    }))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A peer withdrew a listing (by its Proposal id or page URL): keep it as a tombstone, unless
/// what we have is newer than the withdrawal. Returns whether anything changed.
pub async fn delete_remote(
    ctx: &Context,
    origin: &str,
    id: &str,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<bool> {
    let Some(existing) = find_by_object(ctx, id).await? else {
        return Ok(false);
    };
    if existing.origin != origin || existing.listing_id.is_some() {
        return Err(Error::Forbidden(format!(
            "{id} is not {origin}'s to delete"
        )));
    }
    if existing.deleted || at.is_some_and(|at| at < existing.updated) {
        return Ok(false);
    }
    let mut row: catalog_entry::ActiveModel = existing.into();
    row.deleted = Set(true);
    row.stock = Set(0);
    if let Some(at) = at {
        row.updated = Set(at);
    }
    row.received_at = Set(chrono::Utc::now());
    row.update(&ctx.db).await?;
    Ok(true)
}

/// Forget every entry from `origin` (a peer removed), and our thumbnails of its images.
/// Returns how many.
pub async fn purge_origin(ctx: &Context, origin: &str) -> Result<u64> {
    let images: Vec<String> = catalog_entry::Entity::find()
        .select_only()
        .column(catalog_entry::Column::Images)
        .filter(catalog_entry::Column::Origin.eq(origin))
        .filter(catalog_entry::Column::ListingId.is_null())
        .into_tuple::<String>()
        .all(&ctx.db)
        .await?;
    let purged = catalog_entry::Entity::delete_many()
        .filter(catalog_entry::Column::Origin.eq(origin))
        .filter(catalog_entry::Column::ListingId.is_null())
        .exec(&ctx.db)
        .await?
        .rows_affected;
    for json in images {
        remove_thumbnails(ctx, &json, &[]).await;
    }
    Ok(purged)
}

/// Delete our thumbnails of the images in `json` (an entry's images) that are not in `keep`.
async fn remove_thumbnails(ctx: &Context, json: &str, keep: &[CatalogImage]) {
    let old: Vec<CatalogImage> = serde_json::from_str(json).unwrap_or_default();
    for image in old {
        if let Some(thumb) = image.thumbnail
            && !keep
                .iter()
                .any(|k| k.thumbnail.as_deref() == Some(thumb.as_str()))
        {
            crate::service::images::remove_remote_thumbnail(&ctx.instance.media_dir, &thumb).await;
        }
    }
}

/// Forget every remote entry whose node a blocklist entry covers. Returns how many.
pub async fn purge_blocked(ctx: &Context, entry: &str) -> Result<u64> {
    let origins: Vec<String> = catalog_entry::Entity::find()
        .select_only()
        .column(catalog_entry::Column::Origin)
        .distinct()
        .filter(catalog_entry::Column::ListingId.is_null())
        .into_tuple::<String>()
        .all(&ctx.db)
        .await?;
    let mut purged = 0;
    for origin in origins.iter().filter(|o| domains::blocks(entry, o)) {
        purged += purge_origin(ctx, origin).await?;
    }
    Ok(purged)
}

/// Count live entries from each node.
pub async fn count_by_origin(ctx: &Context) -> Result<HashMap<String, u64>> {
    let rows: Vec<(String, i64)> = catalog_entry::Entity::find()
        .select_only()
        .column(catalog_entry::Column::Origin)
        .column_as(catalog_entry::Column::Id.count(), "n")
        .filter(catalog_entry::Column::Deleted.eq(false))
        .group_by(catalog_entry::Column::Origin)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(origin, n)| (origin, n.max(0) as u64))
        .collect())
}

/// Bring our own listing's entry in step with its row, inside the transaction that changed it.
pub async fn index_local(
    conn: &impl ConnectionTrait,
    ctx: &Context,
    listing_id: &str,
) -> Result<()> {
    let row = listing::Entity::find_by_id(listing_id.to_string())
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("listing"))?;
    let shop = shop::Entity::find_by_id(row.shop_id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?;
    let tags: Vec<String> = listing_tag::Entity::find()
        .filter(listing_tag::Column::ListingId.eq(listing_id))
        .order_by_asc(listing_tag::Column::Position)
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect();
    let images: Vec<CatalogImage> = listing_image::Entity::find()
        .filter(listing_image::Column::ListingId.eq(listing_id))
        .order_by_asc(listing_image::Column::Position)
        .all(conn)
        .await?
        .into_iter()
        .map(|i| CatalogImage {
            url: ctx.instance.media_url(&i.file_name),
            media_type: i.media_type,
            alt: i.alt_text,
            width: i.width,
            height: i.height,
            thumbnail: None,
            local_thumbnail: Some(ctx.instance.media_url(&i.thumb_file_name)),
            thumbnail_attempts: 0,
        })
        .collect();
    let price = Money::from_minor(row.price_minor, &row.currency)?;
    let object_id = format!("{}/proposal", row.ap_id);
    let withdrawn = row.status() == listing::Status::Withdrawn;
    let existing = catalog_entry::Entity::find()
        .filter(catalog_entry::Column::ObjectId.eq(&object_id))
        .one(conn)
        .await?;
    let mut entry = catalog_entry::ActiveModel {
        object_id: Set(object_id),
        url: Set(row.ap_id.clone()),
        listing_id: Set(Some(row.id.clone())),
        origin: Set(ctx.instance.domain.clone()),
        shop_id: Set(shop.ap_id.clone()),
        shop_name: Set(shop.display_name.clone()),
        shop_handle: Set(shop.handle.clone()),
        title: Set(row.title.clone()),
        description_text: Set(markdown::to_text(&row.description_html)),
        description_html: Set(row.description_html.clone()),
        tags: Set(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into())),
        tags_text: Set(tags.join(" ")),
        price: Set(price.amount_string()),
        price_minor: Set(price.minor()),
        currency: Set(price.currency().code().to_string()),
        stock: Set(if withdrawn { 0 } else { row.stock }),
        images: Set(serde_json::to_string(&images).unwrap_or_else(|_| "[]".into())),
        thumbs_pending: Set(false),
        published: Set(row.created_at),
        updated: Set(row.updated_at),
        deleted: Set(withdrawn),
        received_at: Set(row.updated_at),
        ..Default::default()
    };
    let id = match existing {
        Some(existing) => {
            entry.id = Set(existing.id);
            entry.update(conn).await?;
            existing.id
        }
        None => entry.insert(conn).await?.id,
    };
    replace_tags(conn, id, &tags).await
}

/// Index every listing of ours that has no entry yet (listings made before the catalog table
/// existed). Returns how many.
pub async fn index_missing_local(ctx: &Context) -> Result<u64> {
    let indexed: std::collections::HashSet<String> = catalog_entry::Entity::find()
        .select_only()
        .column(catalog_entry::Column::ListingId)
        .filter(catalog_entry::Column::ListingId.is_not_null())
        .into_tuple::<Option<String>>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let ids: Vec<String> = listing::Entity::find()
        .select_only()
        .column(listing::Column::Id)
        .into_tuple::<String>()
        .all(&ctx.db)
        .await?;
    let mut done = 0;
    for id in ids.iter().filter(|id| !indexed.contains(*id)) {
        let txn = ctx.db.begin().await?;
        index_local(&txn, ctx, id).await?;
        txn.commit().await?;
        done += 1;
    }
    Ok(done)
}

/// Update the shop name on our own entries after the shop was renamed.
pub async fn rename_local_shop(
    conn: &impl ConnectionTrait,
    shop_ap_id: &str,
    name: &str,
) -> Result<()> {
    catalog_entry::Entity::update_many()
        .col_expr(
            catalog_entry::Column::ShopName,
            sea_orm::sea_query::Expr::value(name.to_string()),
        )
        .filter(catalog_entry::Column::ShopId.eq(shop_ap_id))
        .exec(conn)
        .await?;
    Ok(())
}
