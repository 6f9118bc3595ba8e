//! What a shop tells its buyers at checkout: how to pay (payment happens outside the node) and
//! how it ships (options with a price and the regions they reach, or pickup).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("shop_checkout")
                    .if_not_exists()
                    .col(integer("shop_id").primary_key())
                    .col(text("payment_instructions"))
                    // JSON array of shipping options (see `service::checkout`)
                    .col(text("shipping_options"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("shop_checkout", "shop_id")
                            .to("shops", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("shop_checkout").to_owned())
            .await
    }
}
