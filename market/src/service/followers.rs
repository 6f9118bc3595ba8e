//! Who follows a shop: remote actors, their follow requests, and the inboxes a shop delivers to.

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set,
    sea_query::{Expr, Func, OnConflict},
};

use crate::{
    Context, Error, Result,
    entities::{follow, remote_actor, shop},
    service::{
        Page, PageRequest,
        shops::{Authority, ensure_can_manage},
    },
};

/// What we learned about a remote actor from its actor document.
#[derive(Debug, Clone)]
pub struct RemoteActorData {
    /// Its id.
    pub ap_id: String,
    /// `Person`, `Service`, ...
    pub actor_type: String,
    /// Its username, if it has one.
    pub preferred_username: Option<String>,
    /// Display name as received (HTML is stripped here).
    pub name: String,
    /// Its inbox.
    pub inbox: String,
    /// Its server's shared inbox, if any.
    pub shared_inbox: Option<String>,
    /// SPKI PEM.
    pub public_key_pem: String,
}

/// Insert or refresh a remote actor by id.
pub async fn upsert_remote_actor(
    ctx: &Context,
    data: RemoteActorData,
) -> Result<remote_actor::Model> {
    let url =
        url::Url::parse(&data.ap_id).map_err(|_| Error::invalid("actor", "id is not a URL"))?;
    let domain = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => return Err(Error::invalid("actor", "id has no host")),
    };
    let name = plain_text(&data.name, 200);
    let username = data.preferred_username.map(|u| plain_text(&u, 100));
    let row = remote_actor::ActiveModel {
        ap_id: Set(data.ap_id.clone()),
        actor_type: Set(data.actor_type.chars().take(32).collect()),
        preferred_username: Set(username),
        name: Set(name),
        inbox: Set(data.inbox),
        shared_inbox: Set(data.shared_inbox),
        public_key_pem: Set(data.public_key_pem),
        domain: Set(domain),
        last_refreshed_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    remote_actor::Entity::insert(row)
        .on_conflict(
            OnConflict::column(remote_actor::Column::ApId)
                .update_columns([
                    remote_actor::Column::ActorType,
                    remote_actor::Column::PreferredUsername,
                    remote_actor::Column::Name,
                    remote_actor::Column::Inbox,
                    remote_actor::Column::SharedInbox,
                    remote_actor::Column::PublicKeyPem,
                    remote_actor::Column::LastRefreshedAt,
                ])
                .to_owned(),
        )
        .exec(&ctx.db)
        .await?;
    find_remote_actor(ctx, &data.ap_id)
        .await?
        .ok_or_else(|| Error::Internal("remote actor vanished after upsert".into()))
}

/// A remote actor by id.
pub async fn find_remote_actor(ctx: &Context, ap_id: &str) -> Result<Option<remote_actor::Model>> {
    Ok(remote_actor::Entity::find()
        .filter(remote_actor::Column::ApId.eq(ap_id))
        .one(&ctx.db)
        .await?)
}

/// Forget a remote actor (it deleted itself) and all its follows.
pub async fn remove_remote_actor(ctx: &Context, ap_id: &str) -> Result<()> {
    remote_actor::Entity::delete_many()
        .filter(remote_actor::Column::ApId.eq(ap_id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// Record a follow request. It is accepted at once unless the shop approves followers by hand.
/// Following twice keeps one row (the newest Follow id) and the state it had.
pub async fn record_follow(
    ctx: &Context,
    shop: &shop::Model,
    actor: &remote_actor::Model,
    follow_activity_id: &str,
) -> Result<follow::Model> {
    let existing = find_follow(ctx, shop.id, actor.id).await?;
    if let Some(existing) = existing {
        let mut row: follow::ActiveModel = existing.into();
        row.follow_activity_id = Set(follow_activity_id.to_string());
        return Ok(row.update(&ctx.db).await?);
    }
    let state = if shop.manually_approves_followers {
        follow::STATE_PENDING
    } else {
        follow::STATE_ACCEPTED
    };
    let row = follow::ActiveModel {
        shop_id: Set(shop.id),
        remote_actor_id: Set(actor.id),
        follow_activity_id: Set(follow_activity_id.to_string()),
        state: Set(state.to_string()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    // A concurrent duplicate Follow loses the race quietly; the row read back is the winner's.
    follow::Entity::insert(row)
        .on_conflict_do_nothing_on([follow::Column::ShopId, follow::Column::RemoteActorId])
        .exec(&ctx.db)
        .await?;
    find_follow(ctx, shop.id, actor.id)
        .await?
        .ok_or_else(|| Error::Internal("follow vanished after insert".into()))
}

async fn find_follow(ctx: &Context, shop_id: i32, actor_id: i32) -> Result<Option<follow::Model>> {
    Ok(follow::Entity::find()
        .filter(follow::Column::ShopId.eq(shop_id))
        .filter(follow::Column::RemoteActorId.eq(actor_id))
        .one(&ctx.db)
        .await?)
}

/// The shop a Follow (by its activity id) of `actor_id` was for.
pub async fn shop_of_follow(
    ctx: &Context,
    follow_activity_id: &str,
    actor_id: i32,
) -> Result<Option<i32>> {
    Ok(follow::Entity::find()
        .filter(follow::Column::FollowActivityId.eq(follow_activity_id))
        .filter(follow::Column::RemoteActorId.eq(actor_id))
        .one(&ctx.db)
        .await?
        .map(|f| f.shop_id))
}

/// End a follow (Undo{Follow}, or the owner removing a follower). Unknown follows are fine.
pub async fn remove_follow(ctx: &Context, shop_id: i32, actor_id: i32) -> Result<()> {
    follow::Entity::delete_many()
        .filter(follow::Column::ShopId.eq(shop_id))
        .filter(follow::Column::RemoteActorId.eq(actor_id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// A follower as shown to the shop's owner.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FollowerView {
    /// Follow row id (to approve or reject).
    pub id: i32,
    /// The follower's actor id.
    pub actor: String,
    /// `user@domain`.
    pub handle: String,
    /// Display name (plain text).
    pub name: String,
    /// `pending` or `accepted`.
    pub state: String,
    /// When they followed.
    pub since: chrono::DateTime<chrono::Utc>,
}

/// A shop's followers and follow requests, newest first.
pub async fn list_followers(
    ctx: &Context,
    shop_id: i32,
    page: PageRequest,
) -> Result<Page<FollowerView>> {
    let paginator = follow::Entity::find()
        .filter(follow::Column::ShopId.eq(shop_id))
        .find_also_related(remote_actor::Entity)
        .order_by_desc(follow::Column::Id)
        .paginate(&ctx.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator
        .fetch_page(page.page - 1)
        .await?
        .into_iter()
        .filter_map(|(f, actor)| {
            actor.map(|a| FollowerView {
                id: f.id,
                handle: a.handle(),
                actor: a.ap_id,
                name: a.name,
                state: f.state,
                since: f.created_at,
            })
        })
        .collect();
    Ok(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// A shop's follow requests waiting for its owner (oldest first, at most `limit`), and how many
/// there are in all. Only shops that approve followers by hand have any.
pub async fn pending_requests(
    ctx: &Context,
    shop_id: i32,
    limit: u64,
) -> Result<(Vec<FollowerView>, u64)> {
    let query = follow::Entity::find()
        .filter(follow::Column::ShopId.eq(shop_id))
        .filter(follow::Column::State.eq(follow::STATE_PENDING));
    let total = query.clone().count(&ctx.db).await?;
    let items = query
        .find_also_related(remote_actor::Entity)
        .order_by_asc(follow::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter_map(|(f, actor)| {
            actor.map(|a| FollowerView {
                id: f.id,
                handle: a.handle(),
                actor: a.ap_id,
                name: a.name,
                state: f.state,
                since: f.created_at,
            })
        })
        .collect();
    Ok((items, total))
}

/// How many accepted followers a shop has.
pub async fn count_followers(ctx: &Context, shop_id: i32) -> Result<u64> {
    Ok(follow::Entity::find()
        .filter(follow::Column::ShopId.eq(shop_id))
        .filter(follow::Column::State.eq(follow::STATE_ACCEPTED))
        .count(&ctx.db)
        .await?)
}

/// The inboxes a shop's activities go to: each follower's shared inbox if it has one, else its
/// own inbox, each once (2,000 followers on one server cost one delivery).
pub async fn follower_inboxes(ctx: &Context, shop_id: i32) -> Result<Vec<String>> {
    // The database picks the distinct inboxes: a shop may have tens of thousands of followers
    // on a few hundred servers.
    let inboxes: Vec<String> = follow::Entity::find()
        .filter(follow::Column::ShopId.eq(shop_id))
        .filter(follow::Column::State.eq(follow::STATE_ACCEPTED))
        .join(JoinType::InnerJoin, follow::Relation::RemoteActor.def())
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
        .all(&ctx.db)
        .await?;
    let inboxes: BTreeSet<String> = inboxes.into_iter().collect();
    Ok(inboxes.into_iter().collect())
}

/// A pending follow request the owner decides on, with what is needed to answer it.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The follow row.
    pub follow: follow::Model,
    /// Who asked.
    pub actor: remote_actor::Model,
    /// The shop.
    pub shop: shop::Model,
}

/// Approve (`accept = true`) or reject a follow request of `shop`. Rejecting deletes the row.
pub async fn decide_follow(
    ctx: &Context,
    who: Authority<'_>,
    shop: &shop::Model,
    follow_id: i32,
    accept: bool,
) -> Result<Decided> {
    ensure_can_manage(who, shop)?;
    let (follow, actor) = follow::Entity::find_by_id(follow_id)
        .filter(follow::Column::ShopId.eq(shop.id))
        .find_also_related(remote_actor::Entity)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("follow request"))?;
    let actor = actor.ok_or_else(|| Error::not_found("follower"))?;
    let follow = if accept {
        let mut row: follow::ActiveModel = follow.into();
        row.state = Set(follow::STATE_ACCEPTED.to_string());
        row.update(&ctx.db).await?
    } else {
        follow::Entity::delete_by_id(follow.id)
            .exec(&ctx.db)
            .await?;
        follow
    };
    Ok(Decided {
        follow,
        actor,
        shop: shop.clone(),
    })
}

/// Strip HTML and control characters from remote text and cut it to `max` characters.
pub fn plain_text(html: &str, max: usize) -> String {
    let text = ammonia::Builder::empty().clean(html).to_string();
    // ammonia escapes what it keeps; turn the entities back into text for storage.
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn remote_html_becomes_plain_text() {
        assert_eq!(
            plain_text("<b>Ana</b> <script>alert(1)</script>&amp; co", 100),
            "Ana & co"
        );
        assert_eq!(plain_text("abcdef", 3), "abc");
    }
}
