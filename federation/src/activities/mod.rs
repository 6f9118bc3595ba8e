//! Activity behaviour: one file per activity. Checks go in `verify`, effects in `receive`, and
//! effects call `market` services.

pub mod accept_follow;
pub mod delete;
pub mod follow;
pub mod listing;
pub mod order;
pub mod other;
pub mod peer;
pub mod undo;

use activitypub_federation::config::Data;
use market::{
    Context,
    service::{instance, shops},
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    error::Error,
    objects::shop::ApubShop,
    protocol::activities::{Delete, Follow, FollowAnswer, OrderOffer, Other, Publish, Undo},
};

/// The activities the inbox acts on. Every other type is answered 202 and ignored (see
/// `inbox.rs`), so an unknown type is never an error for the sender.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
#[enum_delegate::implement(activitypub_federation::traits::Activity)]
pub enum InboxActivity {
    /// `Follow` of a shop.
    Follow(Follow),
    /// `Undo{Follow}`.
    Undo(Undo),
    /// `Delete` of the sending actor itself, or of a peer node's listing.
    Delete(Delete),
    /// `Accept` or `Reject` of our instance actor's `Follow` of a peer node.
    FollowAnswer(FollowAnswer),
    /// `Create` or `Update` of a peer node's listing.
    Publish(Publish),
    /// FEP-0837 `Offer{Agreement}`: a buyer orders from one of our shops.
    Offer(OrderOffer),
    /// Anything else (Like, Announce, Create of a reply, ...): verified, then ignored.
    Other(Other),
}

/// Activities we only send implement the library's `Activity` trait (its sending functions need
/// it) with a `verify` and `receive` that refuse: they are not in [`InboxActivity`], so they
/// never arrive here.
macro_rules! send_only_activity {
    ($type:ty) => {
        #[async_trait::async_trait]
        impl activitypub_federation::traits::Activity for $type {
            type DataType = market::Context;
            type Error = $crate::error::Error;

            fn id(&self) -> &url::Url {
                &self.id
            }

            fn actor(&self) -> &url::Url {
                &self.actor
            }

            async fn verify(
                &self,
                _data: &activitypub_federation::config::Data<market::Context>,
            ) -> Result<(), Self::Error> {
                Err($crate::error::Error::BadRequest(
                    concat!(stringify!($type), " is sent, not received").into(),
                ))
            }

            async fn receive(
                self,
                _data: &activitypub_federation::config::Data<market::Context>,
            ) -> Result<(), Self::Error> {
                Err($crate::error::Error::BadRequest(
                    concat!(stringify!($type), " is sent, not received").into(),
                ))
            }
        }
    };
}

send_only_activity!(crate::protocol::activities::AcceptFollow);
send_only_activity!(crate::protocol::activities::RejectFollow);
send_only_activity!(crate::protocol::activities::ListingActivity);
send_only_activity!(crate::protocol::activities::StoredActivity);

/// Run `effect` for the activity `id` unless an earlier copy of it was already acted on; then
/// remember the id.
///
/// The id is recorded only **after** the effect succeeded, not before it, and not in one
/// database transaction with it. A transaction is impractical here: an effect fetches over HTTP
/// (the follower's actor, a peer's catalog), queues and sends its answer through the outbox, and
/// calls several `market` services that each commit on their own; holding a transaction open
/// across all of that would hold SQLite's single write lock while the effect's own writes wait
/// for it. So instead:
///
/// - if the effect fails, nothing is recorded, the sender gets the error (5xx for our failures)
///   and its retry of the same id is processed again;
/// - the same holds when the processing is cut short (the inbox's time limit, the sender
///   closing the connection, the process killed): the id was never recorded;
/// - a copy arriving while the first is being processed in this process is answered 503 with
///   `Retry-After` (the id is claimed in `Context::inbox_in_flight` for the duration): its
///   retry then finds the first one's outcome, recorded or failed;
/// - every effect is idempotent, so a copy processed by another process at the same time, or
///   again after a crash between the effect and the record, changes nothing twice: a follow is
///   one row per (shop, actor), an unfollow or deletion of what is gone is a no-op, an answer
///   to a follow sets the same state. At worst the follower gets a second `Accept` for the same
///   `Follow`, which is what a re-sent `Follow` gets anyway.
///
/// Orders and votes do not rely on this table: an order is recorded under its `Offer`'s id and an
/// order step moves the order from the state it is in, each checked where it is written.
pub async fn once<F>(data: &Data<Context>, id: &Url, effect: F) -> Result<(), Error>
where
    F: Future<Output = Result<(), Error>>,
{
    let Some(_claim) = data.inbox_in_flight.claim(id.as_str()) else {
        return Err(Error::Unavailable(format!(
            "another copy of {id} is being processed"
        )));
    };
    if instance::was_received(data, id.as_str()).await? {
        tracing::debug!(%id, "activity already received; ignored");
        return Ok(());
    }
    effect.await?;
    instance::record_received(data, id.as_str()).await?;
    Ok(())
}

/// The local shop whose id is `id`, or 404.
pub async fn local_shop(data: &Data<Context>, id: &Url) -> Result<ApubShop, Error> {
    let not_found = || Error::Market(market::Error::not_found("shop"));
    let handle = id
        .path()
        .strip_prefix("/shops/")
        .filter(|h| !h.contains('/'))
        .ok_or_else(not_found)?;
    let shop = shops::find_shop(data, handle)
        .await?
        .ok_or_else(not_found)?;
    if shop.ap_id != id.as_str() {
        return Err(not_found());
    }
    ApubShop::new(&data.instance, shop)
}

/// The id of an activity's object, embedded (its `id`) or given as a string.
pub fn object_id(value: &serde_json::Value) -> Option<&str> {
    match value {
        serde_json::Value::String(id) => Some(id),
        serde_json::Value::Object(map) => map.get("id").and_then(|v| v.as_str()),
        _ => None,
    }
}

/// A fresh id for an activity we send.
pub fn new_activity_id(data: &Data<Context>) -> Result<Url, Error> {
    Url::parse(
        &data
            .instance
            .url(&format!("/activities/{}", uuid::Uuid::new_v4())),
    )
    .map_err(|e| Error::Internal(format!("our activity id: {e}")))
}
