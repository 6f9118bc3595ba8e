//! The co-op itself: membership (applying, deciding, leaving) and fiscal periods (closing one,
//! reading its allocation, a member's statement). See `market::service::{membership, periods}`.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use market::service::{
    ledger,
    membership::{self, Decider, MembershipView, Shops},
    periods::{self, PeriodView, Statement},
    shops::Authority,
};
use serde::Deserialize;

use super::{ApiError, ApiJson, AuthUser, admin::require_admin};
use crate::routes::AppState;

fn require_member(auth: &AuthUser) -> Result<(), ApiError> {
    if auth.user.is_member() {
        Ok(())
    } else {
        Err(market::Error::Forbidden("only members of the co-op can see this".into()).into())
    }
}

/// `GET /api/v1/membership`: the caller's membership (`status: none` if they never applied).
pub async fn mine(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<MembershipView>, ApiError> {
    Ok(Json(membership::status(&state.ctx, &auth.user).await?))
}

/// Body of `POST /api/v1/membership`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Why they want to join (at most 2 000 characters).
    #[serde(default)]
    pub statement: String,
}

/// `POST /api/v1/membership`: apply to join. 201 with the application; 409 for a member or a
/// pending application.
pub async fn apply(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Application>,
) -> Result<(StatusCode, Json<MembershipView>), ApiError> {
    let data = state.federation.to_request_data();
    let view = federation::governance::apply_for_membership(&data, &auth.user, &body.statement)
        .await
        .map_err(super::admin::federation_error)?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Body of `POST /api/v1/membership/leave` and `POST /api/v1/admin/members/{u}/remove`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Leave {
    /// Hand the leaver's shops to this member instead of closing them.
    #[serde(default)]
    pub transfer_shops_to: Option<String>,
}

fn shops_go(body: &Leave) -> Shops {
    match body.transfer_shops_to.as_deref().map(str::trim) {
        Some(to) if !to.is_empty() => Shops::TransferTo(to.to_string()),
        _ => Shops::Close,
    }
}

/// `POST /api/v1/membership/leave`: leave the co-op.
pub async fn leave(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Leave>,
) -> Result<Json<membership::Departure>, ApiError> {
    let username = auth.user.username.clone();
    Ok(Json(
        membership::leave(
            &state.ctx,
            Authority::User(&auth.user),
            &username,
            shops_go(&body),
        )
        .await?,
    ))
}

/// `POST /api/v1/admin/members/{username}/remove`: an admin removes a member.
pub async fn remove(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Leave>,
) -> Result<Json<membership::Departure>, ApiError> {
    require_admin(&auth)?;
    Ok(Json(
        membership::leave(
            &state.ctx,
            Authority::User(&auth.user),
            &username,
            shops_go(&body),
        )
        .await?,
    ))
}

/// `GET /api/v1/members`: the co-op's members (members only).
pub async fn members(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<MembershipView>>, ApiError> {
    require_member(&auth)?;
    let all = membership::list_with_status(&state.ctx, Some("active")).await?;
    Ok(Json(all))
}

/// `GET /api/v1/admin/applications`: applications waiting for a decision.
pub async fn applications(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<MembershipView>>, ApiError> {
    require_admin(&auth)?;
    Ok(Json(membership::pending(&state.ctx).await?))
}

/// `POST /api/v1/admin/applications/{username}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<MembershipView>, ApiError> {
    Ok(Json(
        membership::decide(&state.ctx, Decider::Admin(&auth.user), &username, true).await?,
    ))
}

/// `POST /api/v1/admin/applications/{username}/reject`.
pub async fn reject(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<MembershipView>, ApiError> {
    Ok(Json(
        membership::decide(&state.ctx, Decider::Admin(&auth.user), &username, false).await?,
    ))
}

/// Body of `POST /api/v1/admin/periods`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosePeriod {
    /// Its label, such as `2026-Q4`.
    pub label: String,
    /// Its end (RFC 3339); default now.
    #[serde(default)]
    pub until: Option<String>,
}

/// `POST /api/v1/admin/periods`: close a fiscal period. 201 with its allocation.
pub async fn close_period(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<ClosePeriod>,
) -> Result<(StatusCode, Json<PeriodView>), ApiError> {
    require_admin(&auth)?;
    let until = body
        .until
        .as_deref()
        .map(|u| {
            chrono::DateTime::parse_from_rfc3339(u.trim())
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    market::Error::invalid("until", "an RFC 3339 time such as 2026-12-31T23:59:59Z")
                })
        })
        .transpose()?;
    let by = format!("admin:{}", auth.user.username);
    let view = periods::close(&state.ctx, &by, &body.label, until).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Members see the totals of a period; each member's dividend only admins (and the member,
/// in their statement).
fn for_viewer(mut view: PeriodView, auth: &AuthUser) -> PeriodView {
    if !auth.user.is_admin() {
        for r in &mut view.results {
            r.dividends.clear();
        }
    }
    view
}

/// `GET /api/v1/periods`: closed periods (members).
pub async fn list_periods(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Vec<PeriodView>>, ApiError> {
    require_member(&auth)?;
    let all = periods::list(&state.ctx).await?;
    Ok(Json(
        all.into_iter().map(|p| for_viewer(p, &auth)).collect(),
    ))
}

/// `GET /api/v1/periods/{label}` (members).
pub async fn show_period(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(label): Path<String>,
) -> Result<Json<PeriodView>, ApiError> {
    require_member(&auth)?;
    Ok(Json(for_viewer(
        periods::get(&state.ctx, &label).await?,
        &auth,
    )))
}

/// `GET /api/v1/periods/{label}/statement[?member=USERNAME]`: the caller's statement; admins
/// may ask for any member's.
pub async fn statement(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(label): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Statement>, ApiError> {
    let who = match query.get("member") {
        Some(other) if other.trim() != auth.user.username => {
            require_admin(&auth)?;
            other.trim().to_string()
        }
        _ => auth.user.username.clone(),
    };
    Ok(Json(periods::statement(&state.ctx, &label, &who).await?))
}

/// `GET /api/v1/admin/ledger.csv`: every ledger line as CSV (what `tianguis ledger export`
/// prints).
pub async fn ledger_csv(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&auth)?;
    let csv = ledger::export_csv(&state.ctx).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ledger.csv\"",
            ),
        ],
        csv,
    ))
}

/// Body of `POST /api/v1/admin/members/{username}/role`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// `admin` or `member`.
    pub role: String,
}

/// `POST /api/v1/admin/members/{username}/role {role}`: make a member an admin or back.
pub async fn set_role(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Role>,
) -> Result<Json<MembershipView>, ApiError> {
    let admin = match body.role.as_str() {
        "admin" => true,
        "member" => false,
        _ => return Err(market::Error::invalid("role", "admin or member").into()),
    };
    Ok(Json(
        membership::set_admin(&state.ctx, Authority::User(&auth.user), &username, admin).await?,
    ))
}
