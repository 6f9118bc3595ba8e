//! The marketplace's rules and storage: accounts, shops, listings and their images.
//!
//! Here live the sea-orm entities, the parsed value types (`Money`, `Handle`, `Title`, ...), the
//! services that change them, the shared [`Context`] and the error type. Nothing here knows about
//! HTTP routing or ActivityPub wire types: the JSON API, the HTML pages, the CLI and (later) the
//! inbox all call the same services, so a rule such as "stock never goes negative" is written once.

pub mod bylaws;
pub mod context;
pub mod db;
pub mod entities;
pub mod error;
pub mod keys;
pub mod markdown;
pub mod service;
pub mod types;

pub use context::{Context, Instance};
pub use error::{Error, Result};
