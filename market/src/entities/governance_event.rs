//! An entry of the governance audit log.

use sea_orm::entity::prelude::*;

/// A row of `governance_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "governance_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub at: DateTimeUtc,
    /// A username, or `system`.
    pub actor: String,
    /// `proposal_created`, `vote_cast`, `proposal_closed`, `reply_ignored`, ...
    pub kind: String,
    pub proposal_id: Option<String>,
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
