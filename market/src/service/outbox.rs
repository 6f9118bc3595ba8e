//! Listing changes waiting to be federated. A change and its event commit in one transaction, so
//! an event exists exactly for every committed change; the federation layer turns events into
//! activities and sends them, then marks them processed.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::{Context, Result, entities::federation_event};

/// What happened to a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Published: `Create`.
    Create,
    /// Changed (title, price, stock, images, ...): `Update`.
    Update,
    /// Withdrawn: `Delete`.
    Delete,
}

impl EventKind {
    /// Stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Create => "create",
            EventKind::Update => "update",
            EventKind::Delete => "delete",
        }
    }

    /// Read the stored spelling.
    pub fn from_stored(value: &str) -> Option<Self> {
        match value {
            "create" => Some(EventKind::Create),
            "update" => Some(EventKind::Update),
            "delete" => Some(EventKind::Delete),
            _ => None,
        }
    }
}

/// Add an event inside the transaction that makes the change. The activity id is fixed now:
/// `{base}/activities/{uuid}`.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    ctx: &Context,
    kind: EventKind,
    listing_id: &str,
) -> Result<()> {
    federation_event::ActiveModel {
        activity_id: Set(ctx
            .instance
            .url(&format!("/activities/{}", uuid::Uuid::new_v4()))),
        kind: Set(kind.as_str().to_string()),
        listing_id: Set(listing_id.to_string()),
        created_at: Set(chrono::Utc::now()),
        processed_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The oldest unprocessed events, at most `limit`.
pub async fn pending(ctx: &Context, limit: u64) -> Result<Vec<federation_event::Model>> {
    Ok(federation_event::Entity::find()
        .filter(federation_event::Column::ProcessedAt.is_null())
        .order_by_asc(federation_event::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?)
}

/// Mark an event done.
pub async fn mark_processed(ctx: &Context, id: i32) -> Result<()> {
    federation_event::ActiveModel {
        id: Set(id),
        processed_at: Set(Some(chrono::Utc::now())),
        ..Default::default()
    }
    .update(&ctx.db)
    .await?;
    Ok(())
}
