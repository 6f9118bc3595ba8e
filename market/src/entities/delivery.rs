//! One activity to one inbox, with its retry state.

use sea_orm::entity::prelude::*;

/// A row of `deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub outbox_activity_id: i32,
    pub inbox: String,
    /// Host (and port) of the inbox.
    pub host: String,
    /// [`STATE_PENDING`], [`STATE_DONE`], [`STATE_REFUSED`] or [`STATE_FAILED`].
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    /// The worker holding the lease (see `delivery_worker`).
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Waiting for its next attempt.
pub const STATE_PENDING: &str = "pending";
/// Delivered.
pub const STATE_DONE: &str = "done";
/// Refused for good by the receiver (a 4xx other than 408 and 429, or a second 401).
pub const STATE_REFUSED: &str = "refused";
/// Given up after the last retry.
pub const STATE_FAILED: &str = "failed";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::outbox_activity::Entity",
        from = "Column::OutboxActivityId",
        to = "super::outbox_activity::Column::Id",
        on_delete = "Cascade"
    )]
    OutboxActivity,
}

impl Related<super::outbox_activity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OutboxActivity.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
