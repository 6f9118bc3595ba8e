//! Co-op governance: proposals, the two unlinked halves of a secret ballot (`ballots`: who
//! voted; `votes`: what was voted, with no user and no time), the governance audit log, and the
//! followers of the co-op's own actor (`/coop`), to whom proposals are published as `Question`s.
//!
//! `votes` is created by hand on SQLite as a `WITHOUT ROWID` table: its rows are then stored in
//! the order of their random id, not in insertion order, and there is no hidden rowid counting
//! them (see `market::service::governance` for what this does and does not protect).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("proposals")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    // `general`; `admission` (subject: a username) is added by membership.
                    .col(string("kind"))
                    .col(string_null("subject"))
                    .col(string("title"))
                    .col(text("body"))
                    // JSON array of option labels.
                    .col(text("options"))
                    .col(integer("quorum_bp"))
                    .col(integer("threshold_bp"))
                    // The proposer's username (`system` for proposals the node opens itself).
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("closes_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    // JSON: counts, cast, electorate, quorum_met, adopted, outcome.
                    .col(text_null("result"))
                    // Members counted at close.
                    .col(integer_null("electorate"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("proposals_open")
                    .table("proposals")
                    .col("closed_at")
                    .col("closes_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("ballots")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("proposal_id", 36))
                    .col(integer("user_id"))
                    .col(timestamp_with_time_zone("cast_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("ballots", "proposal_id")
                            .to("proposals", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("ballots", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One member one vote: a second ballot of the same member is refused by the database,
        // whatever the timing.
        manager
            .create_index(
                Index::create()
                    .name("ballots_one_per_member")
                    .table("ballots")
                    .col("proposal_id")
                    .col("user_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                manager
                    .get_connection()
                    .execute_unprepared(
                        "CREATE TABLE IF NOT EXISTS votes (
                            id varchar(36) NOT NULL PRIMARY KEY,
                            proposal_id varchar(36) NOT NULL
                                REFERENCES proposals (id) ON DELETE CASCADE,
                            option_index integer NOT NULL,
                            receipt_hash varchar(64) NOT NULL UNIQUE
                        ) WITHOUT ROWID",
                    )
                    .await?;
            }
            _ => {
                manager
                    .create_table(
                        Table::create()
                            .table("votes")
                            .if_not_exists()
                            // Random (UUID v4): says nothing about when or by whom.
                            .col(string_len("id", 36).primary_key())
                            .col(string_len("proposal_id", 36))
                            .col(integer("option_index"))
                            // Hex SHA-256 of the voter's receipt code; the code is never stored.
                            .col(string_len("receipt_hash", 64).unique_key())
                            .foreign_key(
                                ForeignKey::create()
                                    .from("votes", "proposal_id")
                                    .to("proposals", "id")
                                    .on_delete(ForeignKeyAction::Cascade),
                            )
                            .to_owned(),
                    )
                    .await?;
            }
        }
        manager
            .create_index(
                Index::create()
                    .name("votes_proposal")
                    .table("votes")
                    .col("proposal_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("governance_events")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    // A username, or `system`.
                    .col(string("actor"))
                    // proposal_created, vote_cast, proposal_closed, reply_ignored, ... (open).
                    .col(string("kind"))
                    .col(string_len_null("proposal_id", 36))
                    .col(text("detail"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("coop_followers")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("remote_actor_id").unique_key())
                    // The Follow's id, echoed in the Accept and matched by an Undo.
                    .col(string("follow_activity_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("coop_followers", "remote_actor_id")
                            .to("remote_actors", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "coop_followers",
            "governance_events",
            "votes",
            "ballots",
            "proposals",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
