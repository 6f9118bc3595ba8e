//! `Delete` of the sending actor itself (a Mastodon account deleted): forget it and its follows.
//! `Delete` of a listing on a peer node whose catalog we copy: its copy becomes a tombstone.
//! Deletes of anything else are ignored.

use activitypub_federation::{config::Data, traits::Activity};
use market::{
    Context,
    service::{catalog, deliveries, followers, peers},
};
use url::Url;

use crate::{error::Error, protocol::activities::Delete};

impl Delete {
    /// The id of the deleted object.
    pub fn object_id(&self) -> Option<&str> {
        super::object_id(&self.object)
    }
}

#[async_trait::async_trait]
impl Activity for Delete {
    type DataType = Context;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &Data<Context>) -> Result<(), Error> {
        Ok(())
    }

    async fn receive(self, data: &Data<Context>) -> Result<(), Error> {
        let id = self.id.clone();
        super::once(data, &id, self.act(data)).await
    }
}

impl Delete {
    /// The effect, run once per activity id (see `super::once`).
    async fn act(self, data: &Data<Context>) -> Result<(), Error> {
        if self.object_id() == Some(self.actor.inner().as_str()) {
            followers::remove_remote_actor(data, self.actor.inner().as_str()).await?;
            return Ok(());
        }
        // A listing withdrawn on a node whose catalog we copy.
        let (Some(host), Some(object_id)) = (
            deliveries::host_of(self.actor.inner().as_str()),
            self.object_id(),
        ) else {
            return Ok(());
        };
        if peers::followed(data, &host).await?.is_none() {
            return Ok(());
        }
        if deliveries::host_of(object_id).as_deref() != Some(host.as_str()) {
            return Err(Error::Forbidden(format!("{object_id} is not on {host}")));
        }
        let at = crate::peering::time_of(&self.object, "deleted");
        catalog::delete_remote(data, &host, object_id, at).await?;
        Ok(())
    }
}
