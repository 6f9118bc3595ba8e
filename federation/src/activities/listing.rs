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

/// The activity for an event, or `None` when it no longer applies (an Update of a listing that
/// was withdrawn since: the Delete that follows says it all).
pub fn build(
    data: &Data<Context>,
    event: &federation_event::Model,
    view: &ListingView,
) -> Result<Option<ListingActivity>, Error> {
    let Some(kind) = EventKind::from_stored(&event.kind) else {
        return Ok(None);
    };
    let withdrawn = view.status == "withdrawn";
    let (kind, object) = match kind {
        EventKind::Create | EventKind::Update if withdrawn => return Ok(None),
        EventKind::Create => (
            "Create",
            serde_json::to_value(listing::note(&data.instance, view)?),
        ),
        EventKind::Update => (
            "Update",
            serde_json::to_value(listing::note(&data.instance, view)?),
        ),
        EventKind::Delete => ("Delete", serde_json::to_value(listing::tombstone(view)?)),
    };
    let object = object.map_err(|e| Error::BadRequest(e.to_string()))?;
    let parse = |s: &str| Url::parse(s).map_err(|e| Error::BadRequest(e.to_string()));
    Ok(Some(ListingActivity {
        kind: kind.into(),
        id: parse(&event.activity_id)?,
        actor: parse(&view.shop.url)?,
        published: event.created_at,
        to: vec![PUBLIC.into()],
        cc: vec![format!("{}/followers", view.shop.url)],
        object,
    }))
}
