//! Hosts that keep failing: on how many separate days, and whether they are marked unavailable
//! (their deliveries wait, untried but for a periodic probe, until they answer again). And the
//! delivery workers that are alive: each claim records its worker, and a worker that stopped
//! beating (killed) loses its leases at once instead of when they run out.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("delivery_hosts")
                    .if_not_exists()
                    .col(string("host").primary_key())
                    // separate UTC days with at least one failed attempt since the last success
                    .col(integer("failure_days").default(0))
                    .col(timestamp_with_time_zone("last_failure_at"))
                    .col(timestamp_with_time_zone_null("unavailable_since"))
                    // when an unavailable host is next tried with one delivery
                    .col(timestamp_with_time_zone_null("next_probe_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("delivery_workers")
                    .if_not_exists()
                    // one id per running process
                    .col(string("id").primary_key())
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("heartbeat_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("deliveries")
                    .add_column(string_null("locked_by"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("deliveries")
                    .drop_column("locked_by")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("delivery_workers").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("delivery_hosts").to_owned())
            .await
    }
}
