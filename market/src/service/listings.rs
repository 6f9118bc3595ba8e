//! Listings: create, change, withdraw, read. Each change commits in one transaction with its
//! tags and images; image files written for a change that then fails are removed again.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use serde::Serialize;

use crate::{
    Context, Error, Result, db,
    entities::{
        listing::{self, Status},
        listing_image, listing_tag, shop,
    },
    markdown,
    service::{
        Page, PageRequest,
        images::{self, ImageUpload, MAX_IMAGES_PER_LISTING, StoredImage},
        outbox::{self, EventKind},
        shops::{self, Authority, ensure_can_manage},
    },
    types::{Currency, Description, Money, Stock, Tag, Title},
};

/// A new listing, parsed.
#[derive(Debug, Clone)]
pub struct ListingDraft {
    /// Title.
    pub title: Title,
    /// Markdown description (may be empty).
    pub description: Description,
    /// Price.
    pub price: Money,
    /// Units for sale.
    pub stock: Stock,
    /// Hashtags.
    pub tags: Vec<Tag>,
}

impl ListingDraft {
    /// Parse raw input: every field is checked and the first problem is reported by name.
    pub fn parse(
        title: &str,
        description: Option<&str>,
        price: &str,
        currency: &str,
        stock: i64,
        tags: &[String],
    ) -> Result<Self> {
        Ok(ListingDraft {
            title: Title::parse(title)?,
            description: Description::parse(description.unwrap_or(""))?,
            price: Money::parse(price, Currency::parse(currency)?)?,
            stock: Stock::new(stock)?,
            tags: Tag::parse_list(tags)?,
        })
    }
}

/// Changes to a listing; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ListingChanges {
    /// New title.
    pub title: Option<String>,
    /// New Markdown description.
    pub description: Option<String>,
    /// New price, in the new currency if one is given, else in the current one.
    pub price: Option<String>,
    /// New currency; the price (new or current) must suit it.
    pub currency: Option<String>,
    /// New stock count.
    pub stock: Option<i64>,
    /// New tags, replacing the old ones.
    pub tags: Option<Vec<String>>,
}

/// The shop a listing belongs to, as shown with the listing.
#[derive(Debug, Clone, Serialize)]
pub struct ShopRef {
    /// Handle.
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Page and id URL.
    pub url: String,
}

/// An image as shown with a listing.
#[derive(Debug, Clone, Serialize)]
pub struct ImageView {
    /// Image id.
    pub id: String,
    /// Full-size image URL.
    pub url: String,
    /// Thumbnail URL.
    pub thumbnail_url: String,
    /// Alt text.
    pub alt: String,
    /// MIME type of the full image.
    pub media_type: String,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
}

/// A listing with everything needed to show it.
#[derive(Debug, Clone, Serialize)]
pub struct ListingView {
    /// Listing id (UUID).
    pub id: String,
    /// Its URL: page and (later) ActivityPub id.
    pub url: String,
    /// The shop.
    pub shop: ShopRef,
    /// Title, as typed (escape when rendering).
    pub title: String,
    /// Markdown source.
    pub description: String,
    /// Rendered, sanitised HTML.
    pub description_html: String,
    /// Decimal string with the currency's decimals.
    pub price: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Units for sale.
    pub stock: i32,
    /// `active`, `sold_out` or `withdrawn`.
    pub status: &'static str,
    /// Hashtags without `#`.
    pub tags: Vec<String>,
    /// Up to four images.
    pub images: Vec<ImageView>,
    /// When it was published.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Which listings to list.
#[derive(Debug, Clone, Default)]
pub struct ListingFilter {
    /// Only this shop's.
    pub shop_id: Option<i32>,
    /// Include withdrawn listings (the owner's and operator's view).
    pub include_withdrawn: bool,
    /// Only listings with this tag (lower-case, without `#`).
    pub tag: Option<String>,
}

/// Publish a listing in `shop_handle`, with up to four images, in one transaction.
pub async fn create_listing(
    ctx: &Context,
    who: Authority<'_>,
    shop_handle: &str,
    draft: ListingDraft,
    uploads: Vec<ImageUpload>,
) -> Result<ListingView> {
    let shop = shops::get_shop(ctx, shop_handle).await?;
    ensure_can_manage(who, &shop)?;
    if uploads.len() > MAX_IMAGES_PER_LISTING {
        return Err(Error::invalid(
            "images",
            format!("at most {MAX_IMAGES_PER_LISTING} images"),
        ));
    }
    let stored = store_all(ctx, uploads, 0).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let result: Result<()> = async {
        let txn = db::begin_catalog_write(&ctx.db).await?;
        // Stamped once the write lock is held, so on SQLite the catalog feed's order (by
        // `updated_at`) is the order changes commit in.
        let now = db::now(&txn).await?;
        listing::ActiveModel {
            id: Set(id.clone()),
            shop_id: Set(shop.id),
            ap_id: Set(ctx.instance.listing_url(&id)),
            title: Set(draft.title.into_inner()),
            description_html: Set(markdown::render(draft.description.as_str())),
            description_md: Set(draft.description.into_inner()),
            price_minor: Set(draft.price.minor()),
            currency: Set(draft.price.currency().code().to_string()),
            stock: Set(draft.stock.get()),
            status: Set(Status::for_stock(draft.stock.get()).as_str().to_string()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        insert_tags(&txn, &id, &draft.tags).await?;
        insert_images(&txn, &id, &stored, 0).await?;
        changed(&txn, ctx, EventKind::Create, &id).await?;
        txn.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        discard(ctx, &stored).await;
        return Err(e);
    }
    get_listing(ctx, &id).await
}

/// Change a listing. A withdrawn listing cannot change (409). Stock decides active / sold out.
pub async fn update_listing(
    ctx: &Context,
    who: Authority<'_>,
    id: &str,
    changes: ListingChanges,
) -> Result<ListingView> {
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let current = lock_row(&txn, id).await?;
    let shop = shops::get_shop_by_id(&txn, current.shop_id).await?;
    ensure_can_manage(who, &shop)?;
    if current.status() == Status::Withdrawn {
        return Err(Error::Conflict(
            "this listing was withdrawn and can no longer change".into(),
        ));
    }
    let mut row: listing::ActiveModel = current.clone().into();
    if let Some(title) = &changes.title {
        row.title = Set(Title::parse(title)?.into_inner());
    }
    if let Some(description) = &changes.description {
        let description = Description::parse(description)?;
        row.description_html = Set(markdown::render(description.as_str()));
        row.description_md = Set(description.into_inner());
    }
    if changes.price.is_some() || changes.currency.is_some() {
        let current_price = Money::from_minor(current.price_minor, &current.currency)?;
        let currency = match &changes.currency {
            Some(code) => Currency::parse(code)?,
            None => current_price.currency(),
        };
        let amount = changes
            .price
            .clone()
            .unwrap_or_else(|| current_price.amount_string());
        let price = Money::parse(&amount, currency)?;
        row.price_minor = Set(price.minor());
        row.currency = Set(price.currency().code().to_string());
    }
    if let Some(stock) = changes.stock {
        let stock = Stock::new(stock)?;
        row.stock = Set(stock.get());
        row.status = Set(Status::for_stock(stock.get()).as_str().to_string());
    }
    if let Some(tags) = &changes.tags {
        let tags = Tag::parse_list(tags)?;
        listing_tag::Entity::delete_many()
            .filter(listing_tag::Column::ListingId.eq(id))
            .exec(&txn)
            .await?;
        insert_tags(&txn, id, &tags).await?;
    }
    row.updated_at = Set(db::now(&txn).await?);
    row.update(&txn).await?;
    changed(&txn, ctx, EventKind::Update, id).await?;
    txn.commit().await?;
    get_listing(ctx, id).await
}

/// Withdraw a listing: it leaves the catalog for good. Withdrawing twice is harmless.
pub async fn withdraw_listing(ctx: &Context, who: Authority<'_>, id: &str) -> Result<ListingView> {
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let current = lock_row(&txn, id).await?;
    let shop = shops::get_shop_by_id(&txn, current.shop_id).await?;
    ensure_can_manage(who, &shop)?;
    withdraw_in(&txn, ctx, id).await?;
    txn.commit().await?;
    get_listing(ctx, id).await
}

/// Withdraw listing `id` inside `txn`, a transaction begun with [`db::begin_catalog_write`]
/// (closing a leaving member's shop withdraws its listings in the transaction of the leave).
/// Withdrawing twice is harmless.
pub(crate) async fn withdraw_in(txn: &DatabaseTransaction, ctx: &Context, id: &str) -> Result<()> {
    let current = lock_row(txn, id).await?;
    if current.status() != Status::Withdrawn {
        let mut row: listing::ActiveModel = current.into();
        row.status = Set(Status::Withdrawn.as_str().to_string());
        row.updated_at = Set(db::now(txn).await?);
        row.update(txn).await?;
        changed(txn, ctx, EventKind::Delete, id).await?;
    }
    Ok(())
}

/// Attach an image to a listing (at most four).
pub async fn add_image(
    ctx: &Context,
    who: Authority<'_>,
    id: &str,
    upload: ImageUpload,
) -> Result<ImageView> {
    let current = find_row(&ctx.db, id).await?;
    let shop = shops::get_shop_by_id(&ctx.db, current.shop_id).await?;
    ensure_can_manage(who, &shop)?;
    if current.status() == Status::Withdrawn {
        return Err(Error::Conflict(
            "this listing was withdrawn and can no longer change".into(),
        ));
    }
    let stored = store_all(ctx, vec![upload], 0).await?;
    let result: Result<()> = async {
        let txn = db::begin_catalog_write(&ctx.db).await?;
        // Updating the listing row first locks it (PostgreSQL), so concurrent uploads count
        // one after the other and cannot together pass the limit.
        touch(&txn, id).await?;
        let count = listing_image::Entity::find()
            .filter(listing_image::Column::ListingId.eq(id))
            .count(&txn)
            .await?;
        if count as usize >= MAX_IMAGES_PER_LISTING {
            return Err(Error::Conflict(format!(
                "a listing has at most {MAX_IMAGES_PER_LISTING} images; delete one first"
            )));
        }
        let max_position = listing_image::Entity::find()
            .filter(listing_image::Column::ListingId.eq(id))
            .select_only()
            .column_as(listing_image::Column::Position.max(), "max")
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten()
            .unwrap_or(-1);
        insert_images(&txn, id, &stored, max_position + 1).await?;
        changed(&txn, ctx, EventKind::Update, id).await?;
        txn.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        discard(ctx, &stored).await;
        return Err(e);
    }
    let view = get_listing(ctx, id).await?;
    view.images
        .into_iter()
        .find(|image| stored.first().is_some_and(|s| s.id == image.id))
        .ok_or_else(|| Error::Internal("stored image vanished".into()))
}

/// Remove an image from a listing and delete its files.
pub async fn delete_image(
    ctx: &Context,
    who: Authority<'_>,
    id: &str,
    image_id: &str,
) -> Result<()> {
    let current = find_row(&ctx.db, id).await?;
    let shop = shops::get_shop_by_id(&ctx.db, current.shop_id).await?;
    ensure_can_manage(who, &shop)?;
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let image = listing_image::Entity::find_by_id(image_id.to_string())
        .filter(listing_image::Column::ListingId.eq(id))
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("image"))?;
    listing_image::Entity::delete_by_id(image.id.clone())
        .exec(&txn)
        .await?;
    touch(&txn, id).await?;
    changed(&txn, ctx, EventKind::Update, id).await?;
    txn.commit().await?;
    images::remove_files(
        &ctx.instance.media_dir,
        &image.file_name,
        &image.thumb_file_name,
    )
    .await;
    Ok(())
}

/// One listing with its shop, tags and images, or 404.
pub async fn get_listing(ctx: &Context, id: &str) -> Result<ListingView> {
    let row = find_row(&ctx.db, id).await?;
    let mut views = views(ctx, vec![row]).await?;
    views.pop().ok_or_else(|| Error::not_found("listing"))
}

/// A page of listings, newest first.
pub async fn list_listings(
    ctx: &Context,
    filter: ListingFilter,
    page: PageRequest,
) -> Result<Page<ListingView>> {
    let mut query = listing::Entity::find();
    if let Some(shop_id) = filter.shop_id {
        query = query.filter(listing::Column::ShopId.eq(shop_id));
    }
    if !filter.include_withdrawn {
        query = query.filter(listing::Column::Status.ne(Status::Withdrawn.as_str()));
    }
    if let Some(tag) = &filter.tag {
        let tagged = sea_orm::sea_query::Query::select()
            .column(listing_tag::Column::ListingId)
            .from(listing_tag::Entity)
            .and_where(listing_tag::Column::Tag.eq(tag.to_lowercase()))
            .to_owned();
        query = query.filter(listing::Column::Id.in_subquery(tagged));
    }
    let query = query
        .order_by_desc(listing::Column::CreatedAt)
        .order_by_desc(listing::Column::Id);
    let paginator = query.paginate(&ctx.db, page.per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page.page - 1).await?;
    Ok(Page {
        items: views(ctx, rows).await?,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// A position in the catalog feed: just after the listing `id` changed at `updated_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    /// When the listing last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The listing, to order listings changed at the same instant.
    pub id: String,
}

impl FeedCursor {
    /// The cursor just after `view`.
    pub fn after(view: &ListingView) -> FeedCursor {
        FeedCursor {
            updated_at: view.updated_at,
            id: view.id.clone(),
        }
    }

    /// As it appears in a URL: nanoseconds since the epoch (as precise as any database keeps
    /// the time, so the cursor never falls before its own listing), a dot, the listing id.
    pub fn encode(&self) -> String {
        let nanos = self
            .updated_at
            .timestamp_nanos_opt()
            .unwrap_or_else(|| self.updated_at.timestamp_micros().saturating_mul(1000));
        format!("{nanos}.{}", self.id)
    }

    /// Read [`FeedCursor::encode`]'s form back.
    pub fn decode(text: &str) -> Result<FeedCursor> {
        let invalid = || Error::invalid("after", "a cursor from a catalog page's `next` link");
        let (nanos, id) = text.split_once('.').ok_or_else(invalid)?;
        let nanos: i64 = nanos.parse().map_err(|_| invalid())?;
        let updated_at = chrono::DateTime::from_timestamp_nanos(nanos);
        if id.is_empty()
            || id.len() > 64
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(invalid());
        }
        Ok(FeedCursor {
            updated_at,
            id: id.to_string(),
        })
    }
}

/// Every listing ever published, withdrawn ones too, in the order they last changed, after
/// `after` (from the start with `None`): the catalog feed peers page through to copy a catalog
/// and, later, to catch up on what changed.
pub async fn changed_after(
    ctx: &Context,
    after: Option<&FeedCursor>,
    limit: u64,
) -> Result<Vec<ListingView>> {
    let mut query = listing::Entity::find();
    if let Some(after) = after {
        query = query.filter(
            sea_orm::Condition::any()
                .add(listing::Column::UpdatedAt.gt(after.updated_at))
                .add(
                    sea_orm::Condition::all()
                        .add(listing::Column::UpdatedAt.eq(after.updated_at))
                        .add(listing::Column::Id.gt(after.id.as_str())),
                ),
        );
    }
    let rows = query
        .order_by_asc(listing::Column::UpdatedAt)
        .order_by_asc(listing::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?;
    views(ctx, rows).await
}

/// Count every listing ever published, withdrawn ones too (the catalog feed's size).
pub async fn count_all(ctx: &Context) -> Result<u64> {
    Ok(listing::Entity::find().count(&ctx.db).await?)
}

/// Count listings that are on show (not withdrawn).
pub async fn count_visible(ctx: &Context) -> Result<u64> {
    Ok(listing::Entity::find()
        .filter(listing::Column::Status.ne(Status::Withdrawn.as_str()))
        .count(&ctx.db)
        .await?)
}

/// Take `quantity` items of a listing's stock inside `txn` (a [`db::begin_catalog_write`]), for
/// an order. One conditional `UPDATE` (`stock >= quantity`): of two orders for the last item,
/// exactly one gets it, on SQLite and on PostgreSQL. The stock change reaches followers and peers
/// as any listing update does. `Err(reason)` (nothing written) when the listing cannot supply it.
pub(crate) async fn take_stock(
    txn: &DatabaseTransaction,
    ctx: &Context,
    id: &str,
    quantity: i32,
) -> Result<std::result::Result<listing::Model, String>> {
    let now = db::now(txn).await?;
    let taken = listing::Entity::update_many()
        .col_expr(
            listing::Column::Stock,
            Expr::col(listing::Column::Stock).sub(Expr::val(quantity)),
        )
        .col_expr(listing::Column::UpdatedAt, Expr::value(now))
        .filter(listing::Column::Id.eq(id))
        .filter(listing::Column::Status.eq(Status::Active.as_str()))
        .filter(listing::Column::Stock.gte(quantity))
        .exec(txn)
        .await?;
    let row = find_row(txn, id).await?;
    if taken.rows_affected != 1 {
        return Ok(Err(match row.status() {
            Status::Withdrawn => "the listing was withdrawn".to_string(),
            _ if row.stock == 0 => "sold out".to_string(),
            _ => format!("only {} left in stock", row.stock),
        }));
    }
    let status = Status::for_stock(row.stock);
    if status != row.status() {
        let mut active: listing::ActiveModel = row.clone().into();
        active.status = Set(status.as_str().to_string());
        active.update(txn).await?;
    }
    changed(txn, ctx, EventKind::Update, id).await?;
    Ok(Ok(find_row(txn, id).await?))
}

/// Put back `quantity` items of an order that was cancelled, inside `txn` (a
/// [`db::begin_catalog_write`]). A withdrawn listing stays withdrawn and off the network: its
/// count goes up (so stock and what orders hold still add up) with no event and no new stamp.
pub(crate) async fn put_back_stock(
    txn: &DatabaseTransaction,
    ctx: &Context,
    id: &str,
    quantity: i32,
) -> Result<()> {
    let Some(row) = listing::Entity::find_by_id(id.to_string()).one(txn).await? else {
        return Ok(());
    };
    let stock = row.stock.saturating_add(quantity);
    if row.status() == Status::Withdrawn {
        listing::ActiveModel {
            id: Set(row.id),
            stock: Set(stock),
            ..Default::default()
        }
        .update(txn)
        .await?;
        return Ok(());
    }
    let mut active: listing::ActiveModel = row.into();
    active.stock = Set(stock);
    active.status = Set(Status::for_stock(stock).as_str().to_string());
    active.updated_at = Set(db::now(txn).await?);
    active.update(txn).await?;
    changed(txn, ctx, EventKind::Update, id).await
}

/// A listing changed inside `txn`: queue its event for federation and bring its catalog entry
/// in step, both in the same transaction as the change.
async fn changed(
    txn: &impl ConnectionTrait,
    ctx: &Context,
    kind: EventKind,
    id: &str,
) -> Result<()> {
    outbox::enqueue(txn, ctx, kind, id).await?;
    crate::service::catalog::index_local(txn, ctx, id).await
}

async fn find_row(conn: &impl ConnectionTrait, id: &str) -> Result<listing::Model> {
    listing::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("listing"))
}

/// Read a listing for change inside a write transaction. Updating its row first takes the row
/// lock on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already serialises writers), so two concurrent
/// changes apply one after the other, each to the other's result, and none is lost.
async fn lock_row(txn: &impl ConnectionTrait, id: &str) -> Result<listing::Model> {
    find_row(txn, id).await?;
    touch(txn, id).await?;
    find_row(txn, id).await
}

async fn touch(conn: &impl ConnectionTrait, id: &str) -> Result<()> {
    listing::ActiveModel {
        id: Set(id.to_string()),
        updated_at: Set(db::now(conn).await?),
        ..Default::default()
    }
    .update(conn)
    .await?;
    Ok(())
}

async fn store_all(
    ctx: &Context,
    uploads: Vec<ImageUpload>,
    first_index: usize,
) -> Result<Vec<StoredImage>> {
    let mut stored = Vec::with_capacity(uploads.len());
    for (i, upload) in uploads.into_iter().enumerate() {
        match images::store(&ctx.instance, upload, first_index + i).await {
            Ok(image) => stored.push(image),
            Err(e) => {
                discard(ctx, &stored).await;
                return Err(e);
            }
        }
    }
    Ok(stored)
}

async fn discard(ctx: &Context, stored: &[StoredImage]) {
    for image in stored {
        images::remove_files(
            &ctx.instance.media_dir,
            &image.file_name,
            &image.thumb_file_name,
        )
        .await;
    }
}

async fn insert_tags(conn: &impl ConnectionTrait, id: &str, tags: &[Tag]) -> Result<()> {
    for (position, tag) in tags.iter().enumerate() {
        listing_tag::ActiveModel {
            listing_id: Set(id.to_string()),
            tag: Set(tag.as_str().to_string()),
            position: Set(position as i32),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

async fn insert_images(
    conn: &impl ConnectionTrait,
    id: &str,
    stored: &[StoredImage],
    first: i32,
) -> Result<()> {
    for (offset, image) in stored.iter().enumerate() {
        listing_image::ActiveModel {
            id: Set(image.id.clone()),
            listing_id: Set(id.to_string()),
            position: Set(first + offset as i32),
            file_name: Set(image.file_name.clone()),
            thumb_file_name: Set(image.thumb_file_name.clone()),
            media_type: Set(image.media_type.clone()),
            width: Set(image.width as i32),
            height: Set(image.height as i32),
            alt_text: Set(image.alt.clone()),
            created_at: Set(chrono::Utc::now()),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Load tags, images and shops for `rows` in three queries and assemble the views.
async fn views(ctx: &Context, rows: Vec<listing::Model>) -> Result<Vec<ListingView>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let shop_ids: Vec<i32> = rows.iter().map(|r| r.shop_id).collect();
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for tag in listing_tag::Entity::find()
        .filter(listing_tag::Column::ListingId.is_in(ids.clone()))
        .order_by_asc(listing_tag::Column::Position)
        .all(&ctx.db)
        .await?
    {
        tags.entry(tag.listing_id).or_default().push(tag.tag);
    }
    let mut images: HashMap<String, Vec<ImageView>> = HashMap::new();
    for image in listing_image::Entity::find()
        .filter(listing_image::Column::ListingId.is_in(ids))
        .order_by_asc(listing_image::Column::Position)
        .all(&ctx.db)
        .await?
    {
        images
            .entry(image.listing_id.clone())
            .or_default()
            .push(ImageView {
                url: ctx.instance.media_url(&image.file_name),
                thumbnail_url: ctx.instance.media_url(&image.thumb_file_name),
                id: image.id,
                alt: image.alt_text,
                media_type: image.media_type,
                width: image.width,
                height: image.height,
            });
    }
    let shops: HashMap<i32, shop::Model> = shop::Entity::find()
        .filter(shop::Column::Id.is_in(shop_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    rows.into_iter()
        .map(|row| {
            let shop = shops
                .get(&row.shop_id)
                .ok_or_else(|| Error::Internal(format!("listing {} has no shop", row.id)))?;
            let price = Money::from_minor(row.price_minor, &row.currency)?;
            Ok(ListingView {
                url: row.ap_id.clone(),
                shop: ShopRef {
                    handle: shop.handle.clone(),
                    name: shop.display_name.clone(),
                    url: shop.ap_id.clone(),
                },
                title: row.title,
                description: row.description_md,
                description_html: row.description_html,
                price: price.amount_string(),
                currency: price.currency().code().to_string(),
                stock: row.stock,
                status: Status::from_stored(&row.status).as_str(),
                tags: tags.remove(&row.id).unwrap_or_default(),
                images: images.remove(&row.id).unwrap_or_default(),
                created_at: row.created_at,
                updated_at: row.updated_at,
                id: row.id,
            })
        })
        .collect()
}

#[cfg(test)]
mod feed_cursor_tests {
    #![allow(clippy::unwrap_used)]

    use super::FeedCursor;

    #[test]
    fn a_cursor_survives_its_url_form_to_the_nanosecond() {
        let at = chrono::DateTime::from_timestamp(1_763_800_000, 123_456_789).unwrap();
        let cursor = FeedCursor {
            updated_at: at,
            id: "0193f1c2-7b3a-7cc0-9a3e-5d2f1b7c9e01".into(),
        };
        assert_eq!(FeedCursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "12", "12.", ".abc", "x.abc", "1.a b", "1.a/b"] {
            assert!(FeedCursor::decode(bad).is_err(), "{bad:?}");
        }
    }
}
