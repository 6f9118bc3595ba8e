//! Database rows wrapped to implement the library's traits, and the builders that turn a listing
//! row into its `Note` and `Proposal`.

pub mod instance_actor;
pub mod listing;
pub mod remote_actor;
pub mod shop;
