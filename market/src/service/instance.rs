//! The node itself: its key pairs (for the instance actor and the co-op actor) and the activities it has received.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

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

/// How long an activity id is remembered. A captured request can be replayed only while its
/// signature is in the inbox's time window (its `Date` at most 1 h ahead and 1 h old: 2 h at
/// most after it first arrived); a week also covers the days senders keep retrying a delivery
/// whose answer they lost (Lemmy keeps its `received_activity` rows as long). The effects
/// themselves are idempotent, so a duplicate arriving later still has no second effect on stock,
/// money or votes.
pub const REPLAY_WINDOW: chrono::Duration = chrono::Duration::days(7);

/// Whether the activity `ap_id` was received and acted on before (a replay or a duplicate).
pub async fn was_received(ctx: &Context, ap_id: &str) -> Result<bool> {
    Ok(received_activity::Entity::find_by_id(ap_id.to_string())
        .one(&ctx.db)
        .await?
        .is_some())
}

/// Record that the activity `ap_id` was acted on, once its effect succeeded. A duplicate that
/// was processed at the same time loses the insert quietly.
pub async fn record_received(ctx: &Context, ap_id: &str) -> Result<()> {
    let row = received_activity::ActiveModel {
        ap_id: Set(ap_id.to_string()),
        received_at: Set(chrono::Utc::now()),
    };
    received_activity::Entity::insert(row)
        .on_conflict_do_nothing_on([received_activity::Column::ApId])
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// Forget the activity ids received before `before` (the delivery worker calls this with
/// now − [`REPLAY_WINDOW`]). One DELETE; returns how many rows went.
pub async fn forget_received_before(
    ctx: &Context,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64> {
    let deleted = received_activity::Entity::delete_many()
        .filter(received_activity::Column::ReceivedAt.lt(before))
        .exec(&ctx.db)
        .await?;
    Ok(deleted.rows_affected)
}
