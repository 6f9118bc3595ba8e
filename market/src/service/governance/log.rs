//! The governance audit log: one row per governance event, readable by every member. Other
//! co-op features log here too (membership: applied, admitted, rejected, left; fiscal periods:
//! closed) through [`log`], with their own `kind`s.

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, Set};

use crate::{
    Context, Error, Result, db,
    entities::{governance_event, user},
    service::{Page, PageRequest},
};

/// The actor of events the node causes itself (a proposal closing on time).
pub const SYSTEM: &str = "system";

/// A proposal was opened.
pub const PROPOSAL_CREATED: &str = "proposal_created";
/// A member voted. Neither who nor what: see [`super`].
pub const VOTE_CAST: &str = "vote_cast";
/// A proposal closed; the detail is its outcome.
pub const PROPOSAL_CLOSED: &str = "proposal_closed";
/// A reply to a proposal's `Question` (a Mastodon poll vote) arrived and was not counted.
pub const REPLY_IGNORED: &str = "reply_ignored";

/// Append an event inside `conn` (a transaction, so the event commits with its change, or the
/// pool). `actor` is a username or [`SYSTEM`]; `kind` is open (snake_case, e.g.
/// `member_admitted`); `detail` is shown to every member, so it must not say how anyone voted.
pub async fn log(
    conn: &impl ConnectionTrait,
    actor: &str,
    kind: &str,
    proposal_id: Option<&str>,
    detail: &str,
) -> Result<governance_event::Model> {
    Ok(governance_event::ActiveModel {
        at: Set(db::now(conn).await?),
        actor: Set(actor.chars().take(200).collect()),
        kind: Set(kind.to_string()),
        proposal_id: Set(proposal_id.map(str::to_string)),
        detail: Set(detail.chars().take(2_000).collect()),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The log, newest first, for members (403 for anyone else).
pub async fn list(
    ctx: &Context,
    viewer: &user::Model,
    page: PageRequest,
) -> Result<Page<governance_event::Model>> {
    if !viewer.is_member() {
        return Err(Error::Forbidden(
            "only members of the co-op may read its governance log".into(),
        ));
    }
    page_of(ctx, page).await
}

/// The log, newest first, for the operator (`tianguis governance log`).
pub async fn page_of(ctx: &Context, page: PageRequest) -> Result<Page<governance_event::Model>> {
    let paginator = governance_event::Entity::find()
        .order_by_desc(governance_event::Column::Id)
        .paginate(&ctx.db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page.page - 1).await?;
    Ok(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}
