//! What was voted on a proposal: an option and the hash of the voter's receipt code. No user,
//! no time (see `service::governance`).

use sea_orm::entity::prelude::*;

/// A row of `votes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "votes")]
pub struct Model {
    /// Random UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub proposal_id: String,
    /// Index into the proposal's options.
    pub option_index: i32,
    /// Hex SHA-256 of the receipt code.
    #[sea_orm(unique)]
    pub receipt_hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
