//! The node itself: its key pair (for the instance actor) and the activities it has received.

use sea_orm::{EntityTrait, Set};

use crate::{
    Context, Result,
    entities::{instance_key, received_activity},
    keys,
};

/// The node's key pair, created on first use.
pub async fn instance_keys(ctx: &Context) -> Result<instance_key::Model> {
    if let Some(row) = instance_key::Entity::find_by_id(1).one(&ctx.db).await? {
        return Ok(row);
    }
    let pair = tokio::task::spawn_blocking(keys::generate).await??;
    let row = instance_key::ActiveModel {
        id: Set(1),
        private_key_pem: Set(pair.private_key_pem),
        public_key_pem: Set(pair.public_key_pem),
        created_at: Set(chrono::Utc::now()),
    };
    // Two processes starting at once: the first insert wins, both read it back.
    instance_key::Entity::insert(row)
        .on_conflict_do_nothing_on([instance_key::Column::Id])
        .exec(&ctx.db)
        .await?;
    instance_key::Entity::find_by_id(1)
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
