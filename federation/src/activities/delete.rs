//! `Delete` of the sending actor itself (a Mastodon account deleted): forget it and its follows.
//! Deletes of anything else are ignored: we keep no remote content yet.

use activitypub_federation::{config::Data, traits::Activity};
use market::{
    Context,
    service::{followers, instance},
};
use url::Url;

use crate::{error::Error, protocol::activities::Delete};

impl Delete {
    /// The id of the deleted object.
    pub fn object_id(&self) -> Option<&str> {
        match &self.object {
            serde_json::Value::String(id) => Some(id),
            serde_json::Value::Object(map) => map.get("id").and_then(|v| v.as_str()),
            _ => None,
        }
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
        if !instance::first_receipt(data, self.id.as_str()).await? {
            return Ok(());
        }
        if self.object_id() == Some(self.actor.inner().as_str()) {
            followers::remove_remote_actor(data, self.actor.inner().as_str()).await?;
        }
        Ok(())
    }
}
