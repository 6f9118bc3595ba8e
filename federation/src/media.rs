//! Thumbnails of peers' listing images. A peer's listing keeps its photos on the peer's node;
//! our pages show a small copy we made ourselves (`market::service::images`), so a catalog page
//! neither hotlinks a dozen peers nor tells them who is browsing.
//!
//! [`cache_thumbnails`] takes entries whose `thumbs_pending` is set and GETs each image still
//! waiting, but only from the entry's own node (a peer cannot make us fetch from anyone else),
//! never from a blocked domain, https only outside debug mode, with short timeouts, reading at
//! most `media.max_image_bytes`. A failed image is tried again on later passes and given up after
//! `images::MAX_THUMBNAIL_ATTEMPTS`; a host that times out or answers 5xx/429 rests a minute,
//! so one dead peer neither stalls a pass nor uses up its images' attempts at once. What a pass
//! learned is stored only if the entry's images are still those it read: a peer's update that
//! arrived meanwhile wins, and its thumbnails are made on the next pass.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex, PoisonError},
    time::{Duration, Instant},
};

use activitypub_federation::config::{Data, FederationConfig};
use market::{
    Context,
    entities::catalog_entry,
    service::{catalog::CatalogImage, deliveries, domains, images},
};
use reqwest::header;
use tokio::sync::{Notify, watch};
use url::Url;

use crate::error::Error;

/// How often the thumbnailer looks for work when nobody wakes it.
const EVERY: Duration = Duration::from_secs(5);
/// Entries per pass of the background thumbnailer.
const BATCH: u64 = 20;
/// A peer's media server should answer quickly; ours waits this long for a connection...
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// ...and this long for the whole image.
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long a host that timed out or answered 5xx/429 is left alone.
const REST: Duration = Duration::from_secs(60);

/// Wakes the thumbnailer when entries with new images were stored.
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Tell this process's thumbnailer there are new images (a peer's listings were stored), so it
/// need not wait for its next tick.
pub fn wake_thumbnailer() {
    WAKE.notify_one();
}

/// No redirects: a redirect could lead off the entry's node.
static CLIENT: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!("Tianguis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client for thumbnails: {e}"))
});

/// Hosts resting after trouble, until when. In memory: after a restart each is tried again.
static RESTING: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(Default::default);

fn resting() -> std::sync::MutexGuard<'static, HashMap<String, Instant>> {
    RESTING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The hosts resting now (forgetting those whose rest is over).
fn resting_hosts() -> Vec<String> {
    let now = Instant::now();
    let mut hosts = resting();
    hosts.retain(|_, until| *until > now);
    hosts.keys().cloned().collect()
}

fn is_resting(host: &str) -> bool {
    resting()
        .get(host)
        .is_some_and(|until| *until > Instant::now())
}

fn rest(host: &str) {
    resting().insert(host.to_string(), Instant::now() + REST);
}

/// Why fetching an image failed.
#[derive(Debug)]
enum Failure {
    /// This image, this time (404, not an image, too large): counts as an attempt.
    Image(String),
    /// The host is in trouble (unreachable, too slow, 5xx, 429): counts, and the host rests.
    Host(String),
}

/// Make thumbnails for the images of up to `limit` peers' entries that still wait for one
/// (see the module's description). Returns how many thumbnails were made and stored.
///
/// A failure of one image or entry is logged and never stops the others; only failing to read
/// the pending entries at all is an error.
pub async fn cache_thumbnails(data: &Data<Context>, limit: u64) -> Result<usize, Error> {
    cache_until(data, limit, None).await
}

async fn cache_until(
    data: &Data<Context>,
    limit: u64,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, Error> {
    let client = CLIENT
        .as_ref()
        .map_err(|e| market::Error::Internal(e.clone()))?;
    let entries = images::entries_pending_thumbnails(data, limit, &resting_hosts()).await?;
    let mut blocked: HashMap<String, bool> = HashMap::new();
    let mut made = 0;
    for entry in entries {
        if stop.is_some_and(|s| *s.borrow()) {
            break;
        }
        match cache_entry(data, client, &entry, &mut blocked, stop).await {
            Ok(n) => made += n,
            Err(e) => tracing::warn!(entry = entry.id, error = %e, "caching thumbnails failed"),
        }
    }
    Ok(made)
}

/// One entry: fetch what its images need, then store the result if the entry is unchanged.
/// Returns how many thumbnails were stored.
async fn cache_entry(
    data: &Data<Context>,
    client: &reqwest::Client,
    entry: &catalog_entry::Model,
    blocked: &mut HashMap<String, bool>,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, Error> {
    let origin = entry.origin.as_str();
    let is_blocked = match blocked.get(origin) {
        Some(is_blocked) => *is_blocked,
        None => {
            let is_blocked = domains::blocked_by(data, origin).await?.is_some();
            blocked.insert(origin.to_string(), is_blocked);
            is_blocked
        }
    };
    if is_blocked {
        // Left as it is; resting keeps it out of the next passes' batches.
        rest(origin);
        return Ok(0);
    }
    let read: Vec<CatalogImage> = serde_json::from_str(&entry.images)
        .map_err(|e| market::Error::Internal(format!("entry {} images: {e}", entry.id)))?;
    let mut updated = read.clone();
    let media_dir = &data.instance.media_dir;
    let max_bytes = data.instance.max_image_bytes;
    let mut written = Vec::new();
    for image in updated.iter_mut().filter(|i| images::wants_thumbnail(i)) {
        if is_resting(origin) || stop.is_some_and(|s| *s.borrow()) {
            break;
        }
        let url = match fetchable(&image.url, origin, data.instance.federation_debug) {
            Ok(url) => url,
            Err(why) => {
                tracing::info!(url = image.url, why, "not fetching a peer's image");
                image.thumbnail_attempts = images::MAX_THUMBNAIL_ATTEMPTS;
                continue;
            }
        };
        let failure = match fetch(client, url, max_bytes).await {
            Ok(bytes) => {
                match images::store_remote_thumbnail(&data.instance, &image.url, bytes).await {
                    Ok(name) => {
                        image.thumbnail = Some(name.clone());
                        written.push(name);
                        continue;
                    }
                    // Our own trouble (a full disk) is not the image's fault: no attempt counted.
                    Err(e) if e.is_internal() => {
                        tracing::warn!(url = image.url, error = %e, "storing a thumbnail failed");
                        continue;
                    }
                    Err(e) => Failure::Image(e.to_string()),
                }
            }
            Err(failure) => failure,
        };
        image.thumbnail_attempts = image.thumbnail_attempts.saturating_add(1);
        let why = match failure {
            Failure::Image(why) => why,
            Failure::Host(why) => {
                rest(origin);
                why
            }
        };
        tracing::info!(
            url = image.url,
            attempts = image.thumbnail_attempts,
            why,
            "could not make a thumbnail of a peer's image"
        );
    }
    let still_pending = updated.iter().any(images::wants_thumbnail);
    if updated == read && still_pending == entry.thumbs_pending {
        return Ok(0);
    }
    let stored = images::set_entry_images(data, entry.id, &entry.images, &updated).await;
    if !matches!(stored, Ok(true)) {
        // Changed meanwhile (or the write failed): the next pass starts from what is there.
        for name in &written {
            images::remove_remote_thumbnail(media_dir, name).await;
        }
    }
    Ok(if stored? { written.len() } else { 0 })
}

/// The URL to GET for a peer's image, if we may: on the entry's node (`origin`, `host[:port]`),
/// https (or http in debug mode), and outside debug mode on a domain name, never `localhost`
/// or an IP address, so a peer cannot point us into our own network.
fn fetchable(url: &str, origin: &str, debug: bool) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if deliveries::host_of(url).as_deref() != Some(origin) {
        return Err(format!("not on the listing's node {origin}"));
    }
    match parsed.scheme() {
        "https" => {}
        "http" if debug => {}
        other => return Err(format!("scheme {other} is not allowed")),
    }
    if !debug {
        match parsed.host() {
            Some(url::Host::Domain(name))
                if !name.eq_ignore_ascii_case("localhost")
                    && !name.to_ascii_lowercase().ends_with(".localhost") => {}
            _ => return Err("not on a public domain name".into()),
        }
    }
    Ok(parsed)
}

/// GET an image: a 2xx `image/*` answer of at most `max_bytes`, read no further than that.
async fn fetch(client: &reqwest::Client, url: Url, max_bytes: usize) -> Result<Vec<u8>, Failure> {
    let from_reqwest = |e: reqwest::Error| {
        if e.is_connect() || e.is_timeout() {
            Failure::Host(e.to_string())
        } else {
            Failure::Image(e.to_string())
        }
    };
    let mut response = client
        .get(url)
        .header(header::ACCEPT, "image/*")
        .send()
        .await
        .map_err(from_reqwest)?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::Host(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(Failure::Image(format!("HTTP {status}")));
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if !content_type
        .get(..6)
        .is_some_and(|t| t.eq_ignore_ascii_case("image/"))
    {
        return Err(Failure::Image(format!(
            "content type {content_type:?} is not an image"
        )));
    }
    let too_large = || Failure::Image(format!("larger than {max_bytes} bytes"));
    let declared = response.content_length().unwrap_or(0);
    if declared > max_bytes as u64 {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared as usize);
    while let Some(chunk) = response.chunk().await.map_err(from_reqwest)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Make thumbnails until `stop` turns true: a pass of [`cache_thumbnails`] every few seconds,
/// or at once when [`wake_thumbnailer`] is called; passes follow each other without a pause
/// while they make thumbnails. On stop it finishes the image in hand (at most 15 s) and
/// returns; an image it had not started waits for the next run.
pub fn spawn_thumbnailer(
    config: FederationConfig<Context>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            let data = config.to_request_data();
            let made = match cache_until(&data, BATCH, Some(&stop)).await {
                Ok(made) => made,
                Err(e) => {
                    tracing::warn!(error = %e, "caching thumbnails failed; retrying");
                    0
                }
            };
            if made > 0 {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                () = WAKE.notified() => {}
                changed = stop.changed() => {
                    if changed.is_err() {
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
    fn images_are_fetched_only_from_the_entrys_node_over_https() {
        let origin = "shop.example";
        for ok in [
            "https://shop.example/media/a.jpg",
            "https://SHOP.example:443/media/a.jpg",
        ] {
            assert!(fetchable(ok, origin, false).is_ok(), "{ok}");
        }
        for refused in [
            "http://shop.example/media/a.jpg",
            "https://cdn.shop.example/a.jpg",
            "https://other.example/a.jpg",
            "https://shop.example:8443/a.jpg",
            "ftp://shop.example/a.jpg",
            "not a url",
        ] {
            assert!(fetchable(refused, origin, false).is_err(), "{refused}");
        }
        for (url, origin) in [
            ("https://127.0.0.1/a.jpg", "127.0.0.1"),
            ("https://localhost:8443/a.jpg", "localhost:8443"),
            ("https://[::1]/a.jpg", "[::1]"),
        ] {
            assert!(fetchable(url, origin, false).is_err(), "{url}");
            assert!(fetchable(url, origin, true).is_ok(), "{url} in debug mode");
        }
        assert!(fetchable("http://localhost:4000/a.png", "localhost:4000", true).is_ok());
        assert!(fetchable("http://localhost:4001/a.png", "localhost:4000", true).is_err());
    }
}
