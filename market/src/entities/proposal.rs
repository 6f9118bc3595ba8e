//! A proposal the co-op's members vote on.

use sea_orm::entity::prelude::*;

/// A row of `proposals`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposals")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `general`, or another kind a later feature acts on at close (`admission`).
    pub kind: String,
    /// What the proposal is about, for kinds that have one (the applicant's username).
    pub subject: Option<String>,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// JSON array of the option labels.
    pub options: String,
    pub quorum_bp: i32,
    pub threshold_bp: i32,
    /// The proposer's username, or `system`.
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    /// Null while open.
    pub closed_at: Option<DateTimeUtc>,
    /// JSON of the result, null while open.
    pub result: Option<String>,
    /// Members counted at close.
    pub electorate: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
