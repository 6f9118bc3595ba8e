//! Federation with another ActivityPub server (the test peer, on a real port, verifying real
//! signatures) and the inbox's defences.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod catalog;
mod conformance;
mod coop;
mod delivery;
mod delivery_hosts;
mod domains;
mod follow;
mod governance;
mod inbox_guarantees;
mod inbox_security;
mod ledger;
mod mastodon_rules;
mod orders;
mod orders_by_hand;
mod peers;
mod process;
mod thumbnails;
