//! Activities we do not act on (yet): `Like`, `Announce`, replies, profile `Update`s. They pass
//! the same signature checks as everything else and are then answered 202 with no effect, so a
//! sender never retries them and nothing is stored.

use activitypub_federation::{config::Data, traits::Activity};
use market::Context;
use url::Url;

use crate::{error::Error, protocol::activities::Other};

#[async_trait::async_trait]
impl Activity for Other {
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

    async fn receive(self, _data: &Data<Context>) -> Result<(), Error> {
        tracing::debug!(kind = %self.kind, id = %self.id, "ignored activity");
        Ok(())
    }
}
