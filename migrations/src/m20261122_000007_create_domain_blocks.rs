//! Domains this node does not federate with (the admin's blocklist).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("domain_blocks")
                    .if_not_exists()
                    // `example.com` (it and its subdomains), `*.example.com` (subdomains only),
                    // or `host:port`; lower case, punycode
                    .col(string("domain").primary_key())
                    .col(text_null("reason"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("domain_blocks").to_owned())
            .await
    }
}
