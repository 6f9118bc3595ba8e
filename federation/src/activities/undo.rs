//! `Undo{Follow}`: the follower leaves. The embedded Follow must be the sender's own.
//! `Undo{Offer}`: a buyer withdraws an order our shop has not answered (see `crate::orders`).

use activitypub_federation::{config::Data, traits::Activity};
use market::{Context, service::followers};
use url::Url;

use super::local_shop;
use crate::{error::Error, protocol::activities::Undo};

impl Undo {
    /// The Follow being undone: its id, and (when embedded) its actor and object. `None` when
    /// the object is something else (`Undo{Like}`, `Undo{Announce}`): ignored.
    fn follow_parts(&self) -> Option<(Option<Url>, Option<Url>, Option<Url>)> {
        let parse = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_str()).and_then(|s| Url::parse(s).ok())
        };
        match &self.object {
            serde_json::Value::String(id) => Some((Url::parse(id).ok(), None, None)),
            serde_json::Value::Object(map)
                if map.get("type").and_then(|t| t.as_str()) == Some("Follow") =>
            {
                Some((
                    parse(map.get("id")),
                    parse(map.get("actor")),
                    parse(map.get("object")),
                ))
            }
            _ => None,
        }
    }

    /// The Offer being withdrawn, if the object is one (embedded) or a bare id.
    fn offer_id(&self) -> Option<&str> {
        match &self.object {
            serde_json::Value::String(id) => Some(id),
            serde_json::Value::Object(map)
                if map.get("type").and_then(|t| t.as_str()) == Some("Offer") =>
            {
                map.get("id").and_then(|v| v.as_str())
            }
            _ => None,
        }
    }
}

#[async_trait::async_trait]
impl Activity for Undo {
    type DataType = Context;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &Data<Context>) -> Result<(), Error> {
        let Some((_, follow_actor, _)) = self.follow_parts() else {
            return Ok(());
        };
        if let Some(follow_actor) = follow_actor
            && follow_actor != *self.actor.inner()
        {
            return Err(Error::Forbidden(
                "an actor may only undo its own Follow".into(),
            ));
        }
        Ok(())
    }

    async fn receive(self, data: &Data<Context>) -> Result<(), Error> {
        let id = self.id.clone();
        super::once(data, &id, self.act(data)).await
    }
}

impl Undo {
    /// The effect, run once per activity id (see `super::once`).
    async fn act(self, data: &Data<Context>) -> Result<(), Error> {
        if let Some(offer) = self.offer_id()
            && crate::orders::receive_withdrawal(data, self.actor.inner(), offer).await?
        {
            return Ok(());
        }
        let Some(actor) = followers::find_remote_actor(data, self.actor.inner().as_str()).await?
        else {
            return Ok(());
        };
        let Some((follow_id, _, shop_id)) = self.follow_parts() else {
            return Ok(());
        };
        // The co-op actor's follower leaves.
        let coop = shop_id
            .as_ref()
            .is_some_and(|id| crate::governance::is_coop(data, id));
        if coop || (shop_id.is_none() && follow_id.is_some()) {
            let follow = follow_id.as_ref().map(Url::as_str);
            let removed =
                market::service::governance::followers::remove(data, actor.id, follow).await?;
            if removed || coop {
                return Ok(());
            }
        }
        // A peer node's instance actor stops following ours.
        let ours = shop_id
            .as_ref()
            .is_some_and(|id| super::peer::is_instance_actor(data, id));
        if ours || shop_id.is_none() {
            let follow = follow_id.as_ref().map(Url::as_str);
            if market::service::peers::follow_undone(data, &actor.ap_id, follow).await? || ours {
                return Ok(());
            }
        }
        let shop = match shop_id {
            Some(shop_id) => Some(local_shop(data, &shop_id).await?.shop.id),
            None => match follow_id {
                Some(id) => followers::shop_of_follow(data, id.as_str(), actor.id).await?,
                None => None,
            },
        };
        if let Some(shop) = shop {
            followers::remove_follow(data, shop, actor.id).await?;
        }
        Ok(())
    }
}
