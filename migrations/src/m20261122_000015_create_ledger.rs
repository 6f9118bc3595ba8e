//! The co-op's double-entry ledger: journal entries, each with lines whose debits equal their
//! credits (checked by `market::service::ledger` before anything is written).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("ledger_entries")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // sale | cost | ...
                    .col(string("kind"))
                    // The order a sale belongs to: booked once.
                    .col(string_len_null("order_id", 36).unique_key())
                    .col(string_len("currency", 3))
                    .col(text("memo"))
                    .col(timestamp_with_time_zone("booked_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ledger_lines")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("entry_id"))
                    // `assets:cash`, `liabilities:seller_payable:pottery`, ...
                    .col(string("account"))
                    .col(big_integer("debit_minor"))
                    .col(big_integer("credit_minor"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("ledger_lines", "entry_id")
                            .to("ledger_entries", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ledger_lines_account")
                    .table("ledger_lines")
                    .col("account")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ledger_lines_entry")
                    .table("ledger_lines")
                    .col("entry_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("ledger_lines").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("ledger_entries").to_owned())
            .await
    }
}
