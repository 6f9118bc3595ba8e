//! Conformance with other servers' real JSON (../shared/fixtures, named by source in its
//! MANIFEST.md; read from `TIANGUIS_FIXTURES_DIR`, never copied into this repository).
//!
//! Every actor must parse as the actor the inbox accepts, and every Follow, Accept, Undo,
//! Create, Update and Delete as one of the inbox's activities, into the variant that will handle
//! it. Files of other types are not in scope for this check and are listed by name; files we
//! deliberately do not support are listed with the reason. Nothing is skipped silently.

use std::path::{Path, PathBuf};

use activitypub_federation::protocol::context::WithContext;
use federation::{activities::InboxActivity, protocol::actor::RemoteActorJson};
use serde_json::Value;

/// Fixtures we deliberately do not parse, with the reason.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "fep-0ea0/object_with_buy_payment_link.json",
        "an Image object, not an actor or activity",
    ),
    (
        "fep-0837/person_with_proposal_payment_link.json",
        "a spec example of an actor without publicKey: an actor that cannot sign cannot send us anything",
    ),
    (
        "gotosocial/delete_bare_id.json",
        "an activity without an id (GoToSocial's test output omits it): the inbox needs the id to \
         check the sender's domain and to ignore replays",
    ),
    (
        "lemmy/accept_follow_embedded.json",
        "no @context (Lemmy's test asset strips it; Lemmy sends one): like Mastodon, the inbox \
         requires @context",
    ),
];

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_actor_and_activity_of_other_servers_parses() {
    let Some(dir) = harness::optional::fixtures_dir() else {
        return;
    };
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    let (mut actors, mut activities, mut other) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if UNSUPPORTED.iter().any(|(f, _)| *f == name) {
            continue;
        }
        let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let kind = value["type"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "Person" | "Service" | "Organization" | "Application" | "Group" => {
                actors += 1;
                if let Err(e) = serde_json::from_value::<RemoteActorJson>(value) {
                    failures.push(format!("{name}: actor: {e}"));
                }
            }
            "Follow" | "Accept" | "Reject" | "Offer" | "Undo" | "Create" | "Update" | "Delete" => {
                activities += 1;
                match serde_json::from_value::<WithContext<InboxActivity>>(value) {
                    Ok(parsed) => {
                        let variant = match parsed.inner() {
                            InboxActivity::Follow(_) => "Follow",
                            InboxActivity::Undo(_) => "Undo",
                            InboxActivity::Delete(_) => "Delete",
                            InboxActivity::FollowAnswer(_) => "Accept",
                            InboxActivity::Publish(_) => "Publish",
                            InboxActivity::Offer(_) => "Offer",
                            InboxActivity::Other(_) => "other",
                        };
                        let expected = match kind.as_str() {
                            "Follow" | "Undo" | "Delete" | "Accept" | "Offer" => kind.as_str(),
                            "Reject" => "Accept",
                            "Create" | "Update" => "Publish",
                            _ => "other",
                        };
                        if variant != expected {
                            failures
                                .push(format!("{name}: parsed as {variant}, expected {expected}"));
                        }
                    }
                    Err(e) => failures.push(format!("{name}: activity: {e}")),
                }
            }
            _ => other.push(format!("{name} ({kind})")),
        }
    }
    println!(
        "{actors} actors and {activities} activities parsed; out of scope here: {}",
        other.join(", ")
    );
    for (file, reason) in UNSUPPORTED {
        println!("not supported: {file}: {reason}");
    }
    assert!(
        actors >= 10 && activities >= 20,
        "too few fixtures found in {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "{} fixtures failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
