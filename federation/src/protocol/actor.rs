//! Actors: the shop actor we serve, and what we accept from other servers.

use activitypub_federation::{fetch::object_id::ObjectId, protocol::public_key::PublicKey};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::objects::remote_actor::ApubRemoteActor;

/// A shop as an ActivityPub actor (`Organization`; FEDERATION.md says why).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShopActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    pub preferred_username: String,
    pub name: String,
    /// HTML: the bio, escaped, in paragraphs.
    pub summary: String,
    /// The shop's HTML page (same host as `id`).
    pub url: Url,
    pub inbox: Url,
    pub outbox: Url,
    pub followers: Url,
    pub following: Url,
    pub endpoints: Endpoints,
    pub public_key: PublicKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<ImageRef>,
    pub discoverable: bool,
    pub indexable: bool,
    pub manually_approves_followers: bool,
    pub published: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
    /// Profile fields as `PropertyValue`s (Mastodon shows up to 50).
    pub attachment: Vec<PropertyValue>,
}

/// `endpoints` of an actor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_inbox: Option<Url>,
}

/// An `Image` reference (avatar).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Url,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// A profile field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PropertyValue {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// HTML.
    pub value: String,
}

/// Any actor another server sends us (Mastodon `Person`, a bot `Service`, a peer node's
/// `Application`, a `Group`, an `Organization`). Read leniently: only what we use is required.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteActorJson {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    pub id: ObjectId<ApubRemoteActor>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub inbox: Url,
    #[serde(default)]
    pub endpoints: Option<Endpoints>,
    pub public_key: PublicKey,
}

/// The actor types Mastodon accepts (`SUPPORTED_TYPES`), and so do we.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ActorKind {
    Person,
    Service,
    Organization,
    Application,
    Group,
}

impl ActorKind {
    /// The type name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActorKind::Person => "Person",
            ActorKind::Service => "Service",
            ActorKind::Organization => "Organization",
            ActorKind::Application => "Application",
            ActorKind::Group => "Group",
        }
    }
}

/// The node's instance actor (`Application` at `/actor`), which signs our fetches.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceActorJson {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    pub preferred_username: String,
    pub name: String,
    pub url: Url,
    pub inbox: Url,
    pub outbox: Url,
    pub endpoints: Endpoints,
    pub public_key: PublicKey,
    pub manually_approves_followers: bool,
    /// Supplementary collections (AS2 `streams`): the node's catalog feed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<Url>,
}
