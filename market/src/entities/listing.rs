//! A listing: something a shop offers, at an exact price, with a stock count.

use sea_orm::entity::prelude::*;

/// A row of `listings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "listings")]
pub struct Model {
    /// A UUID, also the last path segment of [`Model::ap_id`].
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub shop_id: i32,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub title: String,
    pub description_md: String,
    /// `description_md` rendered and sanitised once, when saved.
    pub description_html: String,
    /// The price in the currency's minor unit (cents, yen).
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    pub stock: i32,
    /// See [`Status`].
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Where a listing is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// On sale, stock above zero.
    Active,
    /// Still shown, but stock is zero; goes back to active when restocked.
    SoldOut,
    /// Taken down by its shop or an admin; final.
    Withdrawn,
}

impl Status {
    /// The stored and API spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::SoldOut => "sold_out",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// Read the stored spelling; anything unknown counts as withdrawn (never shown for sale).
    pub fn from_stored(value: &str) -> Self {
        match value {
            "active" => Status::Active,
            "sold_out" => Status::SoldOut,
            _ => Status::Withdrawn,
        }
    }

    /// The status that follows from a stock count for a listing that is not withdrawn.
    pub fn for_stock(stock: i32) -> Self {
        if stock > 0 {
            Status::Active
        } else {
            Status::SoldOut
        }
    }
}

impl Model {
    /// The parsed status.
    pub fn status(&self) -> Status {
        Status::from_stored(&self.status)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::shop::Entity",
        from = "Column::ShopId",
        to = "super::shop::Column::Id",
        on_delete = "Cascade"
    )]
    Shop,
    #[sea_orm(has_many = "super::listing_tag::Entity")]
    Tag,
    #[sea_orm(has_many = "super::listing_image::Entity")]
    Image,
}

impl Related<super::shop::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Shop.def()
    }
}

impl Related<super::listing_tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tag.def()
    }
}

impl Related<super::listing_image::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Image.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
