//! Whether an order holds items of its listing's stock: set in the transaction that takes them,
//! cleared in the one that gives them back, so stock is only ever given back by an order that
//! took it, and only once.
//!
//! Rows written before this column: the shop's copy of an order that is accepted, paid, shipped,
//! delivered or completed took its items. One that is `offered` took them if the node held it for
//! the shop's answer; an `offered` order placed by one of our users with one of our shops that
//! the node never answered (the client went away between recording the order and answering it)
//! took nothing: those are the rows without the notification the answer writes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("orders")
                    .add_column(boolean("holds_stock").default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE orders SET holds_stock = TRUE \
                 WHERE shop_id IS NOT NULL AND listing_id IS NOT NULL \
                 AND (state IN ('accepted', 'paid', 'shipped', 'delivered', 'completed') \
                      OR (state = 'offered' AND (buyer_user_id IS NULL OR EXISTS \
                          (SELECT 1 FROM notifications n WHERE n.order_id = orders.id))))",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("orders")
                    .drop_column("holds_stock")
                    .to_owned(),
            )
            .await
    }
}
