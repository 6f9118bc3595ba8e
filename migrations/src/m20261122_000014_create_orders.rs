//! Orders (FEP-0837 Agreements) with their timeline, messages and the notifications they raise,
//! and the keys of buyers' actors (made the first time a user orders from another node).
//!
//! One row of `orders` per order on each node that takes part: the buyer's node holds the
//! buyer's copy, the seller's node the seller's; an order inside one node is one row with both
//! sides local.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("user_keys")
                    .if_not_exists()
                    .col(integer("user_id").primary_key())
                    .col(text("public_key_pem"))
                    .col(text("private_key_pem"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("user_keys", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("orders")
                    .if_not_exists()
                    // Our own id for the order (UUID): pages, API and CLI use it.
                    .col(string_len("id", 36).primary_key())
                    // The Agreement's id, minted by the seller's node; null until accepted.
                    .col(string_null("agreement_id").unique_key())
                    // The buyer's Offer activity: answers refer to it.
                    .col(string("offer_id").unique_key())
                    .col(string("state"))
                    .col(string("buyer_actor"))
                    .col(string("buyer_inbox"))
                    .col(string("buyer_name"))
                    .col(integer_null("buyer_user_id"))
                    .col(string("shop_actor"))
                    .col(string("shop_inbox"))
                    .col(string("shop_name"))
                    .col(integer_null("shop_id"))
                    // The Proposal ordered from, and our listing when the shop is ours.
                    .col(string("proposal_id"))
                    .col(string_null("listing_id"))
                    .col(string("title"))
                    .col(integer("quantity"))
                    .col(string_len("currency", 3))
                    .col(big_integer("unit_price_minor"))
                    .col(big_integer("items_minor"))
                    .col(big_integer("shipping_minor"))
                    .col(big_integer("total_minor"))
                    .col(string("shipping_option_id"))
                    .col(string("shipping_name"))
                    .col(boolean("pickup"))
                    // JSON; only the two parties' nodes ever hold it.
                    .col(text_null("address"))
                    .col(text("payment_instructions"))
                    .col(string_null("payment_url"))
                    .col(text_null("reason"))
                    .col(timestamp_with_time_zone_null("paid_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("orders", "buyer_user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("orders", "shop_id")
                            .to("shops", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("orders_buyer_user")
                    .table("orders")
                    .col("buyer_user_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("orders_shop")
                    .table("orders")
                    .col("shop_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("order_events")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("order_id", 36))
                    // `state` (a transition) or `message`
                    .col(string("kind"))
                    .col(string("state"))
                    // buyer | seller
                    .col(string("party"))
                    .col(text_null("note"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("order_events", "order_id")
                            .to("orders", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_events_order")
                    .table("order_events")
                    .col("order_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("order_messages")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("order_id", 36))
                    .col(string("ap_id").unique_key())
                    // buyer | seller
                    .col(string("party"))
                    .col(text("content"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("order_messages", "order_id")
                            .to("orders", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("order_messages_order")
                    .table("order_messages")
                    .col("order_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("user_id"))
                    .col(string_len_null("order_id", 36))
                    .col(string("kind"))
                    .col(text("text"))
                    .col(boolean("read"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("notifications", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("notifications", "order_id")
                            .to("orders", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notifications_user")
                    .table("notifications")
                    .col("user_id")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "notifications",
            "order_messages",
            "order_events",
            "orders",
            "user_keys",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
