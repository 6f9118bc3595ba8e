//! The federated catalog in the API: search every listing this node knows, its own and its
//! peers'. Public: the same entries are on the public pages.

use std::collections::HashMap;

use axum::{
    Json,
    extract::{Path, Query, State},
};
use market::{
    Error,
    service::{
        Page,
        catalog::{
            self, EntryView,
            search::{self, SearchQuery},
        },
    },
};
use serde::Serialize;

use super::ApiError;
use crate::routes::AppState;

/// A page of entries, shaped as every paged answer of the API.
#[derive(Serialize)]
pub struct EntryPage {
    #[serde(flatten)]
    page: Page<EntryView>,
    has_next: bool,
}

/// `GET /api/v1/catalog?q=&tag=&currency=&min_price=&max_price=&shop=&node=&in_stock=&page=&per_page=`:
/// search the catalog, best match first when `q` is given, else newest first.
pub async fn search(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<EntryPage>, ApiError> {
    let query = SearchQuery::from_params(&params)?;
    let page = search::search(&state.ctx, &query).await?;
    Ok(Json(EntryPage {
        has_next: page.has_next(),
        page,
    }))
}

/// `GET /api/v1/catalog/{id}`: one entry (withdrawn ones are 404).
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EntryView>, ApiError> {
    let id = id
        .parse::<i32>()
        .map_err(|_| Error::not_found("catalog entry"))?;
    Ok(Json(catalog::get_entry(&state.ctx, id).await?))
}
