//! The delivery workers that are alive, so a killed one's leases can be voided at once.

use sea_orm::{EntityTrait, Set, sea_query::OnConflict};

use crate::{Context, Result, entities::delivery_worker};

/// Say that `worker` is alive. (Workers long silent are forgotten by `prune`.)
pub async fn heartbeat(ctx: &Context, worker: &str) -> Result<()> {
    let now = crate::db::now(&ctx.db).await?;
    delivery_worker::Entity::insert(delivery_worker::ActiveModel {
        id: Set(worker.to_string()),
        started_at: Set(now),
        heartbeat_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(delivery_worker::Column::Id)
            .update_column(delivery_worker::Column::HeartbeatAt)
            .to_owned(),
    )
    .exec_without_returning(&ctx.db)
    .await?;
    Ok(())
}

/// `worker` stopped cleanly.
pub async fn retire(ctx: &Context, worker: &str) -> Result<()> {
    delivery_worker::Entity::delete_by_id(worker.to_string())
        .exec(&ctx.db)
        .await?;
    Ok(())
}
