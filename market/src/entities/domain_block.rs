//! A blocked domain.

use sea_orm::entity::prelude::*;

/// A row of `domain_blocks`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "domain_blocks")]
pub struct Model {
    /// The pattern, normalised (see `service::domains`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain: String,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
