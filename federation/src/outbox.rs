//! Sending. Every activity leaves through [`send`]: the one place to change when deliveries move
//! to the durable queue. Listing changes arrive as events written with the change
//! (`market::service::outbox`); [`deliver_pending`] turns them into activities for the shop's
//! followers, and a background worker calls it every few seconds.

use std::{fmt::Debug, sync::LazyLock, time::Duration};

use activitypub_federation::{
    activity_queue::queue_activity,
    config::{Data, FederationConfig},
    protocol::context::WithContext,
    traits::{Activity, Actor},
};
use market::{
    Context,
    service::{followers, listings, outbox as events, shops},
};
use serde::Serialize;
use url::Url;

use crate::{
    activities::listing as listing_activity, error::Error, objects::shop::ApubShop, protocol,
};

/// Send `activity` from `actor` to `inboxes`, signed. For now this goes through the library's
/// queue (synchronous in debug mode).
pub async fn send<A>(
    data: &Data<Context>,
    activity: A,
    actor: &impl Actor,
    inboxes: Vec<Url>,
) -> Result<(), Error>
where
    A: Activity + Serialize + Debug + Send + Sync,
    <A as Activity>::Error: From<activitypub_federation::error::Error>,
{
    if inboxes.is_empty() {
        return Ok(());
    }
    let activity = WithContext::new(activity, protocol::context());
    queue_activity(&activity, actor, inboxes, data).await?;
    Ok(())
}

/// One delivery pass at a time per process: the worker and a test's explicit drain must not
/// send the same event twice.
static DELIVERING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// Turn every pending listing event into its activity and send it to the shop's followers.
/// Returns how many events were processed.
pub async fn deliver_pending(data: &Data<Context>) -> Result<usize, Error> {
    let _one_at_a_time = DELIVERING.lock().await;
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

/// Run [`deliver_pending`] every `interval` until the task is aborted. Events written by the CLI
/// (another process) are picked up on the next tick.
pub fn spawn_worker(
    config: FederationConfig<Context>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let data = config.to_request_data();
            if let Err(e) = deliver_pending(&data).await {
                tracing::warn!(error = %e, "delivering listing activities failed; retrying");
            }
            tokio::time::sleep(interval).await;
        }
    })
}
