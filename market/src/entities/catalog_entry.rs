//! A listing in the federated catalog: one of ours, or one copied from a peer node. What search
//! and the catalog pages read.

use sea_orm::entity::prelude::*;

/// A row of `catalog_entries`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The FEP-0837 Proposal's id.
    #[sea_orm(unique)]
    pub object_id: String,
    /// The listing's page (and `Note`).
    pub url: String,
    /// Our listing's id, for our own listings.
    pub listing_id: Option<String>,
    /// The node it comes from (`host` or `host:port`).
    pub origin: String,
    /// The shop actor's id.
    pub shop_id: String,
    pub shop_name: String,
    pub shop_handle: String,
    pub title: String,
    /// Sanitised HTML.
    pub description_html: String,
    /// The description as plain text, for search.
    pub description_text: String,
    /// JSON array of tags (lower case, without `#`), in the seller's order.
    pub tags: String,
    /// The tags, space-separated.
    pub tags_text: String,
    /// Decimal string with the currency's decimals.
    pub price: String,
    pub price_minor: i64,
    /// ISO 4217.
    pub currency: String,
    pub stock: i32,
    /// JSON array of `service::catalog::CatalogImage`.
    pub images: String,
    /// Some image has no thumbnail of ours yet (see `federation::media`).
    pub thumbs_pending: bool,
    pub published: DateTimeUtc,
    /// The origin's `updated`: an older version never replaces a newer one.
    pub updated: DateTimeUtc,
    /// Withdrawn at the origin (kept, so a late `Update` cannot bring it back).
    pub deleted: bool,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::catalog_entry_tag::Entity")]
    Tag,
}

impl Related<super::catalog_entry_tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tag.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
