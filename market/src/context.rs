//! The shared context handed to every service: the database and what the node knows about itself.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use sea_orm::DatabaseConnection;
use url::Url;

use crate::{Error, Result};

/// Who this node is: its domain, name and where its files live. Built once from the config.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The node's domain as it appears in ids and handles, e.g. `coop.example` or `localhost:8080`.
    pub domain: String,
    /// Human name shown on pages.
    pub name: String,
    /// `https://{domain}` (or `http://` for local and debug nodes): the prefix of every id.
    pub base_url: Url,
    /// Where uploaded images and thumbnails are stored.
    pub media_dir: PathBuf,
    /// Largest accepted image upload, in bytes.
    pub max_image_bytes: usize,
    /// `[media] max_megapixels` and `decodes_at_once`: this node's image decoding budget, with
    /// its own permits.
    pub decoding: crate::service::images::DecodeLimits,
    /// `federation.debug`: deliveries are attempted at once, in the request that makes them
    /// (deterministic tests), instead of by a background task.
    pub federation_debug: bool,
    /// `federation.mode = "allowlist"`: only peers our admin approved federate with us.
    pub allowlist: bool,
    /// `federation.catalog_page_limit`: most pages of a peer's catalog read in one sync run.
    pub catalog_page_limit: u64,
    /// `orders.payment_days`: days an accepted order may stay unpaid (0: forever).
    pub payment_days: u32,
    /// `orders.answer_days`: days an order held by a shop that accepts by hand may wait for an
    /// answer (0: forever).
    pub answer_days: u32,
    /// `coop.commission_percent`, in basis points: the co-op's share of each sale.
    pub commission_bp: u32,
    /// `coop.payment_cost_percent`, in basis points: what payments cost the co-op.
    pub payment_cost_bp: u32,
    /// The rest of `[coop]`: membership, voting and surplus allocation.
    pub bylaws: crate::bylaws::Bylaws,
}

impl Instance {
    /// Describe a node. `insecure_http` selects `http://` ids (local development and tests).
    pub fn new(
        domain: &str,
        name: &str,
        insecure_http: bool,
        media_dir: PathBuf,
        max_image_bytes: usize,
    ) -> Result<Self> {
        let scheme = if insecure_http { "http" } else { "https" };
        let base_url = Url::parse(&format!("{scheme}://{domain}/"))
            .map_err(|e| Error::invalid("instance.domain", format!("not a valid domain: {e}")))?;
        if base_url.host_str().is_none() || base_url.path() != "/" {
            return Err(Error::invalid(
                "instance.domain",
                "give a bare domain such as coop.example or localhost:8080",
            ));
        }
        Ok(Instance {
            domain: domain.to_string(),
            name: name.to_string(),
            base_url,
            media_dir,
            max_image_bytes,
            decoding: crate::service::images::DecodeLimits::default(),
            federation_debug: false,
            allowlist: false,
            catalog_page_limit: 1000,
            payment_days: 7,
            answer_days: 3,
            commission_bp: 500,
            payment_cost_bp: 0,
            bylaws: crate::bylaws::Bylaws::default(),
        })
    }

    /// An absolute URL on this node for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// The id (and page) of a shop.
    pub fn shop_url(&self, handle: &str) -> String {
        self.url(&format!("/shops/{handle}"))
    }

    /// The id (and page) of a listing.
    pub fn listing_url(&self, id: &str) -> String {
        self.url(&format!("/listings/{id}"))
    }

    /// The public URL of a stored media file.
    pub fn media_url(&self, file_name: &str) -> String {
        self.url(&format!("/media/{file_name}"))
    }

    /// Extract a listing id from one of this node's listing URLs, or accept a bare id.
    pub fn listing_id_from_url(&self, url_or_id: &str) -> Result<String> {
        let bad = || {
            Error::invalid(
                "url",
                format!(
                    "{url_or_id:?} is not a listing URL of this node ({})",
                    self.domain
                ),
            )
        };
        if !url_or_id.contains('/') {
            return uuid::Uuid::parse_str(url_or_id)
                .map(|u| u.to_string())
                .map_err(|_| bad());
        }
        let url = Url::parse(url_or_id).map_err(|_| bad())?;
        if url.host_str() != self.base_url.host_str() || url.port() != self.base_url.port() {
            return Err(bad());
        }
        let mut segments = url.path_segments().ok_or_else(bad)?;
        match (segments.next(), segments.next(), segments.next()) {
            (Some("listings"), Some(id), None) => uuid::Uuid::parse_str(id)
                .map(|u| u.to_string())
                .map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// Everything a service needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Context {
    /// The database pool (SQLite or PostgreSQL).
    pub db: DatabaseConnection,
    /// This node.
    pub instance: Arc<Instance>,
    /// When the inbox last refetched each remote actor after its signature failed to verify
    /// (key rotation), so a sender cannot make us fetch its actor on every request.
    pub key_refetches: Arc<OncePer>,
    /// The activity ids the inbox is processing now, so a copy arriving meanwhile waits for the
    /// outcome instead of running the same effect alongside.
    pub inbox_in_flight: Arc<InFlight>,
}

impl Context {
    /// Bundle a database and an instance description.
    pub fn new(db: DatabaseConnection, instance: Instance) -> Self {
        Context {
            db,
            instance: Arc::new(instance),
            key_refetches: Arc::default(),
            inbox_in_flight: Arc::default(),
        }
    }
}

/// Keys being worked on now in this process; a [`Claim`] holds one until it is dropped (also
/// when the work is cancelled).
#[derive(Debug, Default)]
pub struct InFlight {
    keys: Mutex<HashSet<String>>,
}

impl InFlight {
    /// Claim `key`, or `None` if it is already claimed.
    pub fn claim(self: &Arc<Self>, key: &str) -> Option<Claim> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.insert(key.to_string()).then(|| Claim {
            set: Arc::clone(self),
            key: key.to_string(),
        })
    }
}

/// A key of an [`InFlight`] set, released on drop.
#[derive(Debug)]
pub struct Claim {
    set: Arc<InFlight>,
    key: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// "At most once per period" for each key (an actor id), in this process: each node has its
/// own (a field of its [`Context`], not a static).
#[derive(Debug, Default)]
pub struct OncePer {
    last: Mutex<HashMap<String, Instant>>,
}

impl OncePer {
    /// Entries kept before old ones are swept out.
    const SWEEP_ABOVE: usize = 1024;

    /// True, and the time noted, if `key` was not taken in the last `every`; false otherwise.
    pub fn try_take(&self, key: &str, every: Duration) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if last
            .get(key)
            .is_some_and(|at| now.duration_since(*at) < every)
        {
            return false;
        }
        if last.len() >= Self::SWEEP_ABOVE {
            last.retain(|_, at| now.duration_since(*at) < every);
        }
        last.insert(key.to_string(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn instance() -> Instance {
        Instance::new("coop.example", "Coop", false, "/tmp".into(), 1024).unwrap()
    }

    #[test]
    fn listing_urls_round_trip() {
        let i = instance();
        let id = uuid::Uuid::new_v4().to_string();
        let url = i.listing_url(&id);
        assert_eq!(url, format!("https://coop.example/listings/{id}"));
        assert_eq!(i.listing_id_from_url(&url).unwrap(), id);
        assert_eq!(i.listing_id_from_url(&id).unwrap(), id);
    }

    #[test]
    fn foreign_or_malformed_urls_are_refused() {
        let i = instance();
        let id = uuid::Uuid::new_v4();
        for bad in [
            format!("https://other.example/listings/{id}"),
            format!("https://coop.example/shops/{id}"),
            "https://coop.example/listings/not-a-uuid".to_string(),
            "nonsense".to_string(),
        ] {
            assert!(i.listing_id_from_url(&bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn domain_with_path_is_refused() {
        assert!(Instance::new("coop.example/x", "C", false, "/tmp".into(), 1).is_err());
    }
}
