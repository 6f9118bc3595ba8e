//! One line of a journal entry: an account debited or credited.

use sea_orm::entity::prelude::*;

/// A row of `ledger_lines`. Exactly one of debit and credit is above zero.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub entry_id: i32,
    pub account: String,
    pub debit_minor: i64,
    pub credit_minor: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
