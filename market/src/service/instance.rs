//! The node itself: its key pairs (for the instance actor and the co-op actor) and the activities it has received.

use sea_orm::{EntityTrait, Set};

use crate::{
    Context, Result,
    entities::{instance_key, received_activity},
    keys,
};

/// The node's key pair, created on first use.
pub async fn instance_keys(ctx: &Context) -> Result<instance_key::Model> {
    key_pair(ctx, INSTANCE_KEY).await
}

/// The co-op actor's key pair (`/coop`, which publishes proposals), created on first use.
pub async fn coop_keys(ctx: &Context) -> Result<instance_key::Model> {
    key_pair(ctx, COOP_KEY).await
}

/// Row of `instance_keys` holding the instance actor's key.
const INSTANCE_KEY: i32 = 1;
/// Row of `instance_keys` holding the co-op actor's key.
const COOP_KEY: i32 = 2;

async fn key_pair(ctx: &Context, id: i32) -> Result<instance_key::Model> {
    if let Some(row) = instance_key::Entity::find_by_id(id).one(&ctx.db).await? {
        return Ok(row);
    }
    let pair = tokio::task::spawn_blocking(keys::generate).await??;
    let row = instance_key::ActiveModel {
        id: Set(id),
        private_key_pem: Set(pair.private_key_pem),
        public_key_pem: Set(pair.public_key_pem),
        created_at: Set(chrono::Utc::now()),
    };
    // Two processes starting at once: the first insert wins, both read it back.
    instance_key::Entity::insert(row)
        .on_conflict_do_nothing_on([instance_key::Column::Id])
        .exec(&ctx.db)
        .await?;
    instance_key::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| crate::Error::Internal("instance key vanished".into()))
}

/// Record that the activity `ap_id` arrived. Returns false if it had arrived before (a replay).
pub async fn first_receipt(ctx: &Context, ap_id: &str) -> Result<bool> {
    let row = received_activity::ActiveModel {
        ap_id: Set(ap_id.to_string()),
        received_at: Set(chrono::Utc::now()),
    };
    let inserted = received_activity::Entity::insert(row)
        .on_conflict_do_nothing_on([received_activity::Column::ApId])
        .exec(&ctx.db)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(_)))
}
