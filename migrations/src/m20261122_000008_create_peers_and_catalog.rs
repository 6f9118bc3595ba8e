//! Peer co-op nodes (federation agreements and catalog sync state) and the catalog of every
//! listing this node knows, its own and its peers', as search reads it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("peers")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // `host` or `host:port`, lower case
                    .col(string_uniq("domain"))
                    .col(string("base_url"))
                    .col(string_null("actor_id"))
                    .col(string_null("inbox"))
                    .col(string_null("catalog_url"))
                    // our Follow of their instance actor: none, pending, accepted, rejected
                    .col(string("outgoing"))
                    .col(string_null("follow_activity_id"))
                    // their Follow of ours: none, requested, accepted
                    .col(string("incoming"))
                    .col(string_null("incoming_follow_id"))
                    .col(string_null("incoming_actor_id"))
                    // approved by our admin: in allowlist mode, only approved domains federate
                    .col(boolean("approved"))
                    // the next catalog page to read (resume point, then the catch-up point)
                    .col(text_null("cursor"))
                    .col(boolean("backfilled"))
                    .col(big_integer("pages_read"))
                    .col(big_integer("items_read"))
                    .col(big_integer_null("total_items"))
                    .col(timestamp_with_time_zone_null("synced_at"))
                    .col(text_null("last_error"))
                    .col(string_null("sync_locked_by"))
                    .col(timestamp_with_time_zone_null("sync_locked_until"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("catalog_entries")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // the Proposal's id
                    .col(string_uniq("object_id"))
                    // the listing's Note and page
                    .col(string("url"))
                    // set for this node's own listings
                    .col(string_null("listing_id"))
                    // the node it comes from: `host` or `host:port`
                    .col(string("origin"))
                    .col(string("shop_id"))
                    .col(string("shop_name"))
                    .col(string("shop_handle"))
                    .col(string("title"))
                    .col(text("description_html"))
                    .col(text("description_text"))
                    // JSON array, in the seller's order
                    .col(text("tags"))
                    // the same, space-separated, for full-text search
                    .col(text("tags_text"))
                    // decimal string, as the origin sent it
                    .col(string("price"))
                    .col(big_integer("price_minor"))
                    .col(string("currency"))
                    .col(integer("stock"))
                    // JSON array of images (see `service::catalog::CatalogImage`)
                    .col(text("images"))
                    // some image has no thumbnail of ours yet
                    .col(boolean("thumbs_pending"))
                    .col(timestamp_with_time_zone("published"))
                    .col(timestamp_with_time_zone("updated"))
                    .col(boolean("deleted"))
                    .col(timestamp_with_time_zone("received_at"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_catalog_entries_origin", vec!["origin"]),
            ("idx_catalog_entries_url", vec!["url"]),
            ("idx_catalog_entries_listing", vec!["listing_id"]),
            ("idx_catalog_entries_shop", vec!["shop_id"]),
            ("idx_catalog_entries_price", vec!["currency", "price_minor"]),
            ("idx_catalog_entries_updated", vec!["updated", "id"]),
            ("idx_catalog_entries_thumbs", vec!["thumbs_pending"]),
        ] {
            let mut index = Index::create();
            index.name(name).table("catalog_entries").if_not_exists();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("catalog_entry_tags")
                    .if_not_exists()
                    .col(integer("entry_id"))
                    .col(string("tag"))
                    .primary_key(Index::create().col("entry_id").col("tag"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("catalog_entry_tags", "entry_id")
                            .to("catalog_entries", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_catalog_entry_tags_tag")
                    .table("catalog_entry_tags")
                    .col("tag")
                    .col("entry_id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["catalog_entry_tags", "catalog_entries", "peers"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
