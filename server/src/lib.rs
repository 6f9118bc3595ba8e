//! The composition root: configuration, telemetry, startup, the JSON API, the HTML pages and the
//! `tianguis` CLI. Business rules live in `market`; ActivityPub in `federation`. `main.rs` only
//! calls [`cli::run`].

pub mod api;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod pages;
pub mod routes;
pub mod session;
pub mod startup;
pub mod telemetry;
pub mod throttle;

pub use config::Config;
pub use startup::Application;
