//! PostgreSQL's catalog search folds accents, as SQLite's FTS5 (`remove_diacritics 2`) already
//! does, and keeps its index in a narrow table of its own. SQLite is left as it is.
//!
//! Folding: a text search configuration `tianguis_search`, a copy of `simple` whose words pass
//! through the `unaccent` dictionary first (the recipe in the PostgreSQL manual,
//! https://www.postgresql.org/docs/current/unaccent.html), so "Cerámica", "CERÁMICA" and
//! "ceramica" all become `ceramica`, in the index and in the query alike. `unaccent` ships with
//! PostgreSQL (contrib) and is a trusted extension: the database's owner may create it.
//! `to_tsvector(regconfig, text)` stays immutable.
//!
//! The narrow table: ranking a text search reads the `tsvector` of every match, and as a
//! generated column of `catalog_entries` it sat in rows five times its size (descriptions
//! twice, images), so a word in 13,500 entries read 9,900 pages. `catalog_search` holds only
//! the id and the vector of each live entry (like SQLite's FTS5 table, tombstones are left
//! out), kept in step by triggers; an entry's deletion removes its row by cascade.
//!
//! Plus, as on SQLite, partial indexes of tombstones (to count a tag's live entries from the
//! tag's index) and of sold-out entries (to take them out of a text search's matches).

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION tianguis_search (COPY = pg_catalog.simple)",
    // Only the token types that may hold letters beyond ASCII; the rest are as in `simple`.
    "ALTER TEXT SEARCH CONFIGURATION tianguis_search
     ALTER MAPPING FOR word, numword, hword, numhword, hword_part, hword_numpart
     WITH unaccent, simple",
    "DROP INDEX IF EXISTS idx_catalog_entries_search",
    "ALTER TABLE catalog_entries DROP COLUMN IF EXISTS search_vector",
    "CREATE TABLE catalog_search (
        id integer PRIMARY KEY REFERENCES catalog_entries (id) ON DELETE CASCADE,
        vector tsvector NOT NULL
    )",
    // Title weight A, tags B, description C, in that order: `ts_rank` depends on it.
    "CREATE FUNCTION catalog_search_vector(title text, tags_text text, description_text text)
     RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT
        setweight(to_tsvector('tianguis_search'::regconfig, title), 'A') ||
        setweight(to_tsvector('tianguis_search'::regconfig, tags_text), 'B') ||
        setweight(to_tsvector('tianguis_search'::regconfig, description_text), 'C')
     $$",
    "CREATE FUNCTION catalog_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        IF NEW.deleted THEN
            DELETE FROM catalog_search WHERE id = NEW.id;
        ELSE
            INSERT INTO catalog_search (id, vector)
            VALUES (NEW.id,
                    catalog_search_vector(NEW.title, NEW.tags_text, NEW.description_text))
            ON CONFLICT (id) DO UPDATE SET vector = EXCLUDED.vector;
        END IF;
        RETURN NULL;
     END
     $$",
    "CREATE TRIGGER catalog_search_insert AFTER INSERT ON catalog_entries
     FOR EACH ROW WHEN (NOT NEW.deleted) EXECUTE FUNCTION catalog_search_sync()",
    // Stock, price and thumbnail changes leave the index alone.
    "CREATE TRIGGER catalog_search_update
     AFTER UPDATE OF title, description_text, tags_text, deleted ON catalog_entries
     FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title
        OR OLD.description_text IS DISTINCT FROM NEW.description_text
        OR OLD.tags_text IS DISTINCT FROM NEW.tags_text
        OR OLD.deleted IS DISTINCT FROM NEW.deleted)
     EXECUTE FUNCTION catalog_search_sync()",
    "INSERT INTO catalog_search (id, vector)
     SELECT id, catalog_search_vector(title, tags_text, description_text)
     FROM catalog_entries WHERE NOT deleted",
    "CREATE INDEX idx_catalog_search_vector ON catalog_search USING GIN (vector)",
    "CREATE INDEX idx_catalog_entries_tombstones ON catalog_entries (id) WHERE deleted",
    "CREATE INDEX idx_catalog_entries_sold_out ON catalog_entries (id)
     WHERE stock <= 0 AND NOT deleted",
];

/// Back to the generated column of `m20261122_000009_create_catalog_search`. The `unaccent`
/// extension stays: something else may have come to use it.
const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_catalog_entries_sold_out",
    "DROP INDEX IF EXISTS idx_catalog_entries_tombstones",
    "DROP TRIGGER IF EXISTS catalog_search_update ON catalog_entries",
    "DROP TRIGGER IF EXISTS catalog_search_insert ON catalog_entries",
    "DROP FUNCTION IF EXISTS catalog_search_sync()",
    "DROP TABLE IF EXISTS catalog_search",
    "DROP FUNCTION IF EXISTS catalog_search_vector(text, text, text)",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS tianguis_search",
    "ALTER TABLE catalog_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A') ||
        setweight(to_tsvector('simple'::regconfig, tags_text), 'B') ||
        setweight(to_tsvector('simple'::regconfig, description_text), 'C')
    ) STORED",
    "CREATE INDEX idx_catalog_entries_search ON catalog_entries USING GIN (search_vector)
     WHERE NOT deleted",
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
            DatabaseBackend::Postgres => run(manager, POSTGRES_UP).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => Ok(()),
        }
    }
}
