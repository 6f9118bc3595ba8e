//! A closed fiscal period of the co-op.

use sea_orm::entity::prelude::*;

/// A row of `fiscal_periods`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fiscal_periods")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub label: String,
    /// Entries booked after this instant belong to the period...
    pub starts_at: DateTimeUtc,
    /// ...up to and including this one.
    pub ends_at: DateTimeUtc,
    pub closed_at: DateTimeUtc,
    /// The admin who closed it.
    pub closed_by: String,
    /// The bylaws applied at closing.
    pub reserve_bp: i32,
    pub patronage_bp: i32,
    /// `sales` or `orders`.
    pub patronage_measure: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
