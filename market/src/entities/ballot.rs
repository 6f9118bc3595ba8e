//! That a member voted on a proposal (never what they voted: that is a [`super::vote`] row,
//! with nothing linking the two).

use sea_orm::entity::prelude::*;

/// A row of `ballots`: unique per (proposal, user).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ballots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub proposal_id: String,
    pub user_id: i32,
    pub cast_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
