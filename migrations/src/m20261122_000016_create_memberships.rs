//! Membership of the co-op: each account's application, admission, share and leaving.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("memberships")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // One row per account: re-applying after a rejection or leaving reuses it
                    // (the governance log keeps the history).
                    .col(integer_uniq("user_id"))
                    // applied | active | rejected | left
                    .col(string_len("status", 16))
                    // Why the applicant wants to join (shown to whoever decides).
                    .col(text("statement"))
                    // The share paid on admission (refunded on leaving, per the bylaws).
                    .col(big_integer("share_minor"))
                    .col(string_len("currency", 3))
                    .col(timestamp_with_time_zone("applied_at"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    // `admin:{username}`, `vote:{proposal id}` or `founder`
                    .col(string_null("decided_by"))
                    // The admission vote, when the bylaws admit by vote.
                    .col(string_len_null("proposal_id", 36))
                    .col(timestamp_with_time_zone_null("left_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("memberships", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("memberships").to_owned())
            .await
    }
}
