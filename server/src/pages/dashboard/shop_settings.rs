//! `/shops/{handle}/settings`: a shop's name, bio and follower approval, its checkout settings
//! (payment instructions; shipping options as rows of inputs: the existing ones and two blank
//! ones, no script needed) and its avatar. The shop's owner or an admin only.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{DefaultBodyLimit, Path, Query, Request, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use market::{
    Error,
    entities::shop,
    service::{
        checkout::{self, Checkout, ShippingOptionInput},
        shops::{self, Authority, ShopChanges},
    },
};

use super::{Problem, error_page, managed_shop, status_of, unfixable, upload};
use crate::{
    pages::{Nav, PageError, render},
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

/// Blank shipping rows offered below the existing options.
const BLANK_ROWS: usize = 2;

/// The settings routes; the avatar's reads its body itself, within the image limit.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/shops/{handle}/settings", get(settings_page).post(save))
        .route(
            "/shops/{handle}/avatar",
            post(set_avatar).layer(DefaultBodyLimit::disable()),
        )
}

/// One row of shipping inputs, as stored or as typed.
#[derive(Debug, Clone, Default)]
struct ShipRow {
    /// The row's number: its inputs are `ship{n}_name` and so on.
    n: usize,
    /// The option's id, to keep it (empty for a new option).
    id: String,
    name: String,
    price: String,
    currency: String,
    /// Country codes, separated by commas or spaces.
    regions: String,
    pickup: bool,
    /// "Remove this option" was ticked.
    remove: bool,
}

impl ShipRow {
    /// A row with nothing typed in it: skipped.
    fn is_blank(&self) -> bool {
        self.name.trim().is_empty() && self.price.trim().is_empty()
    }
}

/// The settings form as stored or as typed.
#[derive(Debug, Clone, Default)]
struct SettingsFields {
    name: String,
    bio: String,
    manual: bool,
    /// Orders wait for the owner's answer.
    by_hand: bool,
    payment: String,
    rows: Vec<ShipRow>,
}

impl SettingsFields {
    fn of(shop: &shop::Model, checkout: Checkout, currency: &str) -> SettingsFields {
        let mut rows: Vec<ShipRow> = checkout
            .shipping_options
            .into_iter()
            .map(|o| ShipRow {
                id: o.id,
                name: o.name,
                price: o.price,
                currency: o.currency,
                regions: o.regions.join(", "),
                pickup: o.pickup,
                ..Default::default()
            })
            .collect();
        rows.extend((0..BLANK_ROWS).map(|_| ShipRow {
            currency: currency.to_string(),
            ..Default::default()
        }));
        for (n, row) in rows.iter_mut().enumerate() {
            row.n = n;
        }
        SettingsFields {
            name: shop.display_name.clone(),
            bio: shop.bio.clone(),
            manual: shop.manually_approves_followers,
            by_hand: shop.accepts_orders_by_hand,
            payment: checkout.payment_instructions,
            rows,
        }
    }

    fn from_form(form: &HashMap<String, String>) -> SettingsFields {
        let text = |name: &str| form.get(name).cloned().unwrap_or_default();
        let rows = (0..checkout::MAX_OPTIONS + BLANK_ROWS)
            .take_while(|n| form.contains_key(&format!("ship{n}_name")))
            .map(|n| ShipRow {
                n,
                id: text(&format!("ship{n}_id")),
                name: text(&format!("ship{n}_name")),
                price: text(&format!("ship{n}_price")),
                currency: text(&format!("ship{n}_currency")),
                regions: text(&format!("ship{n}_regions")),
                pickup: form.contains_key(&format!("ship{n}_pickup")),
                remove: form.contains_key(&format!("ship{n}_remove")),
            })
            .collect();
        SettingsFields {
            name: text("name"),
            bio: text("bio"),
            manual: form.contains_key("manual"),
            by_hand: form.contains_key("by_hand"),
            payment: text("payment_instructions"),
            rows,
        }
    }

    /// The shipping options to save, and the row each came from (for placing errors).
    fn options(&self, currency: &str) -> (Vec<ShippingOptionInput>, Vec<usize>) {
        self.rows
            .iter()
            .filter(|r| !r.remove && !r.is_blank())
            .map(|r| {
                let input = ShippingOptionInput {
                    id: Some(r.id.trim().to_string()).filter(|id| !id.is_empty()),
                    name: r.name.clone(),
                    price: r.price.clone(),
                    currency: Some(r.currency.trim())
                        .filter(|c| !c.is_empty())
                        .unwrap_or(currency)
                        .to_string(),
                    regions: r
                        .regions
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect(),
                    pickup: r.pickup,
                };
                (input, r.n)
            })
            .unzip()
    }
}

/// The input of a settings error: `shipping_options[k].price` is the price of the k-th option
/// sent, which came from row `sent[k]`.
fn problem_of(err: &Error, sent: &[usize]) -> Problem {
    if matches!(
        err,
        Error::PayloadTooLarge(_) | Error::UnsupportedMediaType(_)
    ) {
        return Problem {
            id: "avatar".into(),
            message: err.public_message(),
        };
    }
    Problem::of(err, |field| match field {
        "name" | "bio" | "avatar" => Some(field.to_string()),
        "payment_instructions" => Some("payment".into()),
        f => {
            let rest = f.strip_prefix("shipping_options[")?;
            let (k, input) = rest.split_once("].")?;
            let row = sent.get(k.parse::<usize>().ok()?)?;
            let input = if input == "id" { "name" } else { input };
            Some(format!("ship{row}-{input}"))
        }
    })
}

#[derive(Template)]
#[template(path = "shop_settings.html")]
struct SettingsPage<'a> {
    node_name: &'a str,
    nav: Nav,
    csrf: String,
    domain: &'a str,
    shop: shop::Model,
    avatar_url: Option<String>,
    f: SettingsFields,
    problem: Problem,
    notice: &'static str,
    max_mb: usize,
    /// `[orders] answer_days` (0: an order waits for an answer as long as it takes).
    answer_days: u32,
}

async fn show(
    state: &AppState,
    user: &PageUser,
    shop: shop::Model,
    fields: Option<SettingsFields>,
    problem: Option<(Error, Vec<usize>)>,
    notice: &'static str,
) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let fields = match fields {
        Some(fields) => fields,
        None => match checkout::get(ctx, &shop.handle).await {
            Ok(stored) => SettingsFields::of(&shop, stored, &ctx.instance.bylaws.currency),
            Err(e) => return PageError::new(state, e).nav(nav).into_response(),
        },
    };
    let status = problem
        .as_ref()
        .map_or(StatusCode::OK, |(e, _)| status_of(e));
    let page = SettingsPage {
        node_name: &ctx.instance.name,
        nav,
        csrf: user.csrf(),
        domain: &ctx.instance.domain,
        answer_days: ctx.instance.answer_days,
        avatar_url: shop
            .avatar_file
            .as_deref()
            .map(|f| ctx.instance.media_url(f)),
        shop,
        f: fields,
        problem: problem
            .map(|(e, sent)| problem_of(&e, &sent))
            .unwrap_or_default(),
        notice,
        max_mb: ctx.instance.max_image_bytes.div_ceil(1024 * 1024),
    };
    (status, no_store(render(&page))).into_response()
}

/// `GET /shops/{handle}/settings`.
async fn settings_page(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let shop = match managed_shop(&state, &user, &handle).await {
        Ok(shop) => shop,
        Err(e) => return error_page(&state, &user, e).await,
    };
    let notice = match query.get("done").map(String::as_str) {
        Some("saved") => "Saved.",
        Some("avatar") => "Avatar changed.",
        _ => "",
    };
    show(&state, &user, shop, None, None, notice).await
}

/// `POST /shops/{handle}/settings`: save the profile and the checkout settings, then 303 back.
/// Everything typed is checked before anything is written: the profile's fields first, then
/// [`checkout::set`] (which checks every option before it writes), then the profile.
async fn save(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let form: HashMap<String, String> = form
        .map(|Form(pairs)| pairs.into_iter().collect())
        .unwrap_or_default();
    if let Err(refused) = check_csrf(&user, form.get("csrf").map_or("", String::as_str)) {
        return refused;
    }
    let shop = match managed_shop(&state, &user, &handle).await {
        Ok(shop) => shop,
        Err(e) => return error_page(&state, &user, e).await,
    };
    let ctx = &state.ctx;
    let fields = SettingsFields::from_form(&form);
    let (options, sent) = fields.options(&ctx.instance.bylaws.currency);
    let changes = ShopChanges {
        display_name: Some(fields.name.clone()),
        bio: Some(fields.bio.clone()),
        manually_approves_followers: Some(fields.manual),
        accepts_orders_by_hand: Some(fields.by_hand),
    };
    // One transaction: a refused field or a failed write saves nothing.
    let saved = shops::update_settings(
        ctx,
        Authority::User(&user.user),
        &shop.handle,
        changes,
        &fields.payment,
        options,
    )
    .await;
    match saved {
        Ok(shop) => {
            Redirect::to(&format!("/shops/{}/settings?done=saved", shop.handle)).into_response()
        }
        Err(e) if unfixable(&e) => error_page(&state, &user, e).await,
        Err(e) => show(&state, &user, shop, Some(fields), Some((e, sent)), "").await,
    }
}

/// `POST /shops/{handle}/avatar` (multipart: `avatar`): replace the shop's avatar, then 303
/// back to the settings.
async fn set_avatar(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    request: Request,
) -> Response {
    let shop = match managed_shop(&state, &user, &handle).await {
        Ok(shop) => shop,
        Err(e) => return error_page(&state, &user, e).await,
    };
    let form = match upload::read_checked(&state, &user, request, "avatar").await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let changed = match form.file {
        Some(bytes) => {
            shops::set_avatar(&state.ctx, Authority::User(&user.user), &shop.handle, bytes).await
        }
        None => Err(Error::invalid("avatar", "choose an image file")),
    };
    match changed {
        Ok(shop) => {
            Redirect::to(&format!("/shops/{}/settings?done=avatar", shop.handle)).into_response()
        }
        Err(e) if unfixable(&e) => error_page(&state, &user, e).await,
        Err(e) => show(&state, &user, shop, None, Some((e, Vec::new())), "").await,
    }
}
