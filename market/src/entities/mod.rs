//! sea-orm entities, one per table (see the `migrations` crate for the schema).

pub mod api_token;
pub mod listing;
pub mod listing_image;
pub mod listing_tag;
pub mod shop;
pub mod user;
