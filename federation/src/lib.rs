//! ActivityPub for Tianguis: wire types (`protocol`), database rows as actors and objects
//! (`objects`), one activity per file (`activities`), the inboxes, WebFinger, NodeInfo and
//! sending (`outbox`).
//!
//! Depends on `market` and calls its services; never writes SQL of its own. FEDERATION.md at the
//! repository root describes what this crate sends and accepts.

pub mod activities;
pub mod config;
pub mod error;
pub mod governance;
pub mod inbox;
pub mod media;
pub mod negotiate;
pub mod objects;
pub mod orders;
pub mod outbox;
pub mod peering;
pub mod protocol;
pub mod routes;
pub mod sender;
pub mod signed_fetch;

pub use activitypub_federation::config::{Data, FederationConfig, FederationMiddleware};
pub use error::Error;
pub use negotiate::{ACTIVITY_JSON, wants_activity_json};
