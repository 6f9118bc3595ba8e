//! Listings, their tags and their images.
//!
//! Prices are stored as an integer count of the currency's minor unit (`price_minor`) beside the
//! ISO 4217 code: exact on both backends, where SQLite has no decimal type.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("listings")
                    .if_not_exists()
                    // a UUID, also the last segment of the listing's URL
                    .col(string_len("id", 36).primary_key())
                    .col(integer("shop_id"))
                    .col(string_uniq("ap_id"))
                    .col(string_len("title", 200))
                    .col(text("description_md"))
                    .col(text("description_html"))
                    .col(big_integer("price_minor"))
                    .col(char_len("currency", 3))
                    .col(integer("stock"))
                    // "active", "sold_out" or "withdrawn"
                    .col(string_len("status", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-listings-shop_id")
                            .from("listings", "shop_id")
                            .to("shops", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-listings-shop_id-created_at")
                    .table("listings")
                    .col("shop_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-listings-status-created_at")
                    .table("listings")
                    .col("status")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("listing_tags")
                    .if_not_exists()
                    .col(string_len("listing_id", 36))
                    .col(string_len("tag", 64))
                    .col(integer("position"))
                    .primary_key(Index::create().col("listing_id").col("tag"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-listing_tags-listing_id")
                            .from("listing_tags", "listing_id")
                            .to("listings", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-listing_tags-tag")
                    .table("listing_tags")
                    .col("tag")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("listing_images")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("listing_id", 36))
                    .col(integer("position"))
                    .col(string_len("file_name", 100))
                    .col(string_len("thumb_file_name", 100))
                    .col(string_len("media_type", 32))
                    .col(integer("width"))
                    .col(integer("height"))
                    .col(text("alt_text"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-listing_images-listing_id")
                            .from("listing_images", "listing_id")
                            .to("listings", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-listing_images-listing_id")
                    .table("listing_images")
                    .col("listing_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["listing_images", "listing_tags", "listings"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
