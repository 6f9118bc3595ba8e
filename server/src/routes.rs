//! The HTTP surface: health, JSON API, HTML pages and media, with the limits every route shares.

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use federation::{FederationConfig, FederationMiddleware};
use market::{Context, service::transparency::fees::FeeSchedules};
use tower_http::{
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    timeout::{RequestBodyTimeoutLayer, TimeoutLayer},
    trace::TraceLayer,
};

use crate::{api, config::Config, pages, throttle::Throttle};

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// Database and instance.
    pub ctx: Context,
    /// The configuration the node runs with.
    pub config: Arc<Config>,
    /// ActivityPub configuration (pages answer ActivityPub clients through it).
    pub federation: FederationConfig<Context>,
    /// Other platforms' fees, for the transparency report (`[report] fee_schedules`).
    pub fee_schedules: Arc<FeeSchedules>,
    /// Failed logins per username (pages and API share it).
    pub login_throttle: Arc<Throttle>,
    /// Accounts opened per client address (pages and API share it).
    pub registration_throttle: Arc<Throttle>,
    /// The transparency report, computed once per change of the books (page, chart and API).
    pub transparency: Arc<market::service::transparency::ReportCache>,
}

/// Build the router with its layers.
pub fn router(
    ctx: Context,
    federation: FederationConfig<Context>,
    config: Arc<Config>,
    fee_schedules: Arc<FeeSchedules>,
) -> Router {
    let state = AppState {
        ctx: ctx.clone(),
        config: config.clone(),
        federation: federation.clone(),
        fee_schedules,
        login_throttle: Arc::new(Throttle::logins()),
        registration_throttle: Arc::new(Throttle::registrations(
            config.server.registrations_per_hour,
        )),
        transparency: Arc::default(),
    };
    // Pages use no script and no inline style; images may come from peer nodes. Debug and
    // loopback nodes serve (and show peers' images) over plain http.
    let image_sources = if ctx.instance.base_url.scheme() == "http" {
        "'self' https: http:"
    } else {
        "'self' https:"
    };
    let csp = format!(
        "default-src 'none'; img-src {image_sources}; style-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let csp = header::HeaderValue::from_str(&csp).unwrap_or_else(|_| {
        header::HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
    });
    let media = Router::new()
        .fallback_service(ServeDir::new(&ctx.instance.media_dir))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        ));
    Router::new()
        .route("/health", get(health))
        .nest("/api/v1", api::router(&config))
        .merge(pages::router().layer(axum::middleware::from_fn(wake_after_writes)))
        .merge(crate::session::router())
        .merge(federation::routes::router())
        .nest_service("/media", media)
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(config.server.body_limit_bytes))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
            config.server.body_timeout_secs,
        )))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.server.request_timeout_secs),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        ))
        // Pages carry the visitor's header (name, unread count): no shared cache may keep one
        // visitor's copy for another, and browsers ask again rather than show a stale one.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            |response: &axum::response::Response| {
                let html = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/html"));
                html.then(|| header::HeaderValue::from_static("private, no-cache"))
            },
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("same-origin"),
        ))
        .layer(FederationMiddleware::new(state.federation.clone()))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /health`: 200 when the database answers, 503 when it does not.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match market::db::ping(&state.ctx.db).await {
        Ok(()) => (
            StatusCode::OK,
            Json(
                serde_json::json!({"status": "ok", "database": "ok", "version": env!("CARGO_PKG_VERSION")}),
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "database": "unavailable"})),
            )
        }
    }
}

/// A write that worked may have queued activities (a listing's `Create`, an `Accept`, a retry
/// made due): wake the delivery worker rather than let them wait for its next tick. A write
/// worked when the API answers 2xx or a page's form answers with its redirect (303).
pub(crate) async fn wake_after_writes(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let write = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let response = next.run(request).await;
    if write && (response.status().is_success() || response.status().is_redirection()) {
        federation::outbox::wake();
    }
    response
}
