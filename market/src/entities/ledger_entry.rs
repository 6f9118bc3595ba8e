//! A journal entry of the co-op's ledger.

use sea_orm::entity::prelude::*;

/// A row of `ledger_entries`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `sale`, `cost`, `share`, `share_refund`, `close`, `payout`.
    pub kind: String,
    /// The order a sale books (each once).
    #[sea_orm(unique)]
    pub order_id: Option<String>,
    pub currency: String,
    pub memo: String,
    pub booked_at: DateTimeUtc,
    /// The fiscal period a closing entry closes (null for every other entry: those belong to
    /// the period their `booked_at` falls in).
    pub period_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
