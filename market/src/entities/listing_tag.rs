//! A hashtag on a listing.

use sea_orm::entity::prelude::*;

/// A row of `listing_tags`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "listing_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub listing_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
    /// Order in which the seller gave the tags.
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::listing::Entity",
        from = "Column::ListingId",
        to = "super::listing::Column::Id",
        on_delete = "Cascade"
    )]
    Listing,
}

impl Related<super::listing::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Listing.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
