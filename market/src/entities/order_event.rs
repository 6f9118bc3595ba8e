//! One step of an order's timeline: a state change or a message, and by which party.

use sea_orm::entity::prelude::*;

/// A row of `order_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub order_id: String,
    /// `state` or `message`.
    pub kind: String,
    /// The state the order was in after the event.
    pub state: String,
    /// `buyer` or `seller`.
    pub party: String,
    /// A reason (rejection, cancellation) or a message's text.
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
