//! The id of an activity already received, so a replay has no second effect.

use sea_orm::entity::prelude::*;

/// A row of `received_activities`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "received_activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ap_id: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
