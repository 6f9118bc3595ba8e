//! A listing change waiting to be federated: written in the same transaction as the change.

use sea_orm::entity::prelude::*;

/// A row of `federation_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "federation_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The id the activity carries, fixed at commit so a retry sends the same id.
    #[sea_orm(unique)]
    pub activity_id: String,
    /// `create`, `update` or `delete`.
    pub kind: String,
    pub listing_id: String,
    pub created_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
