//! `Create`, `Update` and `Delete` of a listing, built from the listing row when its event is
//! delivered.

use activitypub_federation::config::Data;
use market::{
    Context,
    entities::federation_event,
    service::{listings::ListingView, outbox::EventKind},
};
use url::Url;

use crate::{
    error::Error,
    objects::listing,
    protocol::{PUBLIC, activities::ListingActivity},
};

/// Which form of a listing an activity carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The `Note`, for the shop's followers (Mastodon and everyone else).
    Note,
    /// The FEP-0837 `Proposal` (with tags and photos), for peer nodes; the activity id is the
    /// event's with `/peers` appended.
    Proposal,
}

/// The activity for an event in the given form, or `None` when it no longer applies (an Update
/// of a listing that was withdrawn since: the Delete that follows says it all). A `Delete`
/// carries the Tombstone of the form's object, stamped with the withdrawal time.
pub fn build(
    data: &Data<Context>,
    event: &federation_event::Model,
    view: &ListingView,
    form: Form,
) -> Result<Option<ListingActivity>, Error> {
    let Some(kind) = EventKind::from_stored(&event.kind) else {
        return Ok(None);
    };
    if view.status == "withdrawn" && kind != EventKind::Delete {
        return Ok(None);
    }
    let object = match (kind, form) {
        (EventKind::Delete, Form::Note) => serde_json::to_value(listing::tombstone(view)?),
        (EventKind::Delete, Form::Proposal) => {
            serde_json::to_value(listing::proposal_tombstone(view)?)
        }
        (_, Form::Note) => serde_json::to_value(listing::note(&data.instance, view)?),
        (_, Form::Proposal) => serde_json::to_value(listing::proposal(&data.instance, view)?),
    }
    .map_err(|e| Error::Internal(e.to_string()))?;
    let kind = match kind {
        EventKind::Create => "Create",
        EventKind::Update => "Update",
        EventKind::Delete => "Delete",
    };
    let parse = |s: &str| Url::parse(s).map_err(|e| Error::Internal(e.to_string()));
    let (id, cc) = match form {
        Form::Note => (
            event.activity_id.clone(),
            vec![format!("{}/followers", view.shop.url)],
        ),
        Form::Proposal => (format!("{}/peers", event.activity_id), Vec::new()),
    };
    Ok(Some(ListingActivity {
        kind: kind.into(),
        id: parse(&id)?,
        actor: parse(&view.shop.url)?,
        published: event.created_at,
        to: vec![PUBLIC.into()],
        cc,
        object,
    }))
}
