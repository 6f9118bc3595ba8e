//! A listing on the wire: a `Note` for Mastodon and everyone else, linked (FEP-0ea0) to an
//! FEP-0837 `Proposal` with the structured price and stock for peer nodes. Both are built from
//! the same listing row (see `objects::listing`).

use serde::{Deserialize, Serialize};
use url::Url;

/// The listing as a `Note`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListingNote {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    pub attributed_to: Url,
    /// HTML: title, price, stock, description, link. Never in `summary` (a content warning).
    pub content: String,
    pub url: Url,
    pub published: chrono::DateTime<chrono::Utc>,
    /// Always present: Mastodon applies an edit only if `updated` is newer.
    pub updated: chrono::DateTime<chrono::Utc>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub attachment: Vec<Attachment>,
    pub tag: Vec<Hashtag>,
    pub sensitive: bool,
}

/// An attachment of a listing `Note`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Attachment {
    /// A photo, with its alt text in `name`.
    Image(ImageAttachment),
    /// The FEP-0ea0 payment link to the Proposal.
    Link(PaymentLink),
}

/// A photo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageAttachment {
    #[serde(rename = "type")]
    pub kind: String,
    pub media_type: String,
    pub url: Url,
    /// Alt text.
    pub name: String,
    pub width: i32,
    pub height: i32,
}

/// An FEP-0ea0 payment link whose `rel` marks the target as an FEP-0837 Proposal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLink {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub href: Url,
    pub media_type: String,
    pub rel: Vec<String>,
}

/// A hashtag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hashtag {
    #[serde(rename = "type")]
    pub kind: String,
    /// `#tag`
    pub name: String,
    pub href: Url,
}

/// An FEP-0837 Proposal: the seller offers `publishes` in exchange for `reciprocal`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    /// `offer`
    pub purpose: String,
    pub attributed_to: Url,
    pub name: String,
    /// HTML description.
    pub content: String,
    /// The listing's page (and Note).
    pub url: Url,
    pub published: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
    pub publishes: Intent,
    pub reciprocal: Intent,
    /// True: a buyer may order any whole number of units up to `availableQuantity`.
    pub unit_based: bool,
    pub to: Vec<String>,
    /// The listing's hashtags, as on the Note (so a peer's copy has them without the Note).
    #[serde(default)]
    pub tag: Vec<Hashtag>,
    /// The listing's photos, as on the Note.
    #[serde(default)]
    pub attachment: Vec<ImageAttachment>,
}

/// One side of a Proposal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    #[serde(rename = "type")]
    pub kind: String,
    /// `{proposal}#primary` or `{proposal}#reciprocal`.
    pub id: String,
    /// `transfer`
    pub action: String,
    /// What is transferred: the listing itself, or the currency (`urn:iso:std:iso:4217:EUR`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_conforms_to: Option<String>,
    /// Per unit: one item, or the price of one item.
    pub resource_quantity: Quantity,
    /// Stock (on the primary intent only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_quantity: Option<Quantity>,
}

/// A quantity with its unit; the value is a decimal string, never a float.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Quantity {
    pub has_unit: String,
    pub has_numerical_value: String,
}

/// What a withdrawn listing's id serves (with 410 Gone).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    pub former_type: String,
    pub deleted: chrono::DateTime<chrono::Utc>,
}

/// The URI of an ISO 4217 currency in `resourceConformsTo`.
pub fn currency_uri(code: &str) -> String {
    format!("urn:iso:std:iso:4217:{code}")
}
