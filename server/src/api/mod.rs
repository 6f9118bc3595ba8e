//! The JSON API under `/api/v1`. Errors are `{"error": kind, "message": text}` plus `field` for
//! validation errors (422).

mod admin;
mod auth;
mod catalog;
mod coop;
mod error;
mod governance;
mod listings;
mod orders;
mod shops;
mod transparency;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{delete, get, post},
};

pub use auth::AuthUser;
pub use error::{ApiError, ApiJson};

use crate::{config::Config, routes::AppState};

/// The API routes.
pub fn router(config: &Config) -> Router<AppState> {
    // Multipart overhead on top of the image itself.
    let upload_limit = config.media.max_image_bytes + 64 * 1024;
    Router::new()
        .route("/admin/deliveries", get(admin::deliveries_status))
        .route("/admin/deliveries/retry", post(admin::retry_host))
        .route("/admin/peers", get(admin::peers).post(admin::add_peer))
        .route("/admin/peers/{domain}", delete(admin::remove_peer))
        .route("/admin/peers/{domain}/approve", post(admin::approve_peer))
        .route("/membership", get(coop::mine).post(coop::apply))
        .route("/membership/leave", post(coop::leave))
        .route("/members", get(coop::members))
        .route("/admin/applications", get(coop::applications))
        .route(
            "/admin/applications/{username}/approve",
            post(coop::approve),
        )
        .route("/admin/applications/{username}/reject", post(coop::reject))
        .route("/admin/members/{username}/remove", post(coop::remove))
        .route("/admin/members/{username}/role", post(coop::set_role))
        .route("/admin/periods", post(coop::close_period))
        .route("/admin/ledger.csv", get(coop::ledger_csv))
        .route("/periods", get(coop::list_periods))
        .route("/periods/{label}", get(coop::show_period))
        .route("/periods/{label}/statement", get(coop::statement))
        .route("/accounts", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/orders", get(orders::mine).post(orders::create))
        .route("/orders/quote", post(orders::quote))
        .route("/orders/{id}", get(orders::show))
        .route("/orders/{id}/state", post(orders::step))
        .route("/orders/{id}/messages", post(orders::message))
        .route("/shops/{handle}/orders", get(orders::for_shop))
        .route("/notifications", get(orders::notifications))
        .route("/notifications/read", post(orders::read))
        .route("/proposals", get(governance::list).post(governance::create))
        .route("/proposals/{id}", get(governance::show))
        .route("/proposals/{id}/votes", post(governance::vote))
        .route("/proposals/{id}/receipt", post(governance::check_receipt))
        .route("/governance/log", get(governance::log))
        .route("/transparency", get(transparency::report))
        .route("/catalog", get(catalog::search))
        .route("/catalog/{id}", get(catalog::show))
        .route("/shops", post(shops::create).get(shops::list))
        .route("/shops/{handle}", get(shops::show).patch(shops::update))
        .route("/shops/{handle}/followers", get(shops::followers))
        .route(
            "/shops/{handle}/checkout",
            get(shops::checkout).put(shops::set_checkout),
        )
        .route(
            "/shops/{handle}/followers/{id}/{decision}",
            post(shops::decide),
        )
        .route(
            "/shops/{handle}/avatar",
            post(shops::set_avatar).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/shops/{handle}/listings",
            get(listings::list_for_shop).post(listings::create),
        )
        .route("/listings", get(listings::list_all))
        .route(
            "/listings/{id}",
            get(listings::show)
                .patch(listings::update)
                .delete(listings::withdraw),
        )
        .route(
            "/listings/{id}/images",
            post(listings::upload_image).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/listings/{id}/images/{image_id}",
            delete(listings::delete_image),
        )
        .fallback(error::api_not_found)
        .layer(axum::middleware::from_fn(crate::routes::wake_after_writes))
}
