//! Building and running the node: database, migrations, routes, and an HTTP server with header
//! and body timeouts and graceful shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use federation::FederationConfig;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use market::{Context, Instance};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::{config::Config, routes};

/// Open the database (creating `./data` for the embedded default), apply migrations and build
/// the shared context. Used by `serve` and by every CLI command.
pub async fn open_context(config: &Config) -> anyhow::Result<Context> {
    if let Some(file) = config.sqlite_file()
        && let Some(parent) = file.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the database directory {}", parent.display()))?;
    }
    std::fs::create_dir_all(&config.media.dir).with_context(|| {
        format!(
            "creating the media directory {}",
            config.media.dir.display()
        )
    })?;
    let db = market::db::connect(&config.database.url)
        .await
        .with_context(|| format!("opening the database {}", redact(&config.database.url)))?;
    market::db::migrate(&db)
        .await
        .context("applying migrations")?;
    let mut instance = Instance::new(
        &config.instance.domain,
        &config.instance.name,
        config.insecure_http(),
        config.media.dir.clone(),
        config.media.max_image_bytes,
    )?;
    instance.decoding = market::service::images::DecodeLimits::new(
        config.media.max_megapixels,
        config.media.decodes_at_once,
    );
    instance.federation_debug = config.federation.debug;
    instance.allowlist = config.federation.mode == crate::config::FederationMode::Allowlist;
    instance.catalog_page_limit = config.federation.catalog_page_limit;
    instance.payment_days = config.orders.payment_days;
    instance.answer_days = config.orders.answer_days;
    instance.commission_bp =
        crate::config::CoopConfig::basis_points(config.coop.commission_percent);
    instance.payment_cost_bp =
        crate::config::CoopConfig::basis_points(config.coop.payment_cost_percent);
    instance.bylaws = config.coop.bylaws()?;
    Ok(Context::new(db, instance))
}

/// A node ready to serve: bound, migrated, routed.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    ctx: Context,
    federation: FederationConfig<Context>,
    config: Arc<Config>,
}

impl Application {
    /// Bind `[server] bind` and build the node.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.server.bind)
            .await
            .with_context(|| format!("binding {}", config.server.bind))?;
        Self::build_with_listener(config, listener).await
    }

    /// Build the node on a listener the caller bound (tests bind port 0 first, then set the
    /// domain to `localhost:PORT`).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let fee_schedules = Arc::new(config.report.load_fee_schedules()?);
        let ctx = open_context(&config).await?;
        let options = federation::config::Options {
            debug: config.federation.debug,
            resolve: config.federation.resolve.clone(),
        };
        let federation = federation::config::build(ctx.clone(), &options)
            .await
            .context("setting up federation")?;
        let config = Arc::new(config);
        let router = routes::router(
            ctx.clone(),
            federation.clone(),
            config.clone(),
            fee_schedules,
        );
        Ok(Application {
            listener,
            router,
            ctx,
            federation,
            config,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The node's context (database and instance), for tests and tools.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The node's federation configuration (tests drain deliveries through it).
    pub fn federation(&self) -> &FederationConfig<Context> {
        &self.federation
    }

    /// Serve until `shutdown` resolves, then stop accepting, let in-flight requests finish
    /// (up to `[server] shutdown_grace_secs`) and return.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Application {
            listener,
            router,
            config,
            federation,
            ..
        } = self;
        let (stop_worker, stop) = tokio::sync::watch::channel(false);
        let reconciler = config.federation.deliver.then(|| {
            federation::peering::spawn_reconciler(
                federation.clone(),
                Duration::from_secs(config.federation.reconcile_interval_secs.max(1)),
                stop.clone(),
            )
        });
        let thumbnailer = config
            .federation
            .deliver
            .then(|| federation::media::spawn_thumbnailer(federation.clone(), stop.clone()));
        let worker = config
            .federation
            .deliver
            .then(|| federation::outbox::spawn_worker(federation, Duration::from_secs(2), stop));
        let graceful = GracefulShutdown::new();
        let header_timeout = Duration::from_secs(config.server.header_timeout_secs);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // Running out of file descriptors and similar: back off, keep serving.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    // The connection's address, for `throttle::ClientAddr`.
                    let service = TowerToHyperService::new(router.clone().map_request(
                        move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                            request
                                .extensions_mut()
                                .insert(axum::extract::ConnectInfo(peer));
                            request
                        },
                    ));
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_timeout)
                        .serve_connection(TokioIo::new(stream), service);
                    let watched = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(e) = watched.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("shutting down: finishing in-flight requests and deliveries");
        // The worker claims nothing more and records the attempts in flight (each at most 30 s);
        // deliveries it had not started stay pending for the next start.
        let _ = stop_worker.send(true);
        let grace = Duration::from_secs(config.server.shutdown_grace_secs);
        let requests = async {
            if tokio::time::timeout(grace, graceful.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("requests still running after {grace:?}; exiting anyway");
            }
        };
        let deliveries = async {
            if let Some(mut worker) = worker {
                let drain = Duration::from_secs(40);
                if tokio::time::timeout(drain, &mut worker).await.is_err() {
                    // Their leases run out in two minutes and another start sends them again.
                    tracing::warn!("deliveries still running after {drain:?}; exiting anyway");
                    worker.abort();
                }
            }
        };
        let sync = async {
            if let Some(reconciler) = reconciler {
                // A catalog copy stops between pages; its cursor is saved after every page.
                if tokio::time::timeout(Duration::from_secs(10), reconciler)
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        "catalog sync still running; it resumes from its last page within a minute of the next start"
                    );
                }
            }
        };
        let thumbs = async {
            if let Some(mut thumbnailer) = thumbnailer {
                // Stopping part-way leaves at most a thumbnail file nobody points at.
                if tokio::time::timeout(Duration::from_secs(20), &mut thumbnailer)
                    .await
                    .is_err()
                {
                    thumbnailer.abort();
                }
            }
        };
        tokio::join!(requests, deliveries, sync, thumbs);
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
