//! An account's membership of the co-op: applied, active, rejected or left.

use sea_orm::entity::prelude::*;

/// A row of `memberships`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub user_id: i32,
    /// `applied`, `active`, `rejected` or `left`.
    pub status: String,
    pub statement: String,
    /// The share paid on admission, minor units of `currency`.
    pub share_minor: i64,
    pub currency: String,
    pub applied_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    /// `admin:{username}`, `vote:{proposal id}` or `founder`.
    pub decided_by: Option<String>,
    /// The admission vote, when the bylaws admit by vote.
    pub proposal_id: Option<String>,
    pub left_at: Option<DateTimeUtc>,
}

/// Waiting for a decision.
pub const STATUS_APPLIED: &str = "applied";
/// A member.
pub const STATUS_ACTIVE: &str = "active";
/// Not admitted.
pub const STATUS_REJECTED: &str = "rejected";
/// Was a member.
pub const STATUS_LEFT: &str = "left";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
