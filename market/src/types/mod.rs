//! Values parsed once at the edge (API, CLI, inbox): past construction they cannot be invalid.

mod money;
mod strength;
mod text;

pub use money::{Currency, Money};
pub use text::{Description, DisplayName, Handle, Password, Stock, Tag, Text, Title, Username};
