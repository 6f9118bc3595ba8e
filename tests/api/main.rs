//! The JSON API, driven over HTTP against real nodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
