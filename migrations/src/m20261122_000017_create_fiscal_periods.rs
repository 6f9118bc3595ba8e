//! Fiscal periods: closing one computes its surplus, allocates it (reserve, patronage
//! dividends) with a closing ledger entry per currency, and keeps each member's dividend.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("fiscal_periods")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len_uniq("label", 40))
                    // Entries booked after starts_at and at or before ends_at belong to it.
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .col(timestamp_with_time_zone("closed_at"))
                    .col(string("closed_by"))
                    // The bylaws applied, kept with the period (they may change later).
                    .col(integer("reserve_bp"))
                    .col(integer("patronage_bp"))
                    .col(string_len("patronage_measure", 16))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("dividends")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("period_id"))
                    .col(integer("user_id"))
                    .col(string_len("username", 30))
                    .col(string_len("currency", 3))
                    // The member's patronage: sales in minor units, or a number of orders.
                    .col(big_integer("patronage"))
                    .col(big_integer("dividend_minor"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("dividends", "period_id")
                            .to("fiscal_periods", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("dividends_period_user_currency")
                    .table("dividends")
                    .col("period_id")
                    .col("user_id")
                    .col("currency")
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The closing entries of a period point at it.
        manager
            .alter_table(
                Table::alter()
                    .table("ledger_entries")
                    .add_column(integer_null("period_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ledger_entries_booked_at")
                    .table("ledger_entries")
                    .col("booked_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ledger_entries_booked_at")
                    .table("ledger_entries")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("ledger_entries")
                    .drop_column("period_id")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("dividends").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("fiscal_periods").to_owned())
            .await
    }
}
