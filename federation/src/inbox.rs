//! The inboxes (`/inbox`, `/shops/{handle}/inbox`, `/actor/inbox`): limits and checks in front of
//! the library's signature verification, then one closed set of activities.
//!
//! Order of checks: body at most 1 MiB (413, before it is read whole); the signed time (`Date`
//! and the signature's `created`/`expires`) within Mastodon's window (401); valid JSON (400);
//! then the library: `Digest` signed and matching the body, the activity id on the actor's
//! domain, the actor fetched, the signature checked against the actor's key (401; after one
//! refetch of a known actor whose key may have rotated); then each activity's own `verify` and,
//! once per activity id, `receive` (`activities::once`).
//!
//! The whole of it has [`PROCESSING_LIMIT`]; past it the answer is 503 with `Retry-After`, and
//! nothing of the activity is recorded, so the sender's retry is processed afresh.

use activitypub_federation::{
    axum::inbox::{ActivityData, receive_activity},
    config::Data,
    error::Error as ApError,
    fetch::object_id::ObjectId,
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
/// A signed `Date` or `created` may be at most this far in the future (Mastodon: 1 h).
const MAX_CLOCK_AHEAD: chrono::Duration = chrono::Duration::hours(1);
/// ... and at most this old (Mastodon accepts about 12 h plus skew; the library's signature
/// check is stricter still, at 1 h).
const MAX_AGE: chrono::Duration = chrono::Duration::hours(12);
/// An `expires` may have passed by at most this much (Mastodon's clock-skew margin).
const EXPIRES_SKEW: chrono::Duration = chrono::Duration::hours(1);
/// How long an inbox request may take, fetching the sender's actor included (Lemmy: 9 s).
pub const PROCESSING_LIMIT: std::time::Duration = std::time::Duration::from_secs(9);
/// A known actor's key is refetched after a failed signature at most this often per actor.
pub const KEY_REFETCH_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

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
    check_signed_time(&headers)?;
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
    let actor_id = value["actor"]
        .as_str()
        .or_else(|| value["actor"]["id"].as_str())
        .and_then(|a| url::Url::parse(a).ok());
    let parts = (method, uri, headers, body);
    tokio::time::timeout(
        PROCESSING_LIMIT,
        verify_and_receive(&data, &parts, actor_id),
    )
    .await
    .map_err(|_| {
        Error::Unavailable(format!(
            "processing the activity took longer than {} s",
            PROCESSING_LIMIT.as_secs()
        ))
    })??;
    // The sender's signature verified: its server is up. If we had marked it unavailable, the
    // deliveries waiting for it are due again.
    if let Some(host) = actor_host
        && market::service::deliveries::host_is_up(&data, &host).await?
    {
        crate::outbox::wake();
    }
    Ok(StatusCode::ACCEPTED)
}

/// The library's checks and the activity's effect. If the signature does not verify against
/// the key we hold for a known actor, the actor may have rotated its key: it is fetched again
/// (at most once per [`KEY_REFETCH_EVERY`] per actor, so a stream of bad signatures does not
/// become a stream of fetches) and the request checked once more against the new key. The old
/// key is then gone from our copy of the actor and no longer verifies.
async fn verify_and_receive(
    data: &Data<Context>,
    parts: &(Method, Uri, HeaderMap, Bytes),
    actor_id: Option<url::Url>,
) -> Result<(), Error> {
    let started = chrono::Utc::now();
    let first = receive_once(data, parts).await;
    let Err(Error::Federation(ApError::ActivitySignatureInvalid)) = &first else {
        return first;
    };
    let Some(actor_id) = actor_id else {
        return first;
    };
    // An actor fetched during this very request (new to us) already has its current key.
    let stale = followers::find_remote_actor(data, actor_id.as_str())
        .await?
        .is_some_and(|row| row.last_refreshed_at < started);
    if !stale
        || !data
            .key_refetches
            .try_take(actor_id.as_str(), KEY_REFETCH_EVERY)
    {
        return first;
    }
    let actor: ObjectId<ApubRemoteActor> = actor_id.clone().into();
    if let Err(e) = actor.dereference_forced(data).await {
        tracing::info!(actor = %actor_id, error = %e, "refetching the actor's key failed");
        return first;
    }
    tracing::info!(actor = %actor_id, "signature failed with the stored key; refetched the actor");
    receive_once(data, parts).await
}

/// One pass of the library's `receive_activity` over the request.
async fn receive_once(
    data: &Data<Context>,
    (method, uri, headers, body): &(Method, Uri, HeaderMap, Bytes),
) -> Result<(), Error> {
    let mut request = Request::builder().method(method.clone()).uri(uri.clone());
    if let Some(h) = request.headers_mut() {
        *h = headers.clone();
    }
    let request = request
        .body(Body::from(body.clone()))
        .map_err(|e| Error::Internal(format!("rebuilding the request: {e}")))?;
    let activity = ActivityData::from_request(request, &())
        .await
        .map_err(|_| Error::Internal("could not read the activity back".into()))?;
    receive_activity::<WithContext<InboxActivity>, ApubRemoteActor, Context>(activity, data).await
}

/// A `Follow` of our instance actor: how a node asks to become a peer.
fn is_peer_follow_request(data: &Data<Context>, value: &serde_json::Value) -> bool {
    value.get("type").and_then(|t| t.as_str()) == Some("Follow")
        && value.get("object").and_then(|o| o.as_str()) == Some(&data.instance.url("/actor"))
}

/// The signed time within Mastodon's window: the `Date` header and, when the signature has
/// them (hs2019), its `created` and `expires` parameters. The library checks only that they are
/// not too old; a time far in the future would let a captured request be replayed for as long.
/// At least one of `Date` and `created` must be there.
pub fn check_signed_time(headers: &HeaderMap) -> Result<(), Error> {
    let unauthorized = |why: String| Error::Unauthorized(why);
    let now = chrono::Utc::now();
    let date = match headers.get(header::DATE) {
        None => None,
        Some(date) => {
            let date = date
                .to_str()
                .ok()
                .and_then(|d| httpdate::parse_http_date(d).ok())
                .ok_or_else(|| unauthorized("the Date header is malformed".into()))?;
            Some(chrono::DateTime::<chrono::Utc>::from(date))
        }
    };
    let signature = headers
        .get("signature")
        .and_then(|s| s.to_str().ok())
        .unwrap_or_default();
    let created = signature_time(signature, "created")?;
    let expires = signature_time(signature, "expires")?;
    if date.is_none() && created.is_none() {
        return Err(unauthorized("the request has no Date header".into()));
    }
    for (what, time) in [
        ("the Date header", date),
        ("the signature's created", created),
    ] {
        let Some(time) = time else { continue };
        if time > now + MAX_CLOCK_AHEAD {
            return Err(unauthorized(format!(
                "{what} is more than an hour in the future"
            )));
        }
        if time < now - MAX_AGE {
            return Err(unauthorized(format!("{what} is too old")));
        }
    }
    if let Some(expires) = expires
        && expires < now - EXPIRES_SKEW
    {
        return Err(unauthorized("the signature has expired".into()));
    }
    Ok(())
}

/// A Unix time parameter (`created`, `expires`) of a draft-cavage `Signature` header.
fn signature_time(
    signature: &str,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
    let Some(value) = signature.split(',').find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    }) else {
        return Ok(None);
    };
    value
        .split('.')
        .next()
        .and_then(|secs| secs.parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(Some)
        .ok_or_else(|| Error::Unauthorized(format!("the signature's {name} is malformed")))
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
