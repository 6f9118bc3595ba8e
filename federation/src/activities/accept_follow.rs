//! `Accept{Follow}` (and `Reject{Follow}`), sent by a shop. The object is the Follow as
//! received, with its id: Mastodon matches the Accept by that id.

use activitypub_federation::{
    config::Data,
    kinds::activity::AcceptType,
    traits::{Activity, Actor},
};
use market::Context;
use url::Url;

use super::new_activity_id;
use crate::{
    error::Error,
    objects::{remote_actor::ApubRemoteActor, shop::ApubShop},
    outbox,
    protocol::activities::{AcceptFollow, Follow},
};

/// Send the Accept for `follow` to its actor.
pub async fn send(
    data: &Data<Context>,
    shop: &ApubShop,
    follow: Follow,
    actor: &ApubRemoteActor,
) -> Result<(), Error> {
    let accept = AcceptFollow {
        kind: AcceptType::Accept,
        id: new_activity_id(data)?,
        actor: activitypub_federation::traits::Object::id(shop).clone(),
        object: follow,
        to: vec![activitypub_federation::traits::Object::id(actor).clone()],
    };
    outbox::send(data, accept, shop, vec![actor.inbox()]).await
}

#[async_trait::async_trait]
impl Activity for AcceptFollow {
    type DataType = Context;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        &self.actor
    }

    async fn verify(&self, _data: &Data<Context>) -> Result<(), Error> {
        Err(Error::BadRequest(
            "Accept is not accepted by this inbox".into(),
        ))
    }

    async fn receive(self, _data: &Data<Context>) -> Result<(), Error> {
        Err(Error::BadRequest(
            "Accept is not accepted by this inbox".into(),
        ))
    }
}
