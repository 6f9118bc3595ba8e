//! A message between buyer and seller about an order (a private `Note` whose `context` is the
//! Agreement).

use sea_orm::entity::prelude::*;

/// A row of `order_messages`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub order_id: String,
    /// The Note's id: a message arriving twice is stored once.
    #[sea_orm(unique)]
    pub ap_id: String,
    /// `buyer` or `seller`.
    pub party: String,
    /// Plain text.
    pub content: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
