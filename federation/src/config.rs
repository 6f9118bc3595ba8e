//! The library's configuration for this node.

use std::time::Duration;

use activitypub_federation::config::FederationConfig;
use market::{Context, service::instance};

use crate::{error::Error, objects::instance_actor::ApubInstance};

/// Options that are not in the TOML file: test-only host overrides.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `federation.debug`: http, ports and local addresses allowed; synchronous sending.
    pub debug: bool,
    /// Resolve these host names to these addresses (tests: `alpha.test` → 127.0.0.1).
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}

/// Build the `FederationConfig`: our domain, an HTTP client with timeouts and no redirects,
/// draft-cavage signatures that sign `host` (Mastodon's authorized fetch needs it), and GETs
/// signed by the instance actor.
pub async fn build(ctx: Context, options: &Options) -> Result<FederationConfig<Context>, Error> {
    let keys = instance::instance_keys(&ctx).await?;
    let instance_actor = ApubInstance::new(&ctx.instance, keys)?;
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("Tianguis/", env!("CARGO_PKG_VERSION")));
    for (host, addr) in &options.resolve {
        client = client.resolve(host, *addr);
    }
    let client = client
        .build()
        .map_err(|e| Error::Internal(format!("HTTP client: {e}")))?;
    register_delivery_client(&ctx.instance.domain, client.clone());
    let config = FederationConfig::builder()
        .domain(ctx.instance.domain.clone())
        .app_data(ctx)
        .client(client.into())
        .debug(options.debug)
        .http_signature_compat(true)
        .http_fetch_limit(50)
        .signed_fetch_actor(&instance_actor)
        .build()
        .await
        .map_err(|e| Error::Internal(format!("federation config: {e}")))?;
    Ok(config)
}

/// The HTTP client of each node in this process, by domain (tests run several nodes in one
/// process, each with its own host overrides). The delivery engine posts through it, so
/// deliveries share its connection pool (keep-alive per host) and timeouts.
static DELIVERY_CLIENTS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, reqwest::Client>>,
> = std::sync::LazyLock::new(Default::default);

fn register_delivery_client(domain: &str, client: reqwest::Client) {
    DELIVERY_CLIENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(domain.to_string(), client);
}

/// The client deliveries from `domain` are posted with: the one [`build`] made, or, if none was
/// built in this process, one with the same timeouts.
pub fn delivery_client(domain: &str) -> reqwest::Client {
    let mut clients = DELIVERY_CLIENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    clients
        .entry(domain.to_string())
        .or_insert_with(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(30))
                .user_agent(concat!("Tianguis/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        })
        .clone()
}
