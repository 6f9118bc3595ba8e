//! A shop's checkout settings: payment instructions and shipping options.

use sea_orm::entity::prelude::*;

/// A row of `shop_checkout`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shop_checkout")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: i32,
    /// Plain text shown to a buyer once the shop accepts an order.
    pub payment_instructions: String,
    /// JSON array of `service::checkout::ShippingOption`.
    pub shipping_options: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
