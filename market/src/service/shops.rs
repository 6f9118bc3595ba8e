//! Shops: creation (with the actor's key pair), lookup and ownership checks.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::{
    Context, Error, Result,
    entities::{shop, user},
    keys,
    service::{accounts::unique_to_conflict, images},
    types::{DisplayName, Handle, Text},
};

/// What it takes to open a shop.
#[derive(Debug, Clone)]
pub struct NewShop {
    /// The `pottery` in `@pottery@coop.example`.
    pub handle: Handle,
    /// Shown on pages and as the actor's `name`.
    pub display_name: DisplayName,
    /// Plain text, up to 2,000 characters.
    pub bio: String,
}

impl NewShop {
    /// Parse raw input into a shop.
    pub fn parse(handle: &str, display_name: &str, bio: Option<&str>) -> Result<Self> {
        Ok(NewShop {
            handle: Handle::parse(handle)?,
            display_name: DisplayName::parse(display_name)?,
            bio: parse_bio(bio.unwrap_or(""))?,
        })
    }
}

fn parse_bio(bio: &str) -> Result<String> {
    Ok(Text::lines("bio", bio, 0, 2_000)?.into_inner())
}

/// Changes to a shop's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ShopChanges {
    /// New display name.
    pub display_name: Option<String>,
    /// New bio.
    pub bio: Option<String>,
    /// Whether follow requests wait for approval.
    pub manually_approves_followers: Option<bool>,
    /// Whether orders wait for the owner to accept them.
    pub accepts_orders_by_hand: Option<bool>,
}

/// Change a shop's display name, bio, or how it answers followers and orders.
pub async fn update_shop(
    ctx: &Context,
    who: Authority<'_>,
    handle: &str,
    changes: ShopChanges,
) -> Result<shop::Model> {
    let shop = get_shop(ctx, handle).await?;
    ensure_can_manage(who, &shop)?;
    let row = changed(shop, &changes)?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    let shop = write_changes(&txn, row).await?;
    txn.commit().await?;
    Ok(shop)
}

/// Change a shop's profile and its checkout settings together, as its settings page does: all
/// is checked first, then written in one transaction, so a refusal or a failure saves nothing.
pub async fn update_settings(
    ctx: &Context,
    who: Authority<'_>,
    handle: &str,
    changes: ShopChanges,
    payment_instructions: &str,
    options: Vec<crate::service::checkout::ShippingOptionInput>,
) -> Result<shop::Model> {
    let shop = get_shop(ctx, handle).await?;
    ensure_can_manage(who, &shop)?;
    let shop_id = shop.id;
    let row = changed(shop, &changes)?;
    let checkout = crate::service::checkout::check(payment_instructions, options)?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    crate::service::checkout::write(&txn, shop_id, &checkout).await?;
    let shop = write_changes(&txn, row).await?;
    txn.commit().await?;
    Ok(shop)
}

/// `shop` with `changes` checked and applied, not yet written.
fn changed(shop: shop::Model, changes: &ShopChanges) -> Result<shop::ActiveModel> {
    let mut row: shop::ActiveModel = shop.into();
    if let Some(name) = &changes.display_name {
        row.display_name = Set(DisplayName::parse(name)?.into_inner());
    }
    if let Some(bio) = &changes.bio {
        row.bio = Set(parse_bio(bio)?);
    }
    if let Some(manual) = changes.manually_approves_followers {
        row.manually_approves_followers = Set(manual);
    }
    if let Some(by_hand) = changes.accepts_orders_by_hand {
        row.accepts_orders_by_hand = Set(by_hand);
    }
    row.updated_at = Set(chrono::Utc::now());
    Ok(row)
}

/// Write a changed shop on `txn`, and its name into the catalog's copy of its listings.
async fn write_changes(
    txn: &sea_orm::DatabaseTransaction,
    row: shop::ActiveModel,
) -> Result<shop::Model> {
    let shop = row.update(txn).await?;
    crate::service::catalog::rename_local_shop(txn, &shop.ap_id, &shop.display_name).await?;
    Ok(shop)
}

/// Set a shop's avatar from an uploaded image. The image is checked and re-encoded like listing
/// photos; the avatar is its square-bounded 480 px version. The previous avatar's file is removed.
pub async fn set_avatar(
    ctx: &Context,
    who: Authority<'_>,
    handle: &str,
    bytes: Vec<u8>,
) -> Result<shop::Model> {
    let shop = get_shop(ctx, handle).await?;
    ensure_can_manage(who, &shop)?;
    let upload = images::ImageUpload {
        bytes,
        alt: shop.display_name.clone(),
    };
    let media_dir = &ctx.instance.media_dir;
    let stored = images::store(&ctx.instance, upload, 0).await?;
    // Only the thumbnail is kept: avatars are shown small everywhere.
    images::remove_files(media_dir, &stored.file_name, &stored.file_name).await;
    let previous = shop.avatar_file.clone();
    let mut row: shop::ActiveModel = shop.into();
    row.avatar_file = Set(Some(stored.thumb_file_name.clone()));
    row.updated_at = Set(chrono::Utc::now());
    match row.update(&ctx.db).await {
        Ok(updated) => {
            if let Some(old) = previous {
                images::remove_files(media_dir, &old, &old).await;
            }
            Ok(updated)
        }
        Err(e) => {
            images::remove_files(media_dir, &stored.thumb_file_name, &stored.thumb_file_name).await;
            Err(e.into())
        }
    }
}

/// Open a shop owned by `owner`, generating its RSA-2048 key pair. 409 if the handle is taken.
pub async fn create_shop(ctx: &Context, owner: &user::Model, new: NewShop) -> Result<shop::Model> {
    if !owner.may_open_shops() {
        return Err(Error::Forbidden(
            "only co-op members open shops; a buyer account cannot".into(),
        ));
    }
    if find_shop(ctx, new.handle.as_str()).await?.is_some() {
        return Err(Error::Conflict(format!(
            "shop handle {} is taken",
            new.handle.as_str()
        )));
    }
    let pair = tokio::task::spawn_blocking(keys::generate).await??;
    let now = chrono::Utc::now();
    shop::ActiveModel {
        handle: Set(new.handle.as_str().to_string()),
        owner_id: Set(owner.id),
        display_name: Set(new.display_name.into_inner()),
        bio: Set(new.bio),
        avatar_file: Set(None),
        ap_id: Set(ctx.instance.shop_url(new.handle.as_str())),
        private_key_pem: Set(pair.private_key_pem),
        public_key_pem: Set(pair.public_key_pem),
        manually_approves_followers: Set(false),
        accepts_orders_by_hand: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db)
    .await
    .map_err(|e| unique_to_conflict(e, "shop handle is taken"))
}

/// Delete a shop that has no listings (undoing a creation whose later step failed).
pub async fn delete_shop(ctx: &Context, handle: &str) -> Result<()> {
    use crate::entities::listing;
    use sea_orm::PaginatorTrait;
    let shop = get_shop(ctx, handle).await?;
    let listings = listing::Entity::find()
        .filter(listing::Column::ShopId.eq(shop.id))
        .count(&ctx.db)
        .await?;
    if listings > 0 {
        return Err(Error::Conflict(format!("shop {handle} has listings")));
    }
    shop::Entity::delete_by_id(shop.id).exec(&ctx.db).await?;
    Ok(())
}

/// A shop by handle, if it exists.
pub async fn find_shop(ctx: &Context, handle: &str) -> Result<Option<shop::Model>> {
    Ok(shop::Entity::find()
        .filter(shop::Column::Handle.eq(handle.trim().trim_start_matches('@').to_ascii_lowercase()))
        .one(&ctx.db)
        .await?)
}

/// A shop by its id URL, if it is one of ours.
pub async fn find_shop_by_ap_id(ctx: &Context, ap_id: &str) -> Result<Option<shop::Model>> {
    Ok(shop::Entity::find()
        .filter(shop::Column::ApId.eq(ap_id))
        .one(&ctx.db)
        .await?)
}

/// How many shops the node has.
pub async fn count_shops(ctx: &Context) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(shop::Entity::find().count(&ctx.db).await?)
}

/// A shop by handle, or 404.
pub async fn get_shop(ctx: &Context, handle: &str) -> Result<shop::Model> {
    find_shop(ctx, handle)
        .await?
        .ok_or_else(|| Error::not_found("shop"))
}

/// A shop by its row id, or 404.
pub async fn get_shop_by_id(conn: &impl ConnectionTrait, id: i32) -> Result<shop::Model> {
    shop::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("shop"))
}

/// Every shop, oldest first.
pub async fn list_shops(ctx: &Context) -> Result<Vec<shop::Model>> {
    Ok(shop::Entity::find()
        .order_by_asc(shop::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// The shops `owner` runs.
pub async fn shops_of(ctx: &Context, owner: &user::Model) -> Result<Vec<shop::Model>> {
    Ok(shop::Entity::find()
        .filter(shop::Column::OwnerId.eq(owner.id))
        .order_by_asc(shop::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// The owner's username of a shop.
pub async fn owner_of(ctx: &Context, shop: &shop::Model) -> Result<user::Model> {
    user::Entity::find_by_id(shop.owner_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::Internal(format!("shop {} has no owner row", shop.handle)))
}

/// On whose authority a change is made.
#[derive(Debug, Clone, Copy)]
pub enum Authority<'a> {
    /// A logged-in account (API, pages): may manage its own shops, or all of them if admin.
    User(&'a user::Model),
    /// Whoever runs the `tianguis` CLI on the node's machine: may manage everything, as with
    /// Mastodon's `tootctl`.
    Operator,
}

/// 403 unless the authority is a member who owns `shop`, an admin, or the operator.
pub fn ensure_can_manage(who: Authority<'_>, shop: &shop::Model) -> Result<()> {
    match who {
        Authority::Operator => Ok(()),
        Authority::User(user) if user.is_admin() => Ok(()),
        // A former member keeps their account but not their shops' management.
        Authority::User(user) if user.id == shop.owner_id && user.is_member() => Ok(()),
        Authority::User(_) => Err(Error::Forbidden(format!(
            "you do not run the shop {}",
            shop.handle
        ))),
    }
}
