//! Sending, through the durable delivery queue (`market::service::deliveries`). Every activity
//! leaves through [`send`], which stores it once with one delivery row per inbox; the rows are
//! attempted at once in debug mode (deterministic tests) or by a background task, and the worker
//! retries due rows with backoff, so a crash or restart loses nothing: a claimed row whose
//! worker died is taken again when its lease runs out.
//!
//! Listing changes arrive as events written with the change (`market::service::outbox`);
//! [`deliver_pending`] turns them into activities for the shop's followers.

use std::{
    collections::HashMap,
    fmt::Debug,
    sync::{Arc, LazyLock},
    time::{Duration, Instant},
};

use activitypub_federation::{
    config::{Data, FederationConfig},
    protocol::context::WithContext,
    traits::{Activity, Actor},
};
use market::{
    Context,
    entities::delivery,
    service::{
        deliveries::{self, Attempted},
        followers, instance, listings, outbox as events, shops,
    },
};
use serde::Serialize;
use tokio::{
    sync::{Notify, watch},
    task::JoinSet,
};
use url::Url;

use crate::{
    activities::listing as listing_activity,
    error::Error,
    objects::shop::ApubShop,
    protocol,
    sender::{self, Prepared, SigningKey},
};

/// Deliveries in flight at once in one process (each host also has its cap,
/// `deliveries::PER_HOST`, kept by the queue across processes).
pub const CONCURRENCY: usize = 64;
/// Outcomes are written in batches of at most this many, and at least this often.
const RECORD_BATCH: usize = 64;
const RECORD_EVERY: Duration = Duration::from_millis(250);

/// How often the worker forgets deliveries finished more than `deliveries::KEEP_FINISHED` ago,
/// and received activity ids older than `instance::REPLAY_WINDOW`.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// This process's id in the queue's leases (`deliveries::heartbeat`).
fn worker_id() -> &'static str {
    static ID: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().to_string());
    &ID
}

/// Wakes the worker when something is queued, so it need not wait for its next tick.
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Tell this process's delivery worker there is work (a listing change, a queued activity).
pub fn wake() {
    WAKE.notify_one();
}

/// Queue `activity` from `actor` to `inboxes`: serialised once and stored with one delivery per
/// inbox (duplicates removed), in one transaction. In debug mode the deliveries are attempted
/// before returning (deterministic tests); otherwise the worker is woken.
pub async fn send<A>(
    data: &Data<Context>,
    activity: A,
    actor: &impl Actor,
    inboxes: Vec<Url>,
) -> Result<(), Error>
where
    A: Activity + Serialize + Debug + Send + Sync,
{
    let ids = queue(data, activity, actor, inboxes).await?;
    if ids.is_empty() {
        return Ok(());
    }
    if data.instance.federation_debug {
        run(data, Some(&ids), None).await?;
    } else {
        wake();
    }
    Ok(())
}

/// Deliver the rows a service just queued with its own change (an order step): in debug mode at
/// once, inline or (`inline` false, from an inbox, whose answer must not wait for the other
/// node) on a task; otherwise the worker is woken.
pub async fn dispatch(data: &Data<Context>, ids: Vec<i32>, inline: bool) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    if !data.instance.federation_debug {
        wake();
        return Ok(());
    }
    if inline {
        run(data, Some(&ids), None).await?;
        // A row another attempt's per-host cap kept us from claiming is the worker's.
        wake();
        return Ok(());
    }
    let data = data.reset_request_count();
    tokio::spawn(async move {
        if let Err(e) = run(&data, Some(&ids), None).await {
            tracing::warn!(error = %e, "delivering an order step failed; the worker retries");
        }
        wake();
    });
    Ok(())
}

/// Store `activity` and its deliveries without attempting them. Returns the new deliveries.
async fn queue<A>(
    data: &Data<Context>,
    activity: A,
    actor: &impl Actor,
    inboxes: Vec<Url>,
) -> Result<Vec<i32>, Error>
where
    A: Activity + Serialize + Debug + Send + Sync,
{
    if inboxes.is_empty() {
        return Ok(Vec::new());
    }
    let activity_id = activity.id().to_string();
    let body = serde_json::to_string(&WithContext::new(activity, protocol::context()))
        .map_err(|e| Error::Internal(format!("serialising an activity: {e}")))?;
    let inboxes: Vec<String> = inboxes.iter().map(Url::to_string).collect();
    Ok(deliveries::enqueue(data, &activity_id, actor.id().as_str(), &body, &inboxes).await?)
}

/// One delivery pass at a time per process for event processing: the worker and a test's
/// explicit drain must not turn the same event into activities twice.
static DELIVERING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// Turn every pending listing event into its activity and queue it for the shop's followers,
/// then attempt every due delivery. Returns how many events were processed.
pub async fn deliver_pending(data: &Data<Context>) -> Result<usize, Error> {
    deliver_pending_until(data, None).await
}

async fn deliver_pending_until(
    data: &Data<Context>,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, Error> {
    // Deliveries go out even when turning events into activities failed this time.
    let done = queue_events(data).await;
    run(data, None, stop).await?;
    done
}

/// Turn every pending listing event into its activity, queued for the shop's followers, without
/// attempting anything. Returns how many events were processed.
pub async fn queue_events(data: &Data<Context>) -> Result<usize, Error> {
    let _one_at_a_time = DELIVERING.lock().await;
    process_events(data).await
}

async fn process_events(data: &Data<Context>) -> Result<usize, Error> {
    let mut done = 0;
    loop {
        let batch = events::pending(data, 100).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        // Peer nodes that follow our instance actor get the Proposal form: read once a batch.
        let peers: Vec<Url> = market::service::peers::subscriber_inboxes(data)
            .await?
            .iter()
            .filter_map(|i| Url::parse(i).ok())
            .collect();
        for event in batch {
            let view = match listings::get_listing(data, &event.listing_id).await {
                Ok(view) => view,
                // Gone: nothing left to announce; a stuck event must not hold up the others.
                Err(market::Error::NotFound(_)) => {
                    events::mark_processed(data, event.id).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(activity) =
                listing_activity::build(data, &event, &view, listing_activity::Form::Note)?
            {
                let shop = shops::get_shop(data, &view.shop.handle).await?;
                let inboxes = followers::follower_inboxes(data, shop.id)
                    .await?
                    .iter()
                    .filter_map(|i| Url::parse(i).ok())
                    .collect();
                let shop = ApubShop::new(&data.instance, shop)?;
                queue(data, activity, &shop, inboxes).await?;
                if !peers.is_empty()
                    && let Some(activity) = listing_activity::build(
                        data,
                        &event,
                        &view,
                        listing_activity::Form::Proposal,
                    )?
                {
                    queue(data, activity, &shop, peers.clone()).await?;
                }
            }
            events::mark_processed(data, event.id).await?;
            done += 1;
        }
    }
}

/// Attempt every delivery that is due. Returns how many were attempted.
pub async fn deliver_due(data: &Data<Context>) -> Result<usize, Error> {
    run(data, None, None).await
}

/// The delivery engine: claim due deliveries (all, or only `only`), attempt up to
/// [`CONCURRENCY`] at once on the runtime's threads (signing is CPU work, so both cores sign),
/// and record outcomes in batches, until nothing is due. With `stop` set it claims nothing
/// more and returns once the attempts in flight are recorded. Returns how many it attempted.
async fn run(
    data: &Data<Context>,
    only: Option<&[i32]>,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, Error> {
    let client = crate::config::delivery_client(&data.instance.domain);
    let mut keys: HashMap<String, Result<Arc<SigningKey>, Attempted>> = HashMap::new();
    let mut bodies: HashMap<i32, Arc<Prepared>> = HashMap::new();
    let mut in_flight: JoinSet<Attempted> = JoinSet::new();
    let mut rows: HashMap<tokio::task::Id, delivery::Model> = HashMap::new();
    let mut outcomes: Vec<(delivery::Model, Attempted)> = Vec::new();
    let mut recorded_at = Instant::now();
    let mut attempted = 0;
    let mut failure: Option<market::Error> = None;
    loop {
        let stopping = stop.is_some_and(|s| *s.borrow());
        let mut claimed_any = false;
        if !stopping && failure.is_none() && in_flight.len() <= CONCURRENCY / 2 {
            let want = (CONCURRENCY - in_flight.len()) as u64;
            let claimed = match deliveries::claim_due(data, worker_id(), want, only).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    // Claim nothing more, but finish and record what is in flight.
                    failure = Some(e);
                    Vec::new()
                }
            };
            claimed_any = !claimed.is_empty();
            attempted += claimed.len();
            for (row, activity) in claimed {
                let key = match keys.get(&activity.actor_id) {
                    Some(key) => key.clone(),
                    None => {
                        let key = signing_key(data, &activity.actor_id).await.map(Arc::new);
                        // A database hiccup is tried again with the next claim, not remembered.
                        if !matches!(key, Err(Attempted::Local { retry: true, .. })) {
                            keys.insert(activity.actor_id.clone(), key.clone());
                        }
                        key
                    }
                };
                let body = bodies
                    .entry(activity.id)
                    .or_insert_with(|| Arc::new(Prepared::new(&activity.body)))
                    .clone();
                let client = client.clone();
                let inbox = row.inbox.clone();
                let allow_http = data.instance.federation_debug;
                let handle = in_flight.spawn(async move {
                    let key = match key {
                        Ok(key) => key,
                        Err(local) => return local,
                    };
                    match checked_inbox(&inbox, allow_http) {
                        Ok(inbox) => sender::post(&client, &key, &body, &inbox).await,
                        Err(refusal) => refusal,
                    }
                });
                rows.insert(handle.id(), row);
            }
        }
        if in_flight.is_empty() {
            if !claimed_any {
                break;
            }
            continue;
        }
        // Wait for an attempt to finish, but not so long that finished ones go unrecorded.
        if let Ok(Some(joined)) =
            tokio::time::timeout(RECORD_EVERY, in_flight.join_next_with_id()).await
        {
            collect(joined, &mut rows, &mut outcomes);
            while let Some(joined) = in_flight.try_join_next_with_id() {
                collect(joined, &mut rows, &mut outcomes);
            }
        }
        if outcomes.len() >= RECORD_BATCH
            || (!outcomes.is_empty()
                && (in_flight.is_empty() || recorded_at.elapsed() >= RECORD_EVERY))
        {
            let batch = std::mem::take(&mut outcomes);
            if let Err(e) = deliveries::record(data, batch.clone()).await {
                // Keep them for the next try; claim nothing more meanwhile.
                outcomes = batch;
                failure.get_or_insert(e);
            }
            recorded_at = Instant::now();
        }
    }
    deliveries::record(data, outcomes).await?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(attempted),
    }
}

fn collect(
    joined: Result<(tokio::task::Id, Attempted), tokio::task::JoinError>,
    rows: &mut HashMap<tokio::task::Id, delivery::Model>,
    outcomes: &mut Vec<(delivery::Model, Attempted)>,
) {
    let (id, outcome) = match joined {
        Ok((id, outcome)) => (id, outcome),
        Err(e) => (
            e.id(),
            Attempted::Local {
                error: format!("delivery task failed: {e}"),
                retry: true,
            },
        ),
    };
    if let Some(row) = rows.remove(&id) {
        outcomes.push((row, outcome));
    }
}

/// The inboxes we post to: https to a domain name, or anything on loopback in debug mode
/// (tests). An IP address or `localhost` outside debug mode is refused: a remote actor must not
/// make us POST into our own network.
pub(crate) fn checked_inbox(inbox: &str, debug: bool) -> Result<Url, Attempted> {
    let refuse = |error: String| Attempted::Local {
        error,
        retry: false,
    };
    let url = Url::parse(inbox).map_err(|e| refuse(format!("bad inbox URL: {e}")))?;
    if debug {
        return match url.scheme() {
            "https" | "http" => Ok(url),
            other => Err(refuse(format!("inbox scheme {other} is not allowed"))),
        };
    }
    if url.scheme() != "https" {
        return Err(refuse(format!(
            "inbox scheme {} is not allowed (https only)",
            url.scheme()
        )));
    }
    match url.host() {
        Some(url::Host::Domain(name))
            if !name.eq_ignore_ascii_case("localhost")
                && !name.to_ascii_lowercase().ends_with(".localhost") =>
        {
            Ok(url)
        }
        _ => Err(refuse(format!(
            "inbox {inbox} is not on a public domain name"
        ))),
    }
}

/// The key that signs a stored activity: its shop's, its user's, the instance actor's or the
/// co-op actor's. A database error is worth retrying; a missing or unreadable key is not.
async fn signing_key(data: &Data<Context>, actor_id: &str) -> Result<SigningKey, Attempted> {
    let retry = |e: market::Error| Attempted::Local {
        error: format!("reading the signing key: {e}"),
        retry: true,
    };
    let give_up = |error: String| Attempted::Local {
        error: format!("cannot sign: {error}"),
        retry: false,
    };
    let key_id = format!("{actor_id}#main-key");
    if actor_id == data.instance.url("/actor") {
        let keys = instance::instance_keys(data).await.map_err(retry)?;
        return SigningKey::from_pkcs8_pem(&key_id, &keys.private_key_pem).map_err(give_up);
    }
    if actor_id == data.instance.url(crate::governance::COOP_PATH) {
        let keys = instance::coop_keys(data).await.map_err(retry)?;
        return SigningKey::from_pkcs8_pem(&key_id, &keys.private_key_pem).map_err(give_up);
    }
    if let Some(user) = market::service::accounts::find_by_actor(data, actor_id)
        .await
        .map_err(retry)?
    {
        let keys = market::service::accounts::user_keys(data, user.id)
            .await
            .map_err(retry)?;
        return SigningKey::from_pkcs8_pem(&key_id, &keys.private_key_pem).map_err(give_up);
    }
    let shop = shops::find_shop_by_ap_id(data, actor_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| give_up(format!("no shop {actor_id}")))?;
    SigningKey::from_pkcs8_pem(&key_id, &shop.private_key_pem).map_err(give_up)
}

/// Deliver until `stop` turns true: each pass turns pending listing events into activities and
/// attempts every due delivery; then the worker sleeps until `interval` passes or [`wake`] is
/// called. Events written by the CLI (another process) and deliveries whose retry time has come
/// are picked up on the next tick. On stop it finishes the attempts in flight (each at most
/// 30 s) and returns; a delivery it had not started stays pending for the next run.
pub fn spawn_worker(
    config: FederationConfig<Context>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let beating = config.to_request_data();
    let heartbeat = tokio::spawn(async move {
        // Say we are alive while we hold leases; a killed process stops beating and its leases
        // are void after `deliveries::DEAD_AFTER` instead of running their two minutes.
        let every = deliveries::HEARTBEAT
            .to_std()
            .unwrap_or(Duration::from_secs(3));
        loop {
            if let Err(e) = deliveries::heartbeat(&beating, worker_id()).await {
                tracing::warn!(error = %e, "delivery worker heartbeat failed");
            }
            // Beats on through a stop, while the worker drains: it holds leases until then.
            tokio::time::sleep(every).await;
        }
    });
    tokio::spawn(async move {
        let mut pruned_at: Option<Instant> = None;
        loop {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(Instant::now());
                let data = config.to_request_data();
                let before = chrono::Utc::now() - deliveries::KEEP_FINISHED;
                match deliveries::give_up_on_dead_hosts(&data).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(given_up = n, "gave up deliveries to dead hosts"),
                    Err(e) => tracing::warn!(error = %e, "giving up on dead hosts failed"),
                }
                match deliveries::prune(&data, before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "forgot finished deliveries"),
                    Err(e) => tracing::warn!(error = %e, "pruning finished deliveries failed"),
                }
                let replayable = chrono::Utc::now() - instance::REPLAY_WINDOW;
                match instance::forget_received_before(&data, replayable).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "forgot received activity ids"),
                    Err(e) => tracing::warn!(error = %e, "pruning received activity ids failed"),
                }
            }
            if *stop.borrow() {
                heartbeat.abort();
                let data = config.to_request_data();
                if let Err(e) = deliveries::retire(&data, worker_id()).await {
                    tracing::warn!(error = %e, "could not retire the delivery worker");
                }
                return;
            }
            let data = config.to_request_data();
            if let Err(e) = deliver_pending_until(&data, Some(&stop)).await {
                tracing::warn!(error = %e, "delivering activities failed; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = WAKE.notified() => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        heartbeat.abort();
                        return;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_debug_mode_only_https_domain_names_are_posted_to() {
        for ok in [
            "https://mastodon.example/inbox",
            "https://a.b.example:8443/users/x/inbox",
        ] {
            assert!(checked_inbox(ok, false).is_ok(), "{ok}");
        }
        for refused in [
            "http://mastodon.example/inbox",
            "https://127.0.0.1/inbox",
            "https://10.0.0.5:6443/x",
            "https://[::1]/inbox",
            "https://localhost/inbox",
            "https://db.localhost/inbox",
            "ftp://mastodon.example/inbox",
            "not a url",
        ] {
            assert!(
                matches!(
                    checked_inbox(refused, false),
                    Err(Attempted::Local { retry: false, .. })
                ),
                "{refused}"
            );
        }
        assert!(
            checked_inbox("http://127.0.0.1:4000/inbox", true).is_ok(),
            "debug mode"
        );
    }
}
