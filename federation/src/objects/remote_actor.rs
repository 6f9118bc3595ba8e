//! A remote actor, as stored: the sender of every activity our inbox accepts.

use activitypub_federation::{
    config::Data,
    protocol::verification::verify_domains_match,
    traits::{Actor, Object},
};
use market::{Context, entities::remote_actor, service::followers};
use url::Url;

use crate::{
    error::Error,
    protocol::actor::{ActorKind, Endpoints, RemoteActorJson},
};

/// A stored remote actor with its parsed id.
#[derive(Debug, Clone)]
pub struct ApubRemoteActor {
    id: Url,
    inbox: Url,
    shared_inbox: Option<Url>,
    /// The stored row.
    pub row: remote_actor::Model,
}

impl TryFrom<remote_actor::Model> for ApubRemoteActor {
    type Error = Error;
    fn try_from(row: remote_actor::Model) -> Result<Self, Error> {
        let bad = |what: &str| {
            Error::Market(market::Error::Internal(format!(
                "stored actor has a bad {what}"
            )))
        };
        Ok(ApubRemoteActor {
            id: Url::parse(&row.ap_id).map_err(|_| bad("id"))?,
            inbox: Url::parse(&row.inbox).map_err(|_| bad("inbox"))?,
            shared_inbox: row.shared_inbox.as_deref().and_then(|s| Url::parse(s).ok()),
            row,
        })
    }
}

#[async_trait::async_trait]
impl Object for ApubRemoteActor {
    type DataType = Context;
    type Kind = RemoteActorJson;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn last_refreshed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        Some(self.row.last_refreshed_at)
    }

    async fn read_from_id(object_id: Url, data: &Data<Context>) -> Result<Option<Self>, Error> {
        followers::find_remote_actor(data, object_id.as_str())
            .await?
            .map(ApubRemoteActor::try_from)
            .transpose()
    }

    async fn delete(&self, data: &Data<Context>) -> Result<(), Error> {
        followers::remove_remote_actor(data, &self.row.ap_id).await?;
        Ok(())
    }

    async fn into_json(self, _data: &Data<Context>) -> Result<RemoteActorJson, Error> {
        let kind = match self.row.actor_type.as_str() {
            "Service" => ActorKind::Service,
            "Organization" => ActorKind::Organization,
            "Application" => ActorKind::Application,
            "Group" => ActorKind::Group,
            _ => ActorKind::Person,
        };
        Ok(RemoteActorJson {
            kind,
            public_key: self.public_key(),
            id: self.id.clone().into(),
            preferred_username: self.row.preferred_username.clone(),
            name: Some(self.row.name.clone()),
            inbox: self.inbox.clone(),
            endpoints: Some(Endpoints {
                shared_inbox: self.shared_inbox.clone(),
            }),
        })
    }

    async fn verify(
        json: &RemoteActorJson,
        expected_domain: &Url,
        _data: &Data<Context>,
    ) -> Result<(), Error> {
        verify_domains_match(json.id.inner(), expected_domain)?;
        // Mastodon skips a key whose owner is not the actor; we refuse the actor.
        if json.public_key.owner != *json.id.inner() {
            return Err(Error::BadRequest(
                "the actor's publicKey.owner is not the actor".into(),
            ));
        }
        verify_domains_match(&json.inbox, expected_domain)?;
        Ok(())
    }

    async fn from_json(json: RemoteActorJson, data: &Data<Context>) -> Result<Self, Error> {
        // A shared inbox on another server than the actor's would let anyone make us POST
        // wherever they like: kept only when it is on the actor's own host and port.
        let same_server = |u: &Url| {
            u.host_str() == json.inbox.host_str()
                && u.port_or_known_default() == json.inbox.port_or_known_default()
        };
        let shared_inbox = json
            .endpoints
            .and_then(|e| e.shared_inbox)
            .filter(same_server)
            .map(|u| u.to_string());
        let row = followers::upsert_remote_actor(
            data,
            followers::RemoteActorData {
                ap_id: json.id.inner().to_string(),
                actor_type: json.kind.as_str().to_string(),
                preferred_username: json.preferred_username,
                name: json.name.unwrap_or_default(),
                inbox: json.inbox.to_string(),
                shared_inbox,
                public_key_pem: json.public_key.public_key_pem,
            },
        )
        .await?;
        ApubRemoteActor::try_from(row)
    }
}

impl Actor for ApubRemoteActor {
    fn public_key_pem(&self) -> &str {
        &self.row.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        None
    }

    fn inbox(&self) -> Url {
        self.inbox.clone()
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.shared_inbox.clone()
    }
}
