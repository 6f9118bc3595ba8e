//! The node as a process sees it: restarts, concurrency, health, limits and timeouts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod concurrency;
mod membership_races;
mod operability;
mod order_stock;
mod orders_model;
mod restart;
