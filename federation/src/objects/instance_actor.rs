//! The node's instance actor (`Application` at `/actor`): it signs our outgoing fetches, as
//! Mastodon's does, so servers with authorized fetch answer us.

use activitypub_federation::{
    config::Data,
    traits::{Actor, Object},
};
use market::{Context, Instance, entities::instance_key};
use url::Url;

use crate::{
    error::Error,
    protocol::actor::{Endpoints, InstanceActorJson},
};

/// The instance actor with its key pair.
#[derive(Debug, Clone)]
pub struct ApubInstance {
    id: Url,
    inbox: Url,
    keys: instance_key::Model,
    instance: Instance,
}

impl ApubInstance {
    /// Build from the node's description and key pair.
    pub fn new(instance: &Instance, keys: instance_key::Model) -> Result<Self, Error> {
        let parse = |s: String| Url::parse(&s).map_err(|_| Error::Internal(format!("bad URL {s}")));
        Ok(ApubInstance {
            id: parse(instance.url("/actor"))?,
            inbox: parse(instance.url("/actor/inbox"))?,
            keys,
            instance: instance.clone(),
        })
    }

    /// The actor document.
    pub fn to_json(&self) -> Result<InstanceActorJson, Error> {
        let parse = |s: String| Url::parse(&s).map_err(|_| Error::Internal(format!("bad URL {s}")));
        Ok(InstanceActorJson {
            kind: "Application".into(),
            id: self.id.clone(),
            preferred_username: self
                .instance
                .domain
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string(),
            name: self.instance.name.clone(),
            url: self.instance.base_url.clone(),
            inbox: self.inbox.clone(),
            outbox: parse(self.instance.url("/actor/outbox"))?,
            endpoints: Endpoints {
                shared_inbox: Some(parse(self.instance.url("/inbox"))?),
            },
            public_key: self.public_key(),
            manually_approves_followers: true,
            streams: vec![parse(self.instance.url("/catalog"))?],
        })
    }
}

#[async_trait::async_trait]
impl Object for ApubInstance {
    type DataType = Context;
    type Kind = InstanceActorJson;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    async fn read_from_id(object_id: Url, data: &Data<Context>) -> Result<Option<Self>, Error> {
        if object_id.as_str() != data.instance.url("/actor") {
            return Ok(None);
        }
        let keys = market::service::instance::instance_keys(data).await?;
        Ok(Some(ApubInstance::new(&data.instance, keys)?))
    }

    async fn into_json(self, _data: &Data<Context>) -> Result<InstanceActorJson, Error> {
        self.to_json()
    }

    async fn verify(
        _json: &InstanceActorJson,
        _domain: &Url,
        _data: &Data<Context>,
    ) -> Result<(), Error> {
        Err(Error::Forbidden("not accepted from elsewhere".into()))
    }

    async fn from_json(_json: InstanceActorJson, _data: &Data<Context>) -> Result<Self, Error> {
        Err(Error::Forbidden("not accepted from elsewhere".into()))
    }
}

impl Actor for ApubInstance {
    fn public_key_pem(&self) -> &str {
        &self.keys.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        Some(self.keys.private_key_pem.clone())
    }

    fn inbox(&self) -> Url {
        self.inbox.clone()
    }
}
