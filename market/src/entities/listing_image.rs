//! A photo of a listing, stored under the media dir with a generated thumbnail.

use sea_orm::entity::prelude::*;

/// A row of `listing_images`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "listing_images")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub listing_id: String,
    pub position: i32,
    pub file_name: String,
    pub thumb_file_name: String,
    pub media_type: String,
    pub width: i32,
    pub height: i32,
    /// Required: shown to screen readers and sent as the attachment's `name`.
    pub alt_text: String,
    pub created_at: DateTimeUtc,
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
