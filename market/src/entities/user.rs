//! An account on this node: a co-op member (who may own shops), an admin, or a buyer (who
//! registered to buy and owns no shop).

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
    /// `member`, `admin` or `buyer`.
    pub role: String,
    /// Optional, given at registration.
    pub email: Option<String>,
    pub created_at: DateTimeUtc,
}

impl Model {
    /// Admins may manage every shop and listing on the node.
    pub fn is_admin(&self) -> bool {
        self.role == ROLE_ADMIN
    }

    /// Co-op members and admins may open shops; buyers may not.
    pub fn may_open_shops(&self) -> bool {
        self.is_member()
    }

    /// A member of the co-op (admins are members too): one vote each. Buyers, applicants and
    /// former members are not.
    pub fn is_member(&self) -> bool {
        self.role == ROLE_MEMBER || self.role == ROLE_ADMIN
    }
}

/// The role of an ordinary member.
pub const ROLE_MEMBER: &str = "member";
/// The role of an administrator.
pub const ROLE_ADMIN: &str = "admin";
/// The role of a buyer: registered to buy, may not open shops.
pub const ROLE_BUYER: &str = "buyer";

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
