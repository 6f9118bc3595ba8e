//! Our own output, captured from a running node (`tests/fixtures/tianguis/`), parsed back into
//! the wire types and serialised again: a change to a wire type that would break what we sent
//! before fails here (as Lemmy's `test_parse_lemmy_item` does).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use activitypub_federation::fetch::webfinger::Webfinger;
use federation::protocol::{
    actor::ShopActor,
    collection::OrderedCollectionPage,
    listing::{ListingNote, Proposal},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

fn round_trip<T: DeserializeOwned + Serialize>(file: &str) -> T {
    let path = format!(
        "{}/tests/fixtures/tianguis/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut original: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if let Value::Object(map) = &mut original {
        map.remove("@context");
    }
    let parsed: T =
        serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        again, original,
        "{file} changes when read and written again"
    );
    parsed
}

#[test]
fn shop_actor_round_trips() {
    let actor: ShopActor = round_trip("shop_actor.json");
    assert_eq!(actor.kind, "Organization");
    assert_eq!(actor.public_key.owner, actor.id);
}

#[test]
fn listing_note_and_proposal_round_trip_and_agree() {
    let note: ListingNote = round_trip("listing_note.json");
    let proposal: Proposal = round_trip("listing_proposal.json");
    assert_eq!(proposal.url, note.id);
    assert!(
        note.content
            .contains(&proposal.reciprocal.resource_quantity.has_numerical_value)
    );
    let stock = proposal
        .publishes
        .available_quantity
        .unwrap()
        .has_numerical_value;
    assert!(note.content.contains(&format!("{stock} in stock")));
    // The Proposal carries the Note's tags and photos, so a peer copies a listing from it alone.
    assert_eq!(proposal.tag, note.tag);
    let photos: Vec<_> = note
        .attachment
        .iter()
        .filter_map(|a| match a {
            federation::protocol::listing::Attachment::Image(image) => Some(image.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(proposal.attachment, photos);
}

#[test]
fn outbox_page_and_webfinger_round_trip() {
    let page: OrderedCollectionPage = round_trip("shop_outbox_page.json");
    assert!(!page.ordered_items.is_empty());
    for item in &page.ordered_items {
        let note: ListingNote = serde_json::from_value(item["object"].clone()).unwrap();
        assert_eq!(note.kind, "Note");
    }
    let webfinger: Webfinger = round_trip("webfinger.json");
    assert!(webfinger.subject.starts_with("acct:"));
}
