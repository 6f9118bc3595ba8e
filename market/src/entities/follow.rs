//! A remote actor following a shop.

use sea_orm::entity::prelude::*;

/// A row of `follows`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follows")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub shop_id: i32,
    pub remote_actor_id: i32,
    /// The `Follow` activity's id, echoed in the `Accept`.
    pub follow_activity_id: String,
    /// [`STATE_PENDING`] or [`STATE_ACCEPTED`].
    pub state: String,
    pub created_at: DateTimeUtc,
}

/// Waiting for the shop to approve.
pub const STATE_PENDING: &str = "pending";
/// A follower: receives the shop's listings.
pub const STATE_ACCEPTED: &str = "accepted";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::shop::Entity",
        from = "Column::ShopId",
        to = "super::shop::Column::Id",
        on_delete = "Cascade"
    )]
    Shop,
    #[sea_orm(
        belongs_to = "super::remote_actor::Entity",
        from = "Column::RemoteActorId",
        to = "super::remote_actor::Column::Id",
        on_delete = "Cascade"
    )]
    RemoteActor,
}

impl Related<super::remote_actor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RemoteActor.def()
    }
}

impl Related<super::shop::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Shop.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
