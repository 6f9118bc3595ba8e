//! Who follows the co-op's actor (`/coop`): remote accounts (members on Mastodon, mostly) that
//! receive each proposal as a `Question`. Follows are accepted at once.

use std::collections::BTreeSet;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect,
    RelationTrait, Set,
    sea_query::{Expr, Func, OnConflict},
};

use crate::{
    Context, Result,
    entities::{coop_follower, remote_actor},
};

/// Record (or refresh) a follower with its Follow's id.
pub async fn record(ctx: &Context, actor: &remote_actor::Model, follow_id: &str) -> Result<()> {
    coop_follower::Entity::insert(coop_follower::ActiveModel {
        remote_actor_id: Set(actor.id),
        follow_activity_id: Set(follow_id.to_string()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(coop_follower::Column::RemoteActorId)
            .update_column(coop_follower::Column::FollowActivityId)
            .to_owned(),
    )
    .exec_without_returning(&ctx.db)
    .await?;
    Ok(())
}

/// Remove `actor`'s follow: any, or only the one with `follow_id` when given. True if one went.
pub async fn remove(ctx: &Context, actor_id: i32, follow_id: Option<&str>) -> Result<bool> {
    let mut delete = coop_follower::Entity::delete_many()
        .filter(coop_follower::Column::RemoteActorId.eq(actor_id));
    if let Some(follow_id) = follow_id {
        delete = delete.filter(coop_follower::Column::FollowActivityId.eq(follow_id));
    }
    Ok(delete.exec(&ctx.db).await?.rows_affected > 0)
}

/// How many follow the co-op.
pub async fn count(ctx: &Context) -> Result<u64> {
    Ok(coop_follower::Entity::find().count(&ctx.db).await?)
}

/// Where the co-op's activities go: each follower's shared inbox if it has one, else its inbox,
/// each once.
pub async fn inboxes(conn: &impl ConnectionTrait) -> Result<Vec<String>> {
    let inboxes: Vec<String> = coop_follower::Entity::find()
        .join(
            JoinType::InnerJoin,
            coop_follower::Relation::RemoteActor.def(),
        )
        .select_only()
        .expr_as(
            Func::coalesce([
                Expr::col((remote_actor::Entity, remote_actor::Column::SharedInbox)),
                Expr::col((remote_actor::Entity, remote_actor::Column::Inbox)),
            ]),
            "inbox",
        )
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    let inboxes: BTreeSet<String> = inboxes.into_iter().collect();
    Ok(inboxes.into_iter().collect())
}
