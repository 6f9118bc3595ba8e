//! The JSON API, driven over HTTP against real nodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin_pages;
mod auth;
mod bodies;
mod checkout;
mod control_chars;
mod image_metadata;
mod images;
mod listings;
mod membership_pages;
mod order_pages;
mod pages;
mod paging;
mod passwords;
mod permissions;
mod search;
mod security;
mod seller_pages;
mod sessions;
mod shops;
mod support;
mod throttles;
mod transparency;
mod uploads;
mod validation;
