//! `Follow`: a remote actor follows a shop. Accepted at once (an `Accept` goes back) unless the
//! shop approves followers by hand.

use activitypub_federation::{config::Data, traits::Activity};
use market::{
    Context,
    entities::follow,
    service::{followers, instance},
};
use url::Url;

use super::{accept_follow, local_shop};
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
        local_shop(data, &self.object).await?;
        Ok(())
    }

    async fn receive(self, data: &Data<Context>) -> Result<(), Error> {
        if !instance::first_receipt(data, self.id.as_str()).await? {
            return Ok(());
        }
        let shop = local_shop(data, &self.object).await?;
        let actor = self.actor.dereference(data).await?;
        let row = followers::record_follow(data, &shop.shop, &actor.row, self.id.as_str()).await?;
        if row.state == follow::STATE_ACCEPTED {
            accept_follow::send(data, &shop, self, &actor).await?;
        }
        Ok(())
    }
}
