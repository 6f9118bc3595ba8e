//! An actor on another server (a Mastodon account, a peer node's instance actor) that we know of.

use sea_orm::entity::prelude::*;

/// A row of `remote_actors`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remote_actors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub ap_id: String,
    /// `Person`, `Service`, `Organization`, `Application` or `Group`.
    pub actor_type: String,
    pub preferred_username: Option<String>,
    /// Display name, plain text (remote HTML stripped).
    pub name: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_pem: String,
    /// Host of `ap_id` (with port, if any).
    pub domain: String,
    pub last_refreshed_at: DateTimeUtc,
}

impl Model {
    /// `user@domain`, or the id if the actor has no username.
    pub fn handle(&self) -> String {
        match &self.preferred_username {
            Some(name) => format!("{name}@{}", self.domain),
            None => self.ap_id.clone(),
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::follow::Entity")]
    Follow,
}

impl Related<super::follow::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Follow.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
