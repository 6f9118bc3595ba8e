//! A shop run by a member: the future ActivityPub actor `@handle@domain`.

use sea_orm::entity::prelude::*;

/// A row of `shops`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shops")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub handle: String,
    pub owner_id: i32,
    pub display_name: String,
    pub bio: String,
    pub avatar_file: Option<String>,
    /// The shop's id URL, `https://domain/shops/handle`.
    #[sea_orm(unique)]
    pub ap_id: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
    pub created_at: DateTimeUtc,
    /// Follow requests wait for the owner's approval instead of being accepted at once.
    pub manually_approves_followers: bool,
    pub updated_at: DateTimeUtc,
    /// Orders wait for the owner to accept or decline them instead of being accepted on
    /// arrival (the stock is held meanwhile).
    pub accepts_orders_by_hand: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id"
    )]
    Owner,
    #[sea_orm(has_many = "super::listing::Entity")]
    Listing,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::listing::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Listing.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
