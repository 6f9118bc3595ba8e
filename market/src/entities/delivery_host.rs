//! A host whose deliveries fail, and whether it is marked unavailable.

use sea_orm::entity::prelude::*;

/// A row of `delivery_hosts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_hosts")]
pub struct Model {
    /// Host (and port), as in `deliveries.host`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub host: String,
    /// Separate UTC days with a failed attempt since the host last answered.
    pub failure_days: i32,
    pub last_failure_at: DateTimeUtc,
    /// Set once the host has failed on enough separate days; its deliveries then wait.
    pub unavailable_since: Option<DateTimeUtc>,
    /// When one of its deliveries is next tried, to see whether it is back.
    pub next_probe_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
