//! `/admin/members`: the co-op's members with their role and shops (promote, demote, remove),
//! and the applications waiting (admit or turn down, unless the bylaws admit by vote). The
//! same services as `POST /api/v1/admin/members/…` and `tianguis member …`.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use market::{
    bylaws::Admission,
    service::{
        accounts,
        membership::{self, Decider, MembershipView, Shops},
        shops::{self, Authority},
    },
};
use serde::Deserialize;

use super::{Admin, Shown, done};
use crate::pages::membership::DecideForm;
use crate::{
    pages::{Nav, PageError},
    routes::AppState,
    session::{PageUser, check_csrf},
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/members", get(page))
        .route("/admin/members/role", post(set_role))
        .route("/admin/members/remove", post(remove))
        .route("/admin/members/decide", post(decide))
}

/// A member as the table shows them.
struct MemberRow {
    username: String,
    /// `admin` or `member`.
    role: String,
    /// Admitted (founders: when the account was made).
    since: DateTime<Utc>,
    /// The shops they run (handles).
    shops: Vec<String>,
    /// The admin looking at the page.
    is_self: bool,
}

#[derive(Template)]
#[template(path = "admin_members.html")]
struct MembersPage<'a> {
    node_name: &'a str,
    nav: Nav,
    section: &'static str,
    note: Option<String>,
    error: Option<String>,
    csrf: String,
    members: Vec<MemberRow>,
    pending: Vec<MembershipView>,
    by_vote: bool,
}

async fn page(State(state): State<AppState>, Admin(user): Admin, headers: HeaderMap) -> Response {
    show(&state, &user, Shown::from_headers(&headers)).await
}

async fn show(state: &AppState, user: &PageUser, shown: Shown) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let shown = match shown.check(state, &nav) {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let loaded = async {
        let active = membership::list_with_status(ctx, Some("active")).await?;
        let pending = membership::pending(ctx).await?;
        let ids: HashMap<i32, String> = accounts::list_users(ctx)
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        let mut shops_by_owner: HashMap<String, Vec<String>> = HashMap::new();
        for shop in shops::list_shops(ctx).await? {
            if let Some(owner) = ids.get(&shop.owner_id) {
                shops_by_owner
                    .entry(owner.clone())
                    .or_default()
                    .push(shop.handle);
            }
        }
        Ok::<_, market::Error>((active, pending, shops_by_owner))
    };
    let (active, pending, mut shops_by_owner) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return PageError::new(state, e).nav(nav).into_response(),
    };
    let members = active
        .into_iter()
        .map(|m| MemberRow {
            shops: shops_by_owner.remove(&m.username).unwrap_or_default(),
            is_self: m.username == user.user.username,
            since: m.decided_at.unwrap_or(m.applied_at),
            role: m.role,
            username: m.username,
        })
        .collect();
    shown.answer(
        state,
        &MembersPage {
            node_name: &ctx.instance.name,
            nav,
            section: "members",
            note: shown.note.clone(),
            error: shown.error_text(),
            csrf: user.csrf(),
            members,
            pending,
            by_vote: ctx.instance.bylaws.admission == Admission::Vote,
        },
    )
}

/// The promote/demote buttons.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleForm {
    csrf: String,
    username: String,
    /// `admin` or `member`.
    role: String,
}

async fn set_role(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<RoleForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let admin = match form.role.as_str() {
        "admin" => true,
        "member" => false,
        _ => {
            let e = market::Error::invalid("role", "admin or member");
            return show(&state, &user, Shown::refused(e)).await;
        }
    };
    match membership::set_admin(
        &state.ctx,
        Authority::User(&user.user),
        &form.username,
        admin,
    )
    .await
    {
        Ok(view) => done(
            &state,
            "/admin/members",
            &if admin {
                format!("{} is now an admin.", view.username)
            } else {
                format!("{} is now an ordinary member.", view.username)
            },
        ),
        Err(e) => show(&state, &user, Shown::refused(e)).await,
    }
}

/// The Remove form: what happens to the member's shops.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RemoveForm {
    csrf: String,
    username: String,
    /// `close`, or `to:USERNAME` to hand them to another member.
    shops: String,
}

async fn remove(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<RemoveForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let shops_go = match form.shops.trim() {
        "close" => Shops::Close,
        other => match other.strip_prefix("to:").map(str::trim) {
            Some(heir) if !heir.is_empty() => Shops::TransferTo(heir.to_string()),
            _ => {
                let e = market::Error::invalid(
                    "shops",
                    "choose whether their shops close or go to another member",
                );
                return show(&state, &user, Shown::refused(e)).await;
            }
        },
    };
    match membership::leave(
        &state.ctx,
        Authority::User(&user.user),
        &form.username,
        shops_go,
    )
    .await
    {
        Ok(departure) => {
            let mut note = format!(
                "{} is no longer a member (their account stays, as a buyer).",
                departure.membership.username
            );
            if !departure.closed_shops.is_empty() {
                note.push_str(&format!(
                    " Shops closed: {}.",
                    departure.closed_shops.join(", ")
                ));
            }
            if let Some(to) = &departure.transferred_to
                && !departure.transferred_shops.is_empty()
            {
                note.push_str(&format!(
                    " Shops handed to {to}: {}.",
                    departure.transferred_shops.join(", ")
                ));
            }
            if let Some(refund) = &departure.refunded {
                note.push_str(&format!(" Share refunded: {refund}."));
            }
            done(&state, "/admin/members", &note)
        }
        Err(e) => show(&state, &user, Shown::refused(e)).await,
    }
}

async fn decide(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let approve = match form.approve() {
        Ok(approve) => approve,
        Err(e) => return show(&state, &user, Shown::refused(e)).await,
    };
    match membership::decide(
        &state.ctx,
        Decider::Admin(&user.user),
        &form.username,
        approve,
    )
    .await
    {
        Ok(view) if approve => done(
            &state,
            "/admin/members",
            &format!(
                "{} is admitted; their share of {} {} is booked.",
                view.username, view.share, view.currency
            ),
        ),
        Ok(view) => done(
            &state,
            "/admin/members",
            &format!("{}'s application is turned down.", view.username),
        ),
        Err(e) => show(&state, &user, Shown::refused(e)).await,
    }
}
