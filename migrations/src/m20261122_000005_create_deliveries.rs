//! The durable delivery queue: each activity we send, serialised once, and one row per target
//! inbox with its retry state.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("outbox_activities")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_uniq("activity_id"))
                    // the actor whose key signs it (a shop, or the instance actor)
                    .col(string("actor_id"))
                    // the JSON-LD body, exactly as it is sent
                    .col(text("body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deliveries")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("outbox_activity_id"))
                    .col(string("inbox"))
                    .col(string("host"))
                    // "pending", "done" or "failed" (gave up)
                    .col(string_len("state", 16))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    // a worker holds the row until then; after a crash the lease runs out
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-deliveries-outbox_activity_id")
                            .from("deliveries", "outbox_activity_id")
                            .to("outbox_activities", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-deliveries-activity-inbox")
                    .table("deliveries")
                    .col("outbox_activity_id")
                    .col("inbox")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-deliveries-state-next_attempt_at")
                    .table("deliveries")
                    .col("state")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("deliveries").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("outbox_activities").to_owned())
            .await
    }
}
