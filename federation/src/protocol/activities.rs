//! Activities: what the inbox accepts (`Follow`, `Undo{Follow}`, `Delete{actor}`) and what
//! shops send (`Accept`, `Create`, `Update`, `Delete`).

use activitypub_federation::{
    fetch::object_id::ObjectId,
    kinds::activity::{AcceptType, DeleteType, FollowType, UndoType},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::objects::remote_actor::ApubRemoteActor;

/// `Follow`: a remote actor asks to follow a shop.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Follow {
    #[serde(rename = "type")]
    pub kind: FollowType,
    pub id: Url,
    pub actor: ObjectId<ApubRemoteActor>,
    /// The shop's id.
    pub object: Url,
}

/// `Undo{Follow}`: the object is the Follow, embedded (Mastodon) or as its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Undo {
    #[serde(rename = "type")]
    pub kind: UndoType,
    pub id: Url,
    pub actor: ObjectId<ApubRemoteActor>,
    pub object: Value,
}

/// `Delete` sent to us. We act on one kind: an actor deleting itself (its follows go).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delete {
    #[serde(rename = "type")]
    pub kind: DeleteType,
    pub id: Url,
    pub actor: ObjectId<ApubRemoteActor>,
    pub object: Value,
}

/// `Accept{Follow}` we send: `object` is the Follow as received, with its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptFollow {
    #[serde(rename = "type")]
    pub kind: AcceptType,
    pub id: Url,
    pub actor: Url,
    pub object: Follow,
    pub to: Vec<Url>,
}

/// `Reject{Follow}` we send when a shop's owner declines a follow request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectFollow {
    #[serde(rename = "type")]
    pub kind: activitypub_federation::kinds::activity::RejectType,
    pub id: Url,
    pub actor: Url,
    pub object: Follow,
    pub to: Vec<Url>,
}

/// `Create`, `Update` or `Delete` of a listing, as we send them: `object` is the `Note` (or, for
/// `Delete`, a `Tombstone`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingActivity {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    pub actor: Url,
    pub published: chrono::DateTime<chrono::Utc>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub object: Value,
}

/// `Accept` or `Reject` of a `Follow` our instance actor sent to a peer node (the object is the
/// Follow, embedded or as its id), or of an `Offer` one of our buyers sent to a shop.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowAnswer {
    #[serde(rename = "type")]
    pub kind: AnswerKind,
    pub id: Url,
    pub actor: ObjectId<ApubRemoteActor>,
    pub object: Value,
    /// An `Accept` of an `Offer`: the finalized Agreement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// A `Reject` of an `Offer`: the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// How a `Follow` was answered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum AnswerKind {
    /// Yes.
    Accept,
    /// No.
    Reject,
}

/// `Create` or `Update` received. We act on a peer node's listing (`Proposal`); anything else
/// (a Mastodon reply, a profile update) is ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publish {
    #[serde(rename = "type")]
    pub kind: PublishKind,
    pub id: Url,
    pub actor: ObjectId<ApubRemoteActor>,
    pub object: Value,
}

/// `Create` or `Update`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PublishKind {
    /// New.
    Create,
    /// Changed.
    Update,
}

/// Any other activity: its signature is checked like every other, then it is ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Other {
    #[serde(rename = "type")]
    pub kind: Value,
    pub id: Url,
    pub actor: ObjectId<ApubRemoteActor>,
}

/// An activity read back from the delivery queue, to be signed and sent as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredActivity {
    pub id: Url,
    pub actor: Url,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// `Offer` received: FEP-0837's `Offer{Agreement}` from a buyer to one of our shops. An Offer
/// of anything else is ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderOffer {
    #[serde(rename = "type")]
    pub kind: activitypub_federation::kinds::activity::OfferType,
    pub id: Url,
    pub actor: ObjectId<ApubRemoteActor>,
    pub object: Value,
}
