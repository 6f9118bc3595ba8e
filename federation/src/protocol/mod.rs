//! Wire types: plain serde structs for the JSON we send and accept. No behaviour here.

pub mod activities;
pub mod actor;
pub mod collection;
pub mod listing;

use serde_json::{Value, json};

/// `@context` of every document we serve: Activity Streams, the security vocabulary (so
/// JSON-LD processors keep `publicKey`), and the few extension terms we use.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "sensitive": "as:sensitive",
            "Hashtag": "as:Hashtag",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value",
            "vf": "https://w3id.org/valueflows/ont/vf#",
            "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
            "Proposal": "vf:Proposal",
            "Intent": "vf:Intent",
            "action": "vf:action",
            "purpose": "vf:purpose",
            "unitBased": "vf:unitBased",
            "publishes": "vf:publishes",
            "reciprocal": "vf:reciprocal",
            "resourceConformsTo": "vf:resourceConformsTo",
            "resourceQuantity": "vf:resourceQuantity",
            "availableQuantity": "vf:availableQuantity",
            "minimumQuantity": "vf:minimumQuantity",
            "hasUnit": "om2:hasUnit",
            "hasNumericalValue": "om2:hasNumericalValue",
            "Agreement": "vf:Agreement",
            "Commitment": "vf:Commitment",
            "stipulates": "vf:stipulates",
            "stipulatesReciprocal": "vf:stipulatesReciprocal",
            "satisfies": "vf:satisfies",
            "tianguis": "https://tianguis.coop/ns#"
        }
    ])
}

/// The public collection, as Mastodon writes it.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
