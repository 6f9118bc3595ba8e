//! Sending, through the durable delivery queue (`market::service::deliveries`). Every activity
//! leaves through [`send`], which stores it once with one delivery row per inbox; the rows are
//! attempted at once in debug mode (deterministic tests) or by a background task, and the worker
//! retries due rows with backoff, so a crash or restart loses nothing: a claimed row whose
//! worker died is taken again when its lease runs out.
//!
//! Listing changes arrive as events written with the change (`market::service::outbox`);
//! [`deliver_pending`] turns them into activities for the shop's followers.

use std::{collections::BTreeMap, fmt::Debug, sync::LazyLock, time::Duration};

use activitypub_federation::{
    activity_sending::SendActivityTask,
    config::{Data, FederationConfig},
    protocol::context::WithContext,
    traits::{Activity, Actor},
};
use futures::{StreamExt, stream};
use market::{
    Context,
    service::{deliveries, followers, instance, listings, outbox as events, shops},
};
use serde::Serialize;
use url::Url;

use crate::{
    activities::listing as listing_activity,
    error::Error,
    objects::{instance_actor::ApubInstance, shop::ApubShop},
    protocol::{self, activities::StoredActivity},
};

/// Deliveries attempted at the same time by one worker.
const CONCURRENT_DELIVERIES: usize = 16;
/// Deliveries to one host at the same time, across this process (a busy server is not flooded).
pub const PER_HOST_CONCURRENCY: usize = 4;

/// One semaphore per host, shared by everything that delivers in this process.
static HOSTS: LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>>,
> = LazyLock::new(Default::default);

fn host_permits(host: &str) -> std::sync::Arc<tokio::sync::Semaphore> {
    let mut hosts = HOSTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    hosts
        .entry(host.to_string())
        .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(PER_HOST_CONCURRENCY)))
        .clone()
}

/// Queue `activity` from `actor` to `inboxes`: stored once, one delivery per inbox (duplicates
/// removed), then attempted at once in debug mode or in a background task.
pub async fn send<A>(
    data: &Data<Context>,
    activity: A,
    actor: &impl Actor,
    inboxes: Vec<Url>,
) -> Result<(), Error>
where
    A: Activity + Serialize + Debug + Send + Sync,
{
    if inboxes.is_empty() {
        return Ok(());
    }
    let activity_id = activity.id().to_string();
    let body = serde_json::to_string(&WithContext::new(activity, protocol::context()))
        .map_err(|e| Error::BadRequest(format!("serialising an activity: {e}")))?;
    let inboxes: Vec<String> = inboxes.iter().map(Url::to_string).collect();
    let ids = deliveries::enqueue(data, &activity_id, actor.id().as_str(), &body, &inboxes).await?;
    if data.instance.federation_debug {
        deliver_ids(data, ids).await?;
    } else {
        let data = data.reset_request_count();
        tokio::spawn(async move {
            if let Err(e) = deliver_ids(&data, ids).await {
                tracing::warn!(error = %e, "first delivery attempt failed; the worker retries");
            }
        });
    }
    Ok(())
}

/// One delivery pass at a time per process for event processing: the worker and a test's
/// explicit drain must not turn the same event into activities twice.
static DELIVERING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// Turn every pending listing event into its activity and queue it for the shop's followers,
/// then attempt every due delivery. Returns how many events were processed.
pub async fn deliver_pending(data: &Data<Context>) -> Result<usize, Error> {
    let done = {
        let _one_at_a_time = DELIVERING.lock().await;
        process_events(data).await?
    };
    deliver_due(data).await?;
    Ok(done)
}

async fn process_events(data: &Data<Context>) -> Result<usize, Error> {
    let mut done = 0;
    loop {
        let batch = events::pending(data, 100).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        for event in batch {
            let view = listings::get_listing(data, &event.listing_id).await?;
            if let Some(activity) = listing_activity::build(data, &event, &view)? {
                let shop = shops::get_shop(data, &view.shop.handle).await?;
                let inboxes = followers::follower_inboxes(data, shop.id)
                    .await?
                    .iter()
                    .filter_map(|i| Url::parse(i).ok())
                    .collect();
                let shop = ApubShop::new(&data.instance, shop)?;
                send(data, activity, &shop, inboxes).await?;
            }
            events::mark_processed(data, event.id).await?;
            done += 1;
        }
    }
}

/// Attempt every delivery that is due. Returns how many were attempted.
pub async fn deliver_due(data: &Data<Context>) -> Result<usize, Error> {
    let mut attempted = 0;
    loop {
        let claimed = deliveries::claim_due(data, 100, None).await?;
        if claimed.is_empty() {
            return Ok(attempted);
        }
        attempted += claimed.len();
        attempt_all(data, claimed).await;
    }
}

async fn deliver_ids(data: &Data<Context>, ids: Vec<i32>) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let claimed = deliveries::claim_due(data, ids.len() as u64, Some(&ids)).await?;
    attempt_all(data, claimed).await;
    Ok(())
}

/// The actor whose key signs a stored activity.
enum Signer {
    Shop(Box<ApubShop>),
    Instance(Box<ApubInstance>),
}

async fn signer(data: &Data<Context>, actor_id: &str) -> Result<Signer, Error> {
    if actor_id == data.instance.url("/actor") {
        let keys = instance::instance_keys(data).await?;
        return Ok(Signer::Instance(Box::new(ApubInstance::new(
            &data.instance,
            keys,
        )?)));
    }
    let shop = shops::find_shop_by_ap_id(data, actor_id)
        .await?
        .ok_or_else(|| Error::Market(market::Error::not_found("signing shop")))?;
    Ok(Signer::Shop(Box::new(ApubShop::new(&data.instance, shop)?)))
}

async fn attempt_all(data: &Data<Context>, claimed: Vec<deliveries::Claimed>) {
    // Parse each activity and load its signer once, however many inboxes it goes to.
    let mut by_activity: BTreeMap<i32, (market::entities::outbox_activity::Model, Vec<_>)> =
        BTreeMap::new();
    for (delivery, activity) in claimed {
        by_activity
            .entry(activity.id)
            .or_insert_with(|| (activity, Vec::new()))
            .1
            .push(delivery);
    }
    for (_, (activity, rows)) in by_activity {
        let parsed: Result<StoredActivity, _> = serde_json::from_str(&activity.body);
        let signer = signer(data, &activity.actor_id).await;
        let (parsed, signer) = match (parsed, signer) {
            (Ok(parsed), Ok(signer)) => (parsed, signer),
            (Err(e), _) => {
                fail_all(data, &rows, &format!("stored activity unreadable: {e}")).await;
                continue;
            }
            (_, Err(e)) => {
                fail_all(data, &rows, &format!("no signer: {e}")).await;
                continue;
            }
        };
        let parsed = &parsed;
        let signer = &signer;
        stream::iter(rows)
            .for_each_concurrent(CONCURRENT_DELIVERIES, |row| async move {
                let permits = host_permits(&row.host);
                let _permit = permits.acquire().await;
                let outcome = attempt_one(data, parsed, signer, &row.inbox).await;
                let recorded = match outcome {
                    Ok(()) => deliveries::mark_done(data, row.id).await,
                    Err(e) => deliveries::mark_failed_attempt(data, &row, &e).await,
                };
                if let Err(e) = recorded {
                    tracing::error!(delivery = row.id, error = %e, "could not record a delivery attempt");
                }
            })
            .await;
    }
}

async fn fail_all(data: &Data<Context>, rows: &[market::entities::delivery::Model], error: &str) {
    for row in rows {
        if let Err(e) = deliveries::mark_failed_attempt(data, row, error).await {
            tracing::error!(delivery = row.id, error = %e, "could not record a delivery attempt");
        }
    }
}

/// Sign and POST once. `Ok` means delivered, or refused for good (a 4xx other than 408/429,
/// which the library treats as final); `Err` is worth retrying.
async fn attempt_one(
    data: &Data<Context>,
    activity: &StoredActivity,
    signer: &Signer,
    inbox: &str,
) -> Result<(), String> {
    let inbox = Url::parse(inbox).map_err(|e| format!("bad inbox URL: {e}"))?;
    let tasks = match signer {
        Signer::Shop(shop) => {
            SendActivityTask::prepare(activity, shop.as_ref(), vec![inbox], data).await
        }
        Signer::Instance(actor) => {
            SendActivityTask::prepare(activity, actor.as_ref(), vec![inbox], data).await
        }
    }
    .map_err(|e| e.to_string())?;
    let Some(task) = tasks.into_iter().next() else {
        // The library drops inboxes its URL policy refuses (local, blocked, http without debug):
        // nothing to retry.
        return Ok(());
    };
    task.sign_and_send(data).await.map_err(|e| e.to_string())
}

/// Run [`deliver_pending`] every `interval` until the task is aborted. Events written by the CLI
/// (another process) and deliveries whose retry time has come are picked up on the next tick.
pub fn spawn_worker(
    config: FederationConfig<Context>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let data = config.to_request_data();
            if let Err(e) = deliver_pending(&data).await {
                tracing::warn!(error = %e, "delivering activities failed; retrying");
            }
            tokio::time::sleep(interval).await;
        }
    })
}
