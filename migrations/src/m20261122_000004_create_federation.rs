//! Federation state: remote actors, shop followers, received activity ids (dedup), the node's own
//! key pair (instance actor), and the outbox of listing events waiting to be federated.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("shops")
                    .add_column(boolean("manually_approves_followers").default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("remote_actors")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_uniq("ap_id"))
                    .col(string_len("actor_type", 32))
                    .col(string_len_null("preferred_username", 100))
                    // plain text: remote HTML is stripped before it is stored
                    .col(text("name"))
                    .col(string("inbox"))
                    .col(string_null("shared_inbox"))
                    .col(text("public_key_pem"))
                    .col(string("domain"))
                    .col(timestamp_with_time_zone("last_refreshed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("follows")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("shop_id"))
                    .col(integer("remote_actor_id"))
                    // the id of the Follow activity, echoed in our Accept
                    .col(string("follow_activity_id"))
                    // "pending" or "accepted"
                    .col(string_len("state", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-follows-shop_id")
                            .from("follows", "shop_id")
                            .to("shops", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-follows-remote_actor_id")
                            .from("follows", "remote_actor_id")
                            .to("remote_actors", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-follows-shop_id-remote_actor_id")
                    .table("follows")
                    .col("shop_id")
                    .col("remote_actor_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("received_activities")
                    .if_not_exists()
                    .col(string("ap_id").primary_key())
                    .col(timestamp_with_time_zone("received_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("instance_keys")
                    .if_not_exists()
                    // always 1: the node has one key pair, for its instance actor
                    .col(integer("id").primary_key())
                    .col(text("private_key_pem"))
                    .col(text("public_key_pem"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("federation_events")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // the id the activity will carry, fixed when the change commits
                    .col(string_uniq("activity_id"))
                    // "create", "update" or "delete"
                    .col(string_len("kind", 16))
                    .col(string_len("listing_id", 36))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("processed_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-federation_events-listing_id")
                            .from("federation_events", "listing_id")
                            .to("listings", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-federation_events-processed_at")
                    .table("federation_events")
                    .col("processed_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "federation_events",
            "instance_keys",
            "received_activities",
            "follows",
            "remote_actors",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("shops")
                    .drop_column("manually_approves_followers")
                    .to_owned(),
            )
            .await
    }
}
