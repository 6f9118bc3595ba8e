//! A listing's forms: `/shops/{handle}/listings/new` (title, description, price, currency,
//! stock, tags and a first photo with its alt text) and `/listings/{id}/edit` (the same fields;
//! add or remove a photo; withdraw the listing). The shop's owner or an admin only.
//!
//! Nothing is left half-written: a new listing and its photo are one call to
//! [`listings::create_listing`], which decodes and stores the photo before it opens the
//! transaction that writes the listing and its image row together, and removes the photo's
//! files again if that transaction fails. So a refused photo (not an image, too large, no alt
//! text) means no listing, and a refused field means no files.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{DefaultBodyLimit, Path, Query, Request, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use market::{
    Error,
    entities::shop,
    service::{
        images::{ImageUpload, MAX_IMAGES_PER_LISTING},
        listings::{self, ImageView, ListingChanges, ListingDraft, ListingView},
        shops::Authority,
    },
};
use serde::Deserialize;

use super::{Problem, error_page, listing_id, managed_shop, status_of, unfixable, upload};
use crate::{
    pages::{Nav, render},
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

mod actions;

/// The listing forms' routes. The two that take a photo read their body themselves, within the
/// image limit (see [`upload`]).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/shops/{handle}/listings/new",
            get(new_form)
                .post(create)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/listings/{id}/edit", get(edit_form).post(save))
        .merge(actions::routes())
}

/// The listing form's fields as typed (or as stored, for a first look at the edit form).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct ListingFields {
    title: String,
    description: String,
    price: String,
    currency: String,
    stock: String,
    /// The stock the edit form was loaded with: the stock is only changed if the visitor changed
    /// it, so a sale made while the form was open is not undone by saving the title.
    stock_was: String,
    tags: String,
    /// The new listing's photo's alt text.
    alt: String,
}

impl ListingFields {
    fn of(view: &ListingView) -> ListingFields {
        ListingFields {
            title: view.title.clone(),
            description: view.description.clone(),
            price: view.price.clone(),
            currency: view.currency.clone(),
            stock: view.stock.to_string(),
            stock_was: view.stock.to_string(),
            tags: view.tags.join(", "),
            alt: String::new(),
        }
    }

    fn from_upload(form: &upload::Upload) -> ListingFields {
        ListingFields {
            title: form.text("title").to_string(),
            description: form.text("description").to_string(),
            price: form.text("price").to_string(),
            currency: form.text("currency").to_string(),
            stock: form.text("stock").to_string(),
            stock_was: String::new(),
            tags: form.text("tags").to_string(),
            alt: form.text("alt").to_string(),
        }
    }

    fn stock(&self) -> Result<i64, Error> {
        self.stock
            .trim()
            .parse::<i64>()
            .map_err(|_| Error::invalid("stock", "a whole number, such as 3 (0: sold out)"))
    }

    /// The tags as typed: separated by commas or spaces, `#` optional.
    fn tags(&self) -> Vec<String> {
        self.tags
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.trim_start_matches('#').is_empty())
            .map(str::to_string)
            .collect()
    }

    fn draft(&self) -> Result<ListingDraft, Error> {
        ListingDraft::parse(
            &self.title,
            Some(&self.description),
            &self.price,
            &self.currency,
            self.stock()?,
            &self.tags(),
        )
    }
}

/// The edit form's extras: the listing, its photos and what may still be added.
struct Editing {
    id: String,
    status: &'static str,
    images: Vec<ImageView>,
}

#[derive(Template)]
#[template(path = "listing_form.html")]
struct ListingFormPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    shop: shop::Model,
    f: ListingFields,
    problem: Problem,
    /// A photo was sent with a form that was refused: the browser does not keep it.
    photo_dropped: bool,
    /// `None` on the new-listing form.
    editing: Option<Editing>,
    /// What the last form did ("Saved."), shown once after its 303.
    notice: &'static str,
    max_mb: usize,
    max_images: usize,
}

impl ListingFormPage<'_> {
    /// More photos may be added.
    fn room_for_photos(&self) -> bool {
        self.editing
            .as_ref()
            .is_some_and(|e| e.images.len() < MAX_IMAGES_PER_LISTING)
    }
}

/// Where a listing error belongs on the form: the input of its field, the photo's inputs for a
/// refused file, the whole form otherwise.
fn problem_of(err: &Error) -> Problem {
    match err {
        Error::PayloadTooLarge(_) | Error::UnsupportedMediaType(_) | Error::Conflict(_) => {
            Problem {
                id: "image".into(),
                message: err.public_message(),
            }
        }
        _ => Problem::of(err, |field| match field {
            "title" | "description" | "price" | "currency" | "stock" | "tags" | "image"
            | "confirm" => Some(field.to_string()),
            f if f.starts_with("images[") => Some("alt".into()),
            _ => None,
        }),
    }
}

/// The sentence a `?done=` after a form's 303 shows.
fn notice(query: &HashMap<String, String>) -> &'static str {
    match query.get("done").map(String::as_str) {
        Some("published") => {
            "Published: the listing is in the catalog, and the shop's followers will see it."
        }
        Some("saved") => "Saved.",
        Some("photo-added") => "Photo added.",
        Some("photo-removed") => "Photo removed.",
        _ => "",
    }
}

struct Shown {
    shop: shop::Model,
    fields: ListingFields,
    problem: Option<Error>,
    photo_dropped: bool,
    editing: Option<Editing>,
    notice: &'static str,
}

async fn show(state: &AppState, user: &PageUser, shown: Shown) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let status = shown.problem.as_ref().map_or(StatusCode::OK, status_of);
    let page = ListingFormPage {
        node_name: &ctx.instance.name,
        nav,
        csrf: user.csrf(),
        shop: shown.shop,
        f: shown.fields,
        problem: shown.problem.as_ref().map(problem_of).unwrap_or_default(),
        photo_dropped: shown.photo_dropped,
        editing: shown.editing,
        notice: shown.notice,
        max_mb: ctx.instance.max_image_bytes.div_ceil(1024 * 1024),
        max_images: MAX_IMAGES_PER_LISTING,
    };
    (status, no_store(render(&page))).into_response()
}

/// `GET /shops/{handle}/listings/new`.
async fn new_form(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
) -> Response {
    let shop = match managed_shop(&state, &user, &handle).await {
        Ok(shop) => shop,
        Err(e) => return error_page(&state, &user, e).await,
    };
    let fields = ListingFields {
        currency: state.ctx.instance.bylaws.currency.clone(),
        stock: "1".into(),
        ..Default::default()
    };
    let shown = Shown {
        shop,
        fields,
        problem: None,
        photo_dropped: false,
        editing: None,
        notice: "",
    };
    show(&state, &user, shown).await
}

/// `POST /shops/{handle}/listings/new` (multipart: the fields, `image`, `alt`): publish the
/// listing, then 303 to its edit page; a refused field or photo shows the form again with what
/// was typed, and nothing is created.
async fn create(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    request: Request,
) -> Response {
    // Strangers are refused before their body is read.
    let shop = match managed_shop(&state, &user, &handle).await {
        Ok(shop) => shop,
        Err(e) => return error_page(&state, &user, e).await,
    };
    let form = match upload::read_checked(&state, &user, request, "image").await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let fields = ListingFields::from_upload(&form);
    let photo = form.file.is_some();
    let created = async {
        let draft = fields.draft()?;
        let uploads = match form.file {
            Some(bytes) => vec![ImageUpload {
                bytes,
                alt: fields.alt.clone(),
            }],
            None if !fields.alt.trim().is_empty() => {
                return Err(Error::invalid(
                    "image",
                    "choose the photo this text describes, or leave the description empty",
                ));
            }
            None => Vec::new(),
        };
        listings::create_listing(
            &state.ctx,
            Authority::User(&user.user),
            &shop.handle,
            draft,
            uploads,
        )
        .await
    }
    .await;
    match created {
        Ok(view) => {
            Redirect::to(&format!("/listings/{}/edit?done=published", view.id)).into_response()
        }
        Err(e) if unfixable(&e) => error_page(&state, &user, e).await,
        Err(e) => {
            let shown = Shown {
                shop,
                fields,
                problem: Some(e),
                photo_dropped: photo,
                editing: None,
                notice: "",
            };
            show(&state, &user, shown).await
        }
    }
}

/// The listing `id` and its shop, if `user` may change them (a withdrawn listing cannot change:
/// 409).
async fn managed_listing(
    state: &AppState,
    user: &PageUser,
    id: &str,
) -> Result<(ListingView, shop::Model), Error> {
    let view = listings::get_listing(&state.ctx, &listing_id(id)?).await?;
    let shop = managed_shop(state, user, &view.shop.handle).await?;
    if view.status == "withdrawn" {
        return Err(Error::Conflict(
            "this listing was withdrawn and can no longer change".into(),
        ));
    }
    Ok((view, shop))
}

/// The edit form for listing `id`: with `fields` as typed (or as stored), a refused form's
/// error and a notice.
async fn show_edit(
    state: &AppState,
    user: &PageUser,
    id: &str,
    fields: Option<ListingFields>,
    problem: Option<Error>,
    notice: &'static str,
) -> Response {
    let (view, shop) = match managed_listing(state, user, id).await {
        Ok(found) => found,
        Err(e) => return error_page(state, user, e).await,
    };
    let shown = Shown {
        shop,
        fields: fields.unwrap_or_else(|| ListingFields::of(&view)),
        problem,
        photo_dropped: false,
        editing: Some(Editing {
            id: view.id,
            status: view.status,
            images: view.images,
        }),
        notice,
    };
    show(state, user, shown).await
}

/// `GET /listings/{id}/edit`.
async fn edit_form(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    show_edit(&state, &user, &id, None, None, notice(&query)).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EditForm {
    csrf: String,
    #[serde(flatten)]
    fields: ListingFields,
}

/// `POST /listings/{id}/edit`: change the listing's fields, then 303 back to the form.
async fn save(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    form: Result<Form<EditForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let fields = form.fields;
    let saved = async {
        let (view, _) = managed_listing(&state, &user, &id).await?;
        let stock = if fields.stock.trim() == fields.stock_was.trim() {
            None
        } else {
            Some(fields.stock()?)
        };
        let changes = ListingChanges {
            title: Some(fields.title.clone()),
            description: Some(fields.description.clone()),
            price: Some(fields.price.clone()),
            currency: Some(fields.currency.clone()),
            stock,
            tags: Some(fields.tags()),
        };
        listings::update_listing(&state.ctx, Authority::User(&user.user), &view.id, changes).await
    }
    .await;
    match saved {
        Ok(view) => Redirect::to(&format!("/listings/{}/edit?done=saved", view.id)).into_response(),
        Err(e) if unfixable(&e) => error_page(&state, &user, e).await,
        Err(e) => show_edit(&state, &user, &id, Some(fields), Some(e), "").await,
    }
}
