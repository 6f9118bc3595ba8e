//! `Follow`: a remote actor follows a shop (or the co-op actor, `crate::governance`). Accepted at once (an `Accept` goes back) unless the
//! shop approves followers by hand. A `Follow` of our instance actor is a peer node asking to
//! federate (`peer.rs`).

use activitypub_federation::{config::Data, traits::Activity};
use market::{Context, entities::follow, service::followers};
use url::Url;

use super::{accept_follow, local_shop, peer};
use crate::{error::Error, protocol::activities::Follow};

#[async_trait::async_trait]
impl Activity for Follow {
    type DataType = Context;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, data: &Data<Context>) -> Result<(), Error> {
        if peer::is_instance_actor(data, &self.object)
            || crate::governance::is_coop(data, &self.object)
        {
            return Ok(());
        }
        local_shop(data, &self.object).await?;
        Ok(())
    }

    async fn receive(self, data: &Data<Context>) -> Result<(), Error> {
        let id = self.id.clone();
        super::once(data, &id, async move {
            if peer::is_instance_actor(data, &self.object) {
                return peer::receive_follow(data, self).await;
            }
            if crate::governance::is_coop(data, &self.object) {
                return crate::governance::receive_follow(data, self).await;
            }
            let shop = local_shop(data, &self.object).await?;
            let actor = self.actor.dereference(data).await?;
            let row =
                followers::record_follow(data, &shop.shop, &actor.row, self.id.as_str()).await?;
            if row.state == follow::STATE_ACCEPTED {
                accept_follow::send(data, &shop, self, &actor).await?;
            }
            Ok(())
        })
        .await
    }
}
