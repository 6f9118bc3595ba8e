//! A tag of a catalog entry, for the tag filter.

use sea_orm::entity::prelude::*;

/// A row of `catalog_entry_tags`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_entry_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::catalog_entry::Entity",
        from = "Column::EntryId",
        to = "super::catalog_entry::Column::Id",
        on_delete = "Cascade"
    )]
    Entry,
}

impl Related<super::catalog_entry::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Entry.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
