//! Accounts (`users`) and their API tokens.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("users")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len_uniq("username", 30))
                    // argon2id PHC string
                    .col(string("password_hash"))
                    // "member" or "admin"
                    .col(string_len("role", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("api_tokens")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("user_id"))
                    // SHA-256 of the token, hex: the token itself is never stored
                    .col(string_len_uniq("token_hash", 64))
                    .col(string_len("label", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-api_tokens-user_id")
                            .from("api_tokens", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("api_tokens").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("users").to_owned())
            .await
    }
}
