//! A remote actor following the co-op's actor (`/coop`): it receives the proposals.

use sea_orm::entity::prelude::*;

/// A row of `coop_followers`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coop_followers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub remote_actor_id: i32,
    pub follow_activity_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
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

impl ActiveModelBehavior for ActiveModel {}
