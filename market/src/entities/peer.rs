//! A peer co-op node: our follow of its instance actor, its follow of ours, whether our admin
//! approved it, and how far we have copied its catalog.

use sea_orm::entity::prelude::*;

/// Our `Follow` of their instance actor.
pub mod outgoing {
    /// We do not follow them.
    pub const NONE: &str = "none";
    /// Sent, no answer yet.
    pub const PENDING: &str = "pending";
    /// They accepted: we copy their catalog and receive its changes.
    pub const ACCEPTED: &str = "accepted";
    /// They said no.
    pub const REJECTED: &str = "rejected";
}

/// Their `Follow` of our instance actor.
pub mod incoming {
    /// They do not follow us.
    pub const NONE: &str = "none";
    /// They asked; waiting for our admin (allowlist mode).
    pub const REQUESTED: &str = "requested";
    /// Accepted: our listing changes go to them.
    pub const ACCEPTED: &str = "accepted";
}

/// A row of `peers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "peers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `host` or `host:port`, lower case.
    #[sea_orm(unique)]
    pub domain: String,
    /// `https://host` (or `http://` in debug mode).
    pub base_url: String,
    /// Their instance actor, once fetched.
    pub actor_id: Option<String>,
    /// Where activities for them go (their shared inbox, or the actor's inbox).
    pub inbox: Option<String>,
    /// Their catalog collection.
    pub catalog_url: Option<String>,
    /// See [`outgoing`].
    pub outgoing: String,
    pub follow_activity_id: Option<String>,
    /// See [`incoming`].
    pub incoming: String,
    pub incoming_follow_id: Option<String>,
    pub incoming_actor_id: Option<String>,
    /// Approved by our admin (or added by them): federates in allowlist mode.
    pub approved: bool,
    /// The next catalog page to read: where an interrupted copy resumes, and, once the copy is
    /// done, the page asked again for what changed since.
    pub cursor: Option<String>,
    /// The first full copy of their catalog finished.
    pub backfilled: bool,
    pub pages_read: i64,
    pub items_read: i64,
    /// Their catalog's `totalItems`, for progress.
    pub total_items: Option<i64>,
    pub synced_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub sync_locked_by: Option<String>,
    pub sync_locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
