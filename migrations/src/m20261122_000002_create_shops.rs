//! Shops: each one is a future ActivityPub actor, so it carries its id URL and RSA key pair.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("shops")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len_uniq("handle", 30))
                    .col(integer("owner_id"))
                    .col(string_len("display_name", 100))
                    .col(text("bio"))
                    .col(string_len_null("avatar_file", 100))
                    .col(string_uniq("ap_id"))
                    // PKCS#8 and SPKI PEM
                    .col(text("private_key_pem"))
                    .col(text("public_key_pem"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk-shops-owner_id")
                            .from("shops", "owner_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-shops-owner_id")
                    .table("shops")
                    .col("owner_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("shops").to_owned())
            .await
    }
}
