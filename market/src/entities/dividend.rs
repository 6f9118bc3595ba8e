//! A member's patronage dividend for a closed period, in one currency.

use sea_orm::entity::prelude::*;

/// A row of `dividends`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dividends")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub period_id: i32,
    pub user_id: i32,
    pub username: String,
    pub currency: String,
    /// The member's patronage in the period: sales in minor units, or a number of orders
    /// (the period's `patronage_measure`).
    pub patronage: i64,
    pub dividend_minor: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
