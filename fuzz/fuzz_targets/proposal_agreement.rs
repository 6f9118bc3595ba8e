//! The FEP-0837 readers: a peer's `Proposal` (catalog sync) and a buyer's `Offer{Agreement}` to
//! one of our shops. Any JSON: no panic, and an Agreement is either refused with a 4xx reason,
//! answered (Accept/Reject queued), or ignored — never an internal error.
//!
//! Input: one byte choosing the reader, then JSON. Seeds: `seed.sh` (the FEP's own examples).
#![no_main]

mod common;

use activitypub_federation::fetch::object_id::ObjectId;
use federation::{error::Error, objects::remote_actor::ApubRemoteActor};
use libfuzzer_sys::fuzz_target;
use market::entities::remote_actor;

fn shop() -> ApubRemoteActor {
    let row = remote_actor::Model {
        id: 1,
        ap_id: "http://127.0.0.1:1/shops/pottery".into(),
        actor_type: "Organization".into(),
        preferred_username: Some("pottery".into()),
        name: "Pottery".into(),
        inbox: "http://127.0.0.1:1/shops/pottery/inbox".into(),
        shared_inbox: None,
        public_key_pem: String::new(),
        domain: "127.0.0.1:1".into(),
        last_refreshed_at: chrono::Utc::now(),
    };
    ApubRemoteActor::try_from(row).expect("a well-formed actor")
}

fuzz_target!(|input: &[u8]| {
    let Some((&which, json)) = input.split_first() else {
        return;
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    if which & 1 == 0 {
        let _ = federation::peering::read_proposal("http://127.0.0.1:1", &value, &shop());
        return;
    }
    let fixture = common::fixture();
    // Half the inputs name our listing's Proposal, so the reader goes past that check.
    if which & 2 != 0
        && let Some(primary) = value.get_mut("stipulates").and_then(|s| s.as_object_mut())
    {
        primary.insert(
            "satisfies".into(),
            format!("{}#primary", fixture.proposal).into(),
        );
    }
    let data = fixture.node.federation.to_request_data();
    let offer_id =
        url::Url::parse(&format!("http://127.0.0.1:1/offers/{}", uuid_like(input))).expect("a url");
    let actor: ObjectId<ApubRemoteActor> =
        ObjectId::parse("http://127.0.0.1:1/users/cid").expect("an actor id");
    let result = fixture.runtime.block_on(federation::orders::receive_offer(
        &data, &offer_id, &actor, &value,
    ));
    if let Err(Error::Market(e)) = &result {
        assert!(e.status() < 500, "{} for {value}: {e}", e.status());
    }
});

/// A distinct offer id per input.
fn uuid_like(input: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
