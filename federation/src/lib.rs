//! ActivityPub for Tianguis: wire types, actors, inboxes, WebFinger, NodeInfo and delivery.
//!
//! Depends on `market` and calls its services; never writes SQL of its own. The node is not
//! federating yet: shops already carry their RSA key pair (`market::keys`) and ids are URLs on
//! the node's domain, so the actor and object documents can be served from the same rows.

/// The media type ActivityPub clients ask for and we answer with.
pub const ACTIVITY_JSON: &str = "application/activity+json";
