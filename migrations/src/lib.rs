//! Database migrations for Tianguis, one file per change, named `mYYYYMMDD_NNNNNN_verb_noun.rs`.
//!
//! The same migrations run on SQLite (the embedded default) and PostgreSQL. This crate depends on
//! nothing of ours: a migration that has been applied is history and must never change, so it may
//! not borrow entity types that keep evolving in `market`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_accounts;
mod m20261122_000002_create_shops;
mod m20261122_000003_create_listings;
mod m20261122_000004_create_federation;
mod m20261122_000005_create_deliveries;
mod m20261122_000006_create_delivery_hosts_and_workers;
mod m20261122_000007_create_domain_blocks;
mod m20261122_000008_create_peers_and_catalog;
mod m20261122_000009_create_catalog_search;
mod m20261122_000010_fold_accents_in_search;
mod m20261122_000011_index_catalog_feed;
mod m20261122_000012_add_email_to_users;
mod m20261122_000013_create_shop_checkout;
mod m20261122_000014_create_orders;
mod m20261122_000015_create_ledger;
mod m20261122_000016_create_memberships;
mod m20261122_000017_create_fiscal_periods;
mod m20261122_000018_create_governance;
mod m20261122_000019_add_orders_by_hand_to_shops;
mod m20261207_000001_add_holds_stock_to_orders;

/// Every migration, in the order it is applied.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_accounts::Migration),
            Box::new(m20261122_000002_create_shops::Migration),
            Box::new(m20261122_000003_create_listings::Migration),
            Box::new(m20261122_000004_create_federation::Migration),
            Box::new(m20261122_000005_create_deliveries::Migration),
            Box::new(m20261122_000006_create_delivery_hosts_and_workers::Migration),
            Box::new(m20261122_000007_create_domain_blocks::Migration),
            Box::new(m20261122_000008_create_peers_and_catalog::Migration),
            Box::new(m20261122_000009_create_catalog_search::Migration),
            Box::new(m20261122_000010_fold_accents_in_search::Migration),
            Box::new(m20261122_000011_index_catalog_feed::Migration),
            Box::new(m20261122_000012_add_email_to_users::Migration),
            Box::new(m20261122_000013_create_shop_checkout::Migration),
            Box::new(m20261122_000014_create_orders::Migration),
            Box::new(m20261122_000015_create_ledger::Migration),
            Box::new(m20261122_000016_create_memberships::Migration),
            Box::new(m20261122_000017_create_fiscal_periods::Migration),
            Box::new(m20261122_000018_create_governance::Migration),
            Box::new(m20261122_000019_add_orders_by_hand_to_shops::Migration),
            Box::new(m20261207_000001_add_holds_stock_to_orders::Migration),
        ]
    }
}
