//! sea-orm entities, one per table (see the `migrations` crate for the schema).

pub mod api_token;
pub mod catalog_entry;
pub mod catalog_entry_tag;
pub mod delivery;
pub mod delivery_host;
pub mod delivery_worker;
pub mod domain_block;
pub mod federation_event;
pub mod follow;
pub mod instance_key;
pub mod listing;
pub mod listing_image;
pub mod listing_tag;
pub mod notification;
pub mod order;
pub mod order_event;
pub mod order_message;
pub mod outbox_activity;
pub mod peer;
pub mod received_activity;
pub mod remote_actor;
pub mod shop;
pub mod shop_checkout;
pub mod user;
pub mod user_key;
