//! A shop may answer each order by hand instead of letting its node accept it on arrival
//! (made-to-order work, one-off pieces, a seller who checks before promising).

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
                    .add_column(boolean("accepts_orders_by_hand").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("shops")
                    .drop_column("accepts_orders_by_hand")
                    .to_owned(),
            )
            .await
    }
}
