//! The node's admin pages under `/admin`: an overview, and one page each for members, peer
//! nodes, the federation policy, delivery health and the books. They call the same services as
//! the JSON API (`api::admin`, `api::coop`) and the CLI, and work without JavaScript.
//!
//! Only admins see them: a visitor who is not logged in is sent to the login form, a logged-in
//! non-admin gets a 403 page ([`Admin`]). Every form carries the session's CSRF value. A form
//! that worked answers 303 back to its page, which shows what was done once (a short-lived
//! cookie, [`done`]); one that was refused shows its page again with the reason and the
//! refusal's 4xx status.

use askama::Template;
use axum::{
    Router,
    extract::{FromRequestParts, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use market::{
    entities::peer,
    service::{PageRequest, domains, membership, periods},
};

use super::{Nav, PageError, render};
use crate::{
    config::FederationMode,
    routes::AppState,
    session::{PageUser, no_store},
};

mod deliveries;
mod ledger;
mod members;
mod peers;
mod policy;

/// `/admin` and its pages.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview))
        .merge(members::routes())
        .merge(peers::routes())
        .merge(policy::routes())
        .merge(deliveries::routes())
        .merge(ledger::routes())
}

/// A logged-in admin. Without a session: 303 to the login form (as [`PageUser`]); anyone else
/// gets the 403 page.
pub(super) struct Admin(pub PageUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = PageUser::from_request_parts(parts, state).await?;
        if user.user.is_admin() {
            return Ok(Admin(user));
        }
        let nav = Nav::build(state, Some(&user)).await;
        Err(PageError::new(
            state,
            market::Error::Forbidden("only the co-op's admins can see the admin pages".into()),
        )
        .nav(nav)
        .into_response())
    }
}

/// The cookie carrying the note of the last action to the page it redirects to.
const NOTE_COOKIE: &str = "tianguis_admin_note";

/// The longest note cookie value read or written (bytes, percent-encoded); a longer note is
/// cut, and a longer cookie is not ours.
const NOTE_MAX: usize = 1500;

fn secure(state: &AppState) -> &'static str {
    if state.ctx.instance.base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    }
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        Err(e) => tracing::warn!(error = %e, "admin note is not a header value"),
    }
    response
}

/// 303 to `to` (an admin page), which shows `note` once: what the form did.
pub(super) fn done(state: &AppState, to: &str, note: &str) -> Response {
    with_cookie(
        Redirect::to(to).into_response(),
        &format!(
            "{NOTE_COOKIE}={}; Max-Age=300; Path=/admin; HttpOnly; SameSite=Lax{}",
            encode_note(note),
            secure(state)
        ),
    )
}

/// `note` percent-encoded for the cookie, cut at a character boundary to [`NOTE_MAX`] bytes.
fn encode_note(note: &str) -> String {
    let mut encoded = String::new();
    let mut buffer = [0u8; 4];
    for c in note.chars() {
        let piece: String =
            url::form_urlencoded::byte_serialize(c.encode_utf8(&mut buffer).as_bytes()).collect();
        if encoded.len() + piece.len() > NOTE_MAX {
            break;
        }
        encoded.push_str(&piece);
    }
    encoded
}

/// The note a form left for this page, if any.
fn note_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == NOTE_COOKIE && !value.is_empty() && value.len() <= NOTE_MAX)
        .and_then(|(_, value)| decode_note(value))
}

fn decode_note(value: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("n={value}").as_bytes())
        .next()
        .map(|(_, note)| note.into_owned())
        .filter(|note| !note.trim().is_empty())
}

/// What a page shows above its content: the note of the action just done, or why the form
/// just sent was refused.
#[derive(Default)]
pub(super) struct Shown {
    /// What the last form did (from [`done`]).
    pub note: Option<String>,
    /// Why the form was refused.
    pub error: Option<market::Error>,
}

impl Shown {
    /// A GET: the note left by the last form, if any.
    pub fn from_headers(headers: &HeaderMap) -> Shown {
        Shown {
            note: note_of(headers),
            error: None,
        }
    }

    /// A refused form.
    pub fn refused(error: market::Error) -> Shown {
        Shown {
            note: None,
            error: Some(error),
        }
    }

    /// The refusal's message, for the template.
    pub fn error_text(&self) -> Option<String> {
        self.error.as_ref().map(market::Error::public_message)
    }

    /// The page's status: the refusal's (a 4xx), else 200.
    fn status(&self) -> StatusCode {
        self.error.as_ref().map_or(StatusCode::OK, |e| {
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
        })
    }

    /// An internal failure is not shown on the page but as the 500 page (and logged).
    // The page is the error path of a handler that returns a `Response` either way.
    #[allow(clippy::result_large_err)]
    pub fn check(self, state: &AppState, nav: &Nav) -> Result<Shown, Response> {
        match self.error {
            Some(e) if e.is_internal() => {
                Err(PageError::new(state, e).nav(nav.clone()).into_response())
            }
            error => Ok(Shown { error, ..self }),
        }
    }

    /// The rendered page with its status; never stored, and the note is used up.
    pub fn answer(&self, state: &AppState, page: &impl Template) -> Response {
        let response = no_store((self.status(), render(page)).into_response());
        if self.note.is_some() {
            with_cookie(
                response,
                &format!(
                    "{NOTE_COOKIE}=; Max-Age=0; Path=/admin; HttpOnly; SameSite=Lax{}",
                    secure(state)
                ),
            )
        } else {
            response
        }
    }
}

#[derive(Template)]
#[template(path = "admin_overview.html")]
struct OverviewPage<'a> {
    node_name: &'a str,
    nav: Nav,
    section: &'static str,
    note: Option<String>,
    error: Option<String>,
    members: u64,
    applications: usize,
    by_vote: bool,
    peers: usize,
    peers_federating: usize,
    peers_waiting: usize,
    peers_asking: usize,
    allowlist: bool,
    blocked: usize,
    deliveries: market::service::deliveries::QueueStatus,
    open_proposals: usize,
    last_period: Option<periods::PeriodView>,
    open_since: Option<DateTime<Utc>>,
}

/// `GET /admin`: the node at a glance, each figure a link to its page.
async fn overview(
    State(state): State<AppState>,
    Admin(user): Admin,
    headers: HeaderMap,
) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, Some(&user)).await;
    let fail = PageError::with(&state, &nav);
    let shown = Shown::from_headers(&headers);
    let figures = async {
        let members = membership::count_members(&ctx.db).await?;
        let applications = membership::pending(ctx).await?.len();
        let all_peers = market::service::peers::list(ctx).await?;
        let blocked = domains::list(ctx).await?.len();
        let queue = market::service::deliveries::status(ctx).await?;
        let data = state.federation.to_request_data();
        let proposals =
            federation::governance::list(&data, PageRequest::parse(Some(1), Some(100))?)
                .await
                .map_err(federation::Error::into_market)?;
        let closed = periods::list(ctx).await?;
        Ok::<_, market::Error>((
            members,
            applications,
            all_peers,
            blocked,
            queue,
            proposals,
            closed,
        ))
    };
    let (members, applications, all_peers, blocked, queue, proposals, closed) = match figures.await
    {
        Ok(figures) => figures,
        Err(e) => return fail(e).into_response(),
    };
    let last_period = closed.into_iter().last();
    let open_since = last_period.as_ref().map(|p| p.ends_at);
    shown.answer(
        &state,
        &OverviewPage {
            node_name: &ctx.instance.name,
            nav: nav.clone(),
            section: "overview",
            note: shown.note.clone(),
            error: shown.error_text(),
            members,
            applications,
            by_vote: ctx.instance.bylaws.admission == market::bylaws::Admission::Vote,
            peers: all_peers.len(),
            peers_federating: all_peers
                .iter()
                .filter(|p| p.outgoing == peer::outgoing::ACCEPTED)
                .count(),
            peers_waiting: all_peers
                .iter()
                .filter(|p| p.outgoing == peer::outgoing::PENDING)
                .count(),
            peers_asking: all_peers.iter().filter(|p| asks_us(p)).count(),
            allowlist: state.config.federation.mode == FederationMode::Allowlist,
            blocked,
            deliveries: queue,
            open_proposals: proposals.items.iter().filter(|p| p.open).count(),
            last_period,
            open_since,
        },
    )
}

/// A node that asked to federate and waits for our admin's approval.
pub(super) fn asks_us(p: &peer::Model) -> bool {
    p.incoming == peer::incoming::REQUESTED && !p.approved
}

#[cfg(test)]
mod tests {
    use super::{NOTE_MAX, decode_note, encode_note};

    #[test]
    fn a_note_survives_the_cookie_and_a_long_one_is_cut() {
        let note = "Blocked ñandú.example; forgot 1 listing (and 2 actors) & 3 peers.";
        assert_eq!(decode_note(&encode_note(note)).as_deref(), Some(note));
        let long = "é".repeat(2000);
        let encoded = encode_note(&long);
        assert!(encoded.len() <= NOTE_MAX);
        let back = decode_note(&encoded).unwrap_or_default();
        assert!(!back.is_empty() && long.starts_with(&back));
        assert_eq!(decode_note(""), None);
    }
}
