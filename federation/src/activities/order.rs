//! `Offer{Agreement}` arriving at one of our shops (FEP-0837). The rest of the order protocol
//! rides on activities that have other uses too (`Accept`/`Reject` in `peer.rs`, `Update` and
//! `Create` in `Publish`); all of it is in `crate::orders`.

use activitypub_federation::{config::Data, traits::Activity};
use market::Context;
use url::Url;

use crate::{error::Error, protocol::activities::OrderOffer};

#[async_trait::async_trait]
impl Activity for OrderOffer {
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

    /// Answered with an `Accept` or `Reject` (see `orders::receive_offer`). An `Offer` of
    /// anything but an Agreement is ignored.
    async fn receive(self, data: &Data<Context>) -> Result<(), Error> {
        if self.object.get("type").and_then(|t| t.as_str()) != Some("Agreement") {
            return Ok(());
        }
        crate::orders::receive_offer(data, &self.id, &self.actor, &self.object).await
    }
}
