//! The edit page's other forms: add a photo (multipart), remove one, withdraw the listing.

use axum::{
    Form, Router,
    extract::{DefaultBodyLimit, Path, Request, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use market::{
    Error,
    service::{images::ImageUpload, listings, shops::Authority},
};
use serde::Deserialize;

use super::{ListingFields, error_page, managed_listing, show_edit, unfixable, upload};
use crate::{
    routes::AppState,
    session::{PageUser, check_csrf},
};

/// The edit page's photo and withdraw forms. Adding a photo reads its body itself, within the
/// image limit (see [`upload`]).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/listings/{id}/images",
            post(add_image).layer(DefaultBodyLimit::disable()),
        )
        .route("/listings/{id}/images/{image}/delete", post(remove_image))
        .route("/listings/{id}/withdraw", post(withdraw))
}

/// `POST /listings/{id}/images` (multipart: `image`, `alt`): add a photo, then 303 back.
async fn add_image(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let view = match managed_listing(&state, &user, &id).await {
        Ok((view, _)) => view,
        Err(e) => return error_page(&state, &user, e).await,
    };
    let form = match upload::read_checked(&state, &user, request, "image").await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let alt = form.text("alt").to_string();
    let added = async {
        let bytes = form
            .file
            .ok_or_else(|| Error::invalid("image", "choose a photo to add"))?;
        listings::add_image(
            &state.ctx,
            Authority::User(&user.user),
            &view.id,
            ImageUpload {
                bytes,
                alt: alt.clone(),
            },
        )
        .await
    }
    .await;
    match added {
        Ok(_) => {
            Redirect::to(&format!("/listings/{}/edit?done=photo-added", view.id)).into_response()
        }
        Err(e) if unfixable(&e) => error_page(&state, &user, e).await,
        Err(e) => {
            let mut fields = ListingFields::of(&view);
            fields.alt = alt;
            show_edit(&state, &user, &id, Some(fields), Some(e), "").await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
    /// The withdraw form's "I am sure" box.
    confirm: String,
}

/// `POST /listings/{id}/images/{image}/delete`: remove a photo, then 303 back.
async fn remove_image(
    State(state): State<AppState>,
    user: PageUser,
    Path((id, image)): Path<(String, String)>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let removed = async {
        let (view, _) = managed_listing(&state, &user, &id).await?;
        let image = uuid::Uuid::parse_str(&image)
            .map_err(|_| Error::not_found("image"))?
            .to_string();
        listings::delete_image(&state.ctx, Authority::User(&user.user), &view.id, &image).await?;
        Ok::<_, Error>(view.id)
    }
    .await;
    match removed {
        Ok(id) => Redirect::to(&format!("/listings/{id}/edit?done=photo-removed")).into_response(),
        Err(e) => error_page(&state, &user, e).await,
    }
}

/// `POST /listings/{id}/withdraw` (`confirm=yes`): take the listing out of the catalog for
/// good, then 303 to the dashboard. Without the box ticked, the form comes back (422).
async fn withdraw(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    if form.confirm != "yes" {
        let unsure = Error::invalid(
            "confirm",
            "tick the box to confirm: a withdrawn listing cannot come back",
        );
        return show_edit(&state, &user, &id, None, Some(unsure), "").await;
    }
    let withdrawn = async {
        let (view, shop) = managed_listing(&state, &user, &id).await?;
        listings::withdraw_listing(&state.ctx, Authority::User(&user.user), &view.id).await?;
        Ok::<_, Error>(shop.handle)
    }
    .await;
    match withdrawn {
        Ok(handle) => Redirect::to(&format!("/selling#shop-{handle}")).into_response(),
        Err(e) => error_page(&state, &user, e).await,
    }
}
