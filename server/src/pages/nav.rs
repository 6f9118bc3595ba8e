//! The site header's links, which depend on who is looking: every page that renders
//! `base.html` carries a [`Nav`].

use market::service::{PageRequest, orders};

use crate::{routes::AppState, session::PageUser};

/// What the header shows besides "Search".
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// The logged-in account's links, if someone is logged in.
    pub account: Option<NavAccount>,
    /// The visitor is known to be logged out: offer "Log in" and "Register". False on pages
    /// that cannot tell (an error before the session was read), which show neither.
    pub guest: bool,
}

/// The header links of a logged-in account.
#[derive(Debug, Clone)]
pub struct NavAccount {
    /// Shown next to "Log out".
    pub username: String,
    /// Unread notifications; `None` when they could not be counted (the link stays).
    pub unread: Option<u64>,
    /// A co-op member: "Selling" (their shops and listings).
    pub member: bool,
    /// An admin: "Admin".
    pub admin: bool,
}

impl Nav {
    /// For a visitor who is not logged in.
    pub fn guest() -> Nav {
        Nav {
            account: None,
            guest: true,
        }
    }

    /// For a page that cannot tell who is looking.
    pub fn unknown() -> Nav {
        Nav::default()
    }

    /// For `user`, without asking the database anything (error pages): no counts, no shop.
    pub fn session(user: &PageUser) -> Nav {
        Nav {
            account: Some(NavAccount {
                username: user.user.username.clone(),
                unread: None,
                member: user.user.is_member(),
                admin: user.user.is_admin(),
            }),
            guest: false,
        }
    }

    /// The header for `user` (or a guest): the unread count. A failure to read it is logged
    /// and costs only that figure, never the page. (A shop's orders are reached from
    /// "Selling", which counts those waiting.)
    pub async fn build(state: &AppState, user: Option<&PageUser>) -> Nav {
        let Some(user) = user else {
            return Nav::guest();
        };
        let mut nav = Nav::session(user);
        let ctx = &state.ctx;
        let one = PageRequest {
            page: 1,
            per_page: 1,
        };
        let unread = orders::notifications(ctx, &user.user, true, one).await;
        if let Some(account) = nav.account.as_mut() {
            match unread {
                Ok((_, unread)) => account.unread = Some(unread),
                Err(e) => tracing::error!(error = %e, "counting notifications for the header"),
            }
        }
        nav
    }
}
