//! The transparency report as JSON: public, like the page `/transparency` it mirrors.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Query, State},
};
use market::{Error, service::transparency::Report};

use super::ApiError;
use crate::routes::AppState;

/// `GET /api/v1/transparency[?period=LABEL]`: every period (the open one, labelled `current`,
/// first), or only `period`; each figure with its `trace` to the ledger. No sales: every
/// period's `currencies` is empty.
pub async fn report(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Report>, ApiError> {
    let mut report = Report::clone(
        &*state
            .transparency
            .get(&state.ctx, &state.fee_schedules)
            .await?,
    );
    if let Some(label) = params.get("period") {
        report.periods.retain(|p| &p.label == label);
        if report.periods.is_empty() {
            return Err(Error::not_found("period").into());
        }
    }
    Ok(Json(report))
}
