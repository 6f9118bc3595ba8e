//! An order: this node's copy of an FEP-0837 Agreement between a buyer and a shop.

use sea_orm::entity::prelude::*;

/// A row of `orders`. Money is in minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    /// Our own id (UUID) for pages, API and CLI.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The Agreement's id, minted by the seller's node once it accepts.
    #[sea_orm(unique)]
    pub agreement_id: Option<String>,
    /// The buyer's `Offer`: the seller's answer refers to it.
    #[sea_orm(unique)]
    pub offer_id: String,
    /// See `service::orders::State`.
    pub state: String,
    pub buyer_actor: String,
    pub buyer_inbox: String,
    /// `user@domain`, for display.
    pub buyer_name: String,
    /// Set when the buyer is one of our users.
    pub buyer_user_id: Option<i32>,
    pub shop_actor: String,
    pub shop_inbox: String,
    /// `shop@domain`, for display.
    pub shop_name: String,
    /// Set when the shop is ours.
    pub shop_id: Option<i32>,
    pub proposal_id: String,
    /// Our listing, when the shop is ours.
    pub listing_id: Option<String>,
    pub title: String,
    pub quantity: i32,
    pub currency: String,
    pub unit_price_minor: i64,
    pub items_minor: i64,
    pub shipping_minor: i64,
    pub total_minor: i64,
    pub shipping_option_id: String,
    pub shipping_name: String,
    pub pickup: bool,
    /// The shipping address as JSON (`service::orders::Address`); none for pickup.
    pub address: Option<String>,
    pub payment_instructions: String,
    pub payment_url: Option<String>,
    /// Why it was rejected or cancelled.
    pub reason: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    /// The shop's copy only: the order took `quantity` items of its listing's stock and has not
    /// given them back (see the stock rule in `service::orders`).
    pub holds_stock: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
