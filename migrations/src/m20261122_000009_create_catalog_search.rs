//! Full-text search over the catalog: title, tags and description of every live entry.
//!
//! SQLite: an FTS5 table with external content (`catalog_entries` holds the text; the index
//! holds only tokens), kept in step by triggers. Tombstones (`deleted`) are left out of the
//! index, so a text search needs no join when it has no other filter; for that reason the index
//! must never be rebuilt with FTS5's `'rebuild'` command, which would index every row.
//!
//! PostgreSQL: a generated `tsvector` column (title weight A, tags B, description C) with a GIN
//! index over live entries. Both use a language-neutral configuration (FTS5 `unicode61`,
//! PostgreSQL `simple`): no stemming and no stop words, so every language is searched the same
//! way and the two backends agree.
//!
//! Plus partial indexes over live entries for the filters (node, shop, price, stock) and the
//! order (newest first) of searches, narrow enough to read instead of the rows.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE catalog_search USING fts5(
        title, description_text, tags_text,
        content='catalog_entries', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2',
        prefix='3'
    )",
    // An external-content index is told what to forget with the old values, exactly as they
    // were indexed (https://sqlite.org/fts5.html#external_content_tables).
    "CREATE TRIGGER catalog_search_insert AFTER INSERT ON catalog_entries
     WHEN NOT new.deleted BEGIN
        INSERT INTO catalog_search (rowid, title, description_text, tags_text)
        VALUES (new.id, new.title, new.description_text, new.tags_text);
     END",
    "CREATE TRIGGER catalog_search_delete AFTER DELETE ON catalog_entries
     WHEN NOT old.deleted BEGIN
        INSERT INTO catalog_search (catalog_search, rowid, title, description_text, tags_text)
        VALUES ('delete', old.id, old.title, old.description_text, old.tags_text);
     END",
    // Stock, price and thumbnail changes leave the index alone.
    "CREATE TRIGGER catalog_search_update
     AFTER UPDATE OF title, description_text, tags_text, deleted ON catalog_entries BEGIN
        INSERT INTO catalog_search (catalog_search, rowid, title, description_text, tags_text)
        SELECT 'delete', old.id, old.title, old.description_text, old.tags_text
        WHERE NOT old.deleted;
        INSERT INTO catalog_search (rowid, title, description_text, tags_text)
        SELECT new.id, new.title, new.description_text, new.tags_text
        WHERE NOT new.deleted;
     END",
    "INSERT INTO catalog_search (rowid, title, description_text, tags_text)
     SELECT id, title, description_text, tags_text FROM catalog_entries WHERE NOT deleted",
    // What a text search's filters check for each match, found by the match's id, and what a
    // tag's entries are sorted by: a narrow copy of those columns instead of the row.
    "CREATE INDEX idx_catalog_entries_live_facets ON catalog_entries
     (id, updated, stock, currency, price_minor, origin) WHERE NOT deleted",
    // Tombstones, to take them out of a tag's count; sold-out entries, to take them out of a
    // text search's matches.
    "CREATE INDEX idx_catalog_entries_tombstones ON catalog_entries (id) WHERE deleted",
    "CREATE INDEX idx_catalog_entries_sold_out ON catalog_entries (id)
     WHERE stock <= 0 AND NOT deleted",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_catalog_entries_sold_out",
    "DROP INDEX IF EXISTS idx_catalog_entries_tombstones",
    "DROP INDEX IF EXISTS idx_catalog_entries_live_facets",
    "DROP TRIGGER IF EXISTS catalog_search_update",
    "DROP TRIGGER IF EXISTS catalog_search_delete",
    "DROP TRIGGER IF EXISTS catalog_search_insert",
    "DROP TABLE IF EXISTS catalog_search",
];

const POSTGRES_UP: &[&str] = &[
    // `to_tsvector(regconfig, text)` is immutable, as a generated column requires.
    "ALTER TABLE catalog_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A') ||
        setweight(to_tsvector('simple'::regconfig, tags_text), 'B') ||
        setweight(to_tsvector('simple'::regconfig, description_text), 'C')
    ) STORED",
    "CREATE INDEX idx_catalog_entries_search ON catalog_entries USING GIN (search_vector)
     WHERE NOT deleted",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_catalog_entries_search",
    "ALTER TABLE catalog_entries DROP COLUMN IF EXISTS search_vector",
];

/// Both backends: partial indexes over live entries that hold every column a search without
/// words filters on, so counting and ordering read them and not the (large) rows: newest
/// first, by node (and shop), by price in one currency.
const COMMON_UP: &[&str] = &[
    "CREATE INDEX idx_catalog_entries_live_updated ON catalog_entries (updated, id, stock)
     WHERE NOT deleted",
    "CREATE INDEX idx_catalog_entries_live_origin ON catalog_entries
     (origin, shop_handle, updated, id, stock, currency, price_minor) WHERE NOT deleted",
    "CREATE INDEX idx_catalog_entries_live_price ON catalog_entries
     (currency, price_minor, updated, id, stock) WHERE NOT deleted",
];

const COMMON_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_catalog_entries_live_price",
    "DROP INDEX IF EXISTS idx_catalog_entries_live_origin",
    "DROP INDEX IF EXISTS idx_catalog_entries_live_updated",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => run(manager, SQLITE_UP).await?,
            DatabaseBackend::Postgres => run(manager, POSTGRES_UP).await?,
            other => {
                return Err(DbErr::Migration(format!(
                    "catalog search is not written for {other:?}"
                )));
            }
        }
        run(manager, COMMON_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, COMMON_DOWN).await?;
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => run(manager, SQLITE_DOWN).await,
            DatabaseBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => Ok(()),
        }
    }
}
