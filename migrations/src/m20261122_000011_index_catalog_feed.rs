//! The catalog feed (`/catalog`) pages listings by (last change, id): an index on exactly that
//! makes every page a range read instead of a scan and sort of every listing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_listings_feed")
                    .table("listings")
                    .col("updated_at")
                    .col("id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_listings_feed")
                    .table("listings")
                    .to_owned(),
            )
            .await
    }
}
