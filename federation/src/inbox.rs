//! The inboxes (`/inbox`, `/shops/{handle}/inbox`, `/actor/inbox`): limits and checks in front of
//! the library's signature verification, then one closed set of activities.
//!
//! Order of checks: body at most 1 MiB (413, before it is read whole); a `Date` header within
//! Mastodon's window (401); valid JSON (400); then the library: `Digest` signed and matching the
//! body, the activity id on the actor's domain, the actor fetched, the signature checked against
//! the actor's key (401); then each activity's own `verify` and, once per activity id, `receive`.

use activitypub_federation::{
    axum::inbox::{ActivityData, receive_activity},
    config::Data,
    protocol::context::WithContext,
};
use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::{HeaderMap, Method, StatusCode, Uri, header},
};
use market::{Context, service::followers};

use crate::{activities::InboxActivity, error::Error, objects::remote_actor::ApubRemoteActor};

/// Largest activity accepted, as Mastodon's inbox.
pub const MAX_ACTIVITY_BYTES: usize = 1024 * 1024;
/// A signed `Date` may be at most this far in the future (Mastodon: 1 h).
const MAX_CLOCK_AHEAD: chrono::Duration = chrono::Duration::hours(1);
/// ... and at most this old (Mastodon accepts about 12 h plus skew; the library's signature
/// check is stricter still, at 1 h).
const MAX_AGE: chrono::Duration = chrono::Duration::hours(12);

/// `POST` to any inbox.
pub async fn receive(
    data: Data<Context>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Error> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::Market(market::Error::PayloadTooLarge(format!(
                "an activity may be at most {MAX_ACTIVITY_BYTES} bytes"
            )))
        } else {
            Error::BadRequest(format!("could not read the body: {}", e.body_text()))
        }
    })?;
    check_date(&headers)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("malformed JSON: {e}")))?;
    // A blocked server is refused before anything of it is fetched or checked.
    let actor_host = value["actor"]
        .as_str()
        .or_else(|| value["actor"]["id"].as_str())
        .and_then(market::service::deliveries::host_of);
    if let Some(host) = &actor_host
        && let Some(entry) = market::service::domains::blocked_by(&data, host).await?
    {
        return Err(Error::Forbidden(format!(
            "this node does not federate with {host} (blocked: {entry})"
        )));
    }
    // Allowlist mode: only approved peers, except a node asking our instance actor to
    // federate (recorded for the admin's `tianguis peer approve`).
    if data.instance.allowlist
        && let Some(host) = &actor_host
        && !is_peer_follow_request(&data, &value)
        && !market::service::peers::federates_with(&data, host).await?
    {
        return Err(Error::Forbidden(format!(
            "this node federates only with approved peers, and {host} is not one"
        )));
    }
    if is_unknown_actor_deleting_itself(&data, &value).await? {
        // Mastodon announces account deletions to every server it knows; the actor is gone (410)
        // so its key cannot be fetched. We know nothing of it, so there is nothing to do.
        return Ok(StatusCode::ACCEPTED);
    }
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(h) = request.headers_mut() {
        *h = headers;
    }
    let request = request
        .body(Body::from(body))
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let activity = ActivityData::from_request(request, &())
        .await
        .map_err(|_| Error::BadRequest("could not read the activity".into()))?;
    let limit = std::time::Duration::from_secs(9);
    let received = tokio::time::timeout(
        limit,
        receive_activity::<WithContext<InboxActivity>, ApubRemoteActor, Context>(activity, &data),
    )
    .await
    .map_err(|_| Error::BadRequest("processing the activity took too long".into()))?;
    received?;
    // The sender's signature verified: its server is up. If we had marked it unavailable, the
    // deliveries waiting for it are due again.
    if let Some(host) = actor_host
        && market::service::deliveries::host_is_up(&data, &host).await?
    {
        crate::outbox::wake();
    }
    Ok(StatusCode::ACCEPTED)
}

/// A `Follow` of our instance actor: how a node asks to become a peer.
fn is_peer_follow_request(data: &Data<Context>, value: &serde_json::Value) -> bool {
    value.get("type").and_then(|t| t.as_str()) == Some("Follow")
        && value.get("object").and_then(|o| o.as_str()) == Some(&data.instance.url("/actor"))
}

pub(crate) fn check_date(headers: &HeaderMap) -> Result<(), Error> {
    let unauthorized = |why: &str| Error::Unauthorized(why.to_string());
    let date = headers
        .get(header::DATE)
        .and_then(|d| d.to_str().ok())
        .ok_or_else(|| unauthorized("the request has no Date header"))?;
    let date = httpdate::parse_http_date(date)
        .map_err(|_| unauthorized("the Date header is malformed"))?;
    let date = chrono::DateTime::<chrono::Utc>::from(date);
    let now = chrono::Utc::now();
    if date > now + MAX_CLOCK_AHEAD {
        return Err(unauthorized(
            "the Date header is more than an hour in the future",
        ));
    }
    if date < now - MAX_AGE {
        return Err(unauthorized("the Date header is too old"));
    }
    Ok(())
}

async fn is_unknown_actor_deleting_itself(
    data: &Data<Context>,
    value: &serde_json::Value,
) -> Result<bool, Error> {
    if value.get("type").and_then(|t| t.as_str()) != Some("Delete") {
        return Ok(false);
    }
    let actor = value.get("actor").and_then(|a| a.as_str());
    let object = value.get("object").and_then(crate::activities::object_id);
    match (actor, object) {
        (Some(actor), Some(object)) if actor == object => {
            Ok(followers::find_remote_actor(data, actor).await?.is_none())
        }
        _ => Ok(false),
    }
}
