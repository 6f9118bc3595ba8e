//! An account on this node: a co-op member (who may own shops) or an admin.

use sea_orm::entity::prelude::*;

/// A row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub username: String,
    pub password_hash: String,
    /// `member` or `admin`.
    pub role: String,
    pub created_at: DateTimeUtc,
}

impl Model {
    /// Admins may manage every shop and listing on the node.
    pub fn is_admin(&self) -> bool {
        self.role == ROLE_ADMIN
    }
}

/// The role of an ordinary member.
pub const ROLE_MEMBER: &str = "member";
/// The role of an administrator.
pub const ROLE_ADMIN: &str = "admin";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::shop::Entity")]
    Shop,
    #[sea_orm(has_many = "super::api_token::Entity")]
    ApiToken,
}

impl Related<super::shop::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Shop.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
