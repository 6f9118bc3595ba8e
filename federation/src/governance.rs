//! The co-op on the fediverse (FEDERATION.md, "The co-op actor and its Questions"): an
//! `Organization` at `/coop` (`acct:coop@domain`) that anyone may follow (accepted at once), and
//! that publishes each proposal as a `Question` (`Create` when opened, `Update` with the final
//! counts when closed). Only members' votes on the node count: replies to a `Question` (which is
//! how Mastodon votes in a poll) are answered 202, logged as ignored, and change nothing.
//!
//! Every governance operation the API, pages and CLI perform goes through here, so a proposal
//! whose window has passed is closed (and its result announced) before it is read or voted on.

use activitypub_federation::{config::Data, traits::Object};
use market::{
    Context,
    entities::user,
    service::{
        Page, PageRequest,
        governance::{
            self as gov, Broadcast, Choice, Closed, NewProposal, ProposalView, Receipt, followers,
        },
        instance,
    },
};
use serde_json::{Value, json};
use url::Url;

use crate::{error::Error, outbox, protocol};

/// The co-op actor's path.
pub const COOP_PATH: &str = "/coop";
/// Its username in WebFinger (`acct:coop@domain`); no shop may take it.
pub const COOP_NAME: &str = "coop";

/// The co-op actor's id.
pub fn coop_id(ctx: &Context) -> String {
    ctx.instance.url(COOP_PATH)
}

/// Whether `id` is the co-op actor.
pub fn is_coop(ctx: &Context, id: &Url) -> bool {
    id.as_str() == coop_id(ctx)
}

fn body(activity: Value) -> Result<String, market::Error> {
    let mut activity = activity;
    if let Value::Object(map) = &mut activity {
        map.insert("@context".into(), protocol::context());
    }
    serde_json::to_string(&activity).map_err(|e| market::Error::Internal(e.to_string()))
}

/// The co-op actor document.
pub async fn actor_document(data: &Data<Context>) -> Result<Value, Error> {
    let keys = instance::coop_keys(data).await?;
    let id = coop_id(data);
    Ok(json!({
        "type": "Organization",
        "id": id,
        "preferredUsername": COOP_NAME,
        "name": format!("{} (the co-op)", data.instance.name),
        "summary": format!(
            "<p>The members of the {} co-op. Follow to see its proposals as polls; members \
             vote on the node, replies are not counted.</p>",
            html_escape::encode_text(&data.instance.name)
        ),
        "url": data.instance.url("/coop/proposals"),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": format!("{id}/followers"),
        "endpoints": {"sharedInbox": data.instance.url("/inbox")},
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "publicKey": {
            "id": format!("{id}#main-key"),
            "owner": id,
            "publicKeyPem": keys.public_key_pem,
        },
    }))
}

/// A proposal as a `Question` (Mastodon's poll shape, `app/serializers/activitypub/
/// note_serializer.rb`): `oneOf` with each option's `replies.totalItems` (0 while open: no
/// running tallies), `endTime`, and once closed `closed` and `votersCount`.
pub fn question(ctx: &Context, view: &ProposalView) -> Value {
    let coop = coop_id(ctx);
    let counts: Vec<u64> = match &view.result {
        Some(result) => result.counts.iter().map(|c| c.votes).collect(),
        None => vec![0; view.options.len()],
    };
    let one_of: Vec<Value> = view
        .options
        .iter()
        .zip(counts)
        .map(|(name, votes)| {
            json!({
                "type": "Note",
                "name": name,
                "replies": {"type": "Collection", "totalItems": votes},
            })
        })
        .collect();
    let mut content = format!(
        "<p><strong>{}</strong></p>{}",
        html_escape::encode_text(&view.title),
        view.text_html
    );
    match &view.result {
        Some(result) => content.push_str(&format!(
            "<p>{}</p>",
            html_escape::encode_text(&result.outcome)
        )),
        None => content.push_str(&format!(
            "<p>Members vote at <a href=\"{0}\">{0}</a>; replies here are not counted.</p>",
            html_escape::encode_double_quoted_attribute(&view.url)
        )),
    }
    let mut question = json!({
        "type": "Question",
        "id": view.url,
        "attributedTo": coop,
        "name": view.title,
        "content": content,
        "url": view.url,
        "published": view.created_at,
        "endTime": view.closes_at,
        "oneOf": one_of,
        "to": [protocol::PUBLIC],
        "cc": [format!("{coop}/followers")],
    });
    if let (Some(closed), Some(result)) = (view.closed_at, &view.result) {
        question["closed"] = json!(closed);
        question["votersCount"] = json!(result.cast);
    }
    question
}

/// The `Create{Question}` of a proposal (also its outbox item).
fn create_question(ctx: &Context, view: &ProposalView) -> Value {
    let coop = coop_id(ctx);
    json!({
        "type": "Create",
        "id": format!("{}/activity", view.url),
        "actor": coop,
        "published": view.created_at,
        "to": [protocol::PUBLIC],
        "cc": [format!("{coop}/followers")],
        "object": question(ctx, view),
    })
}

/// `Create{Question}` for a new proposal.
fn announce_create(ctx: &Context) -> impl Fn(&ProposalView) -> market::Result<Option<Broadcast>> {
    move |view| {
        let activity = create_question(ctx, view);
        Ok(Some(Broadcast {
            activity_id: format!("{}/activity", view.url),
            actor_id: coop_id(ctx),
            body: body(activity)?,
        }))
    }
}

/// `Update{Question}` with the final counts for a closed proposal. No `updated`: Mastodon then
/// treats it as an implicit update and refreshes only the poll (MASTODON-REQUIREMENTS.md §7).
fn announce_update(ctx: &Context) -> impl Fn(&ProposalView) -> market::Result<Option<Broadcast>> {
    move |view| {
        let coop = coop_id(ctx);
        let id = format!("{}#closed", view.url);
        Ok(Some(Broadcast {
            activity_id: id.clone(),
            actor_id: coop.clone(),
            body: body(json!({
                "type": "Update",
                "id": id,
                "actor": coop,
                "to": [protocol::PUBLIC],
                "cc": [format!("{coop}/followers")],
                "object": question(ctx, view),
            }))?,
        }))
    }
}

/// A member proposes; the `Question` goes to the co-op's followers.
pub async fn propose(
    data: &Data<Context>,
    member: &user::Model,
    input: NewProposal,
) -> Result<ProposalView, Error> {
    // The key signs the Create: make it before anything is written.
    instance::coop_keys(data).await?;
    let (view, ids) = gov::propose(data, member, input, &announce_create(data)).await?;
    outbox::dispatch(data, ids, true).await?;
    Ok(view)
}

/// An account applies to join the co-op; with admission by vote, the admission vote's
/// `Question` goes to the co-op's followers.
pub async fn apply_for_membership(
    data: &Data<Context>,
    user: &user::Model,
    statement: &str,
) -> Result<market::service::membership::MembershipView, Error> {
    if data.instance.bylaws.admission == market::bylaws::Admission::Vote {
        instance::coop_keys(data).await?;
    }
    let (view, ids) =
        market::service::membership::apply(data, user, statement, &announce_create(data)).await?;
    outbox::dispatch(data, ids, true).await?;
    Ok(view)
}

/// Close every due proposal and announce the results. Returns those closed by this call.
pub async fn close_due(data: &Data<Context>) -> Result<Vec<Closed>, Error> {
    let closed = gov::close_due(data, &announce_update(data)).await?;
    let ids: Vec<i32> = closed.iter().flat_map(|c| c.deliveries.clone()).collect();
    if !ids.is_empty() {
        instance::coop_keys(data).await?;
    }
    outbox::dispatch(data, ids, true).await?;
    for done in &closed {
        tracing::info!(proposal = %done.proposal.id, outcome = %done.results.outcome, "proposal closed");
    }
    Ok(closed)
}

/// One proposal, closed first if its time has come.
pub async fn get(data: &Data<Context>, id: &str) -> Result<ProposalView, Error> {
    close_due(data).await?;
    Ok(gov::get(data, id).await?)
}

/// Proposals, open first, due ones closed first.
pub async fn list(data: &Data<Context>, page: PageRequest) -> Result<Page<ProposalView>, Error> {
    close_due(data).await?;
    Ok(gov::list(data, page).await?)
}

/// A member votes (a due proposal is closed first, so a late vote is a 409).
pub async fn vote(
    data: &Data<Context>,
    voter: &user::Model,
    id: &str,
    choice: &Choice,
) -> Result<Receipt, Error> {
    close_due(data).await?;
    Ok(gov::vote(data, voter, id, choice).await?)
}

/// The `Question` of proposal `id` (for `GET /coop/proposals/{id}` as ActivityPub).
pub async fn question_document(data: &Data<Context>, id: &str) -> Result<Value, Error> {
    let view = get(data, id).await?;
    Ok(question(data, &view))
}

/// The co-op's outbox: the `Create{Question}` of its newest proposals (at most 20).
pub async fn outbox_document(data: &Data<Context>) -> Result<Value, Error> {
    close_due(data).await?;
    let (views, total) = gov::newest(data, 20).await?;
    let items: Vec<Value> = views.iter().map(|v| create_question(data, v)).collect();
    Ok(json!({
        "type": "OrderedCollection",
        "id": data.instance.url("/coop/outbox"),
        "totalItems": total,
        "orderedItems": items,
    }))
}

/// The co-op's followers: the count only.
pub async fn followers_document(data: &Data<Context>) -> Result<Value, Error> {
    Ok(json!({
        "type": "OrderedCollection",
        "id": data.instance.url("/coop/followers"),
        "totalItems": followers::count(data).await?,
    }))
}

/// A `Follow` of the co-op: recorded and accepted at once (the `Accept` echoes the Follow with
/// its id, which is what Mastodon matches).
pub async fn receive_follow(
    data: &Data<Context>,
    follow: crate::protocol::activities::Follow,
) -> Result<(), Error> {
    let actor = follow.actor.dereference(data).await?;
    followers::record(data, &actor.row, follow.id.as_str()).await?;
    instance::coop_keys(data).await?;
    let accept_id = crate::activities::new_activity_id(data)?;
    let coop = coop_id(data);
    let accept = json!({
        "type": "Accept",
        "id": accept_id,
        "actor": coop,
        "to": [actor.id()],
        "object": follow,
    });
    let inbox = activitypub_federation::traits::Actor::inbox(&actor).to_string();
    let ids = market::service::deliveries::enqueue(
        data,
        accept_id.as_str(),
        &coop,
        &body(accept)?,
        &[inbox],
    )
    .await?;
    outbox::dispatch(data, ids, true).await
}

/// The proposal id in a `Question` id of ours (`{base}/coop/proposals/{id}`).
pub fn proposal_id_of(ctx: &Context, question: &str) -> Option<String> {
    let id = question.strip_prefix(&ctx.instance.url("/coop/proposals/"))?;
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

/// A `Create{Note}` replying to one of our `Question`s (a Mastodon poll vote has `name` = the
/// option and no content): not a vote. Logged as ignored; the sender gets 202.
pub async fn receive_reply(
    data: &Data<Context>,
    actor: &Url,
    proposal_id: &str,
    note: &Value,
) -> Result<(), Error> {
    let option = note.get("name").and_then(|n| n.as_str());
    match gov::reply_ignored(data, proposal_id, actor.as_str(), option).await {
        Ok(()) => Ok(()),
        // A reply to a proposal that does not exist: nothing to log.
        Err(market::Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
