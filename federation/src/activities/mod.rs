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
use market::{Context, service::shops};
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
    .map_err(|e| Error::BadRequest(e.to_string()))
}
