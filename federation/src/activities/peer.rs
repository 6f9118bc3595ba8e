//! Node-to-node activities between instance actors and from a peer's shops: a peer's `Follow` of
//! our instance actor, the `Accept`/`Reject` of ours, and a peer's listings arriving live
//! (`Create`/`Update` of a `Proposal`; `Delete` is in `delete.rs`).

use std::collections::HashMap;

use activitypub_federation::{
    config::Data,
    kinds::activity::{AcceptType, FollowType},
    traits::{Activity, Actor, Object},
};
use market::{
    Context,
    entities::peer,
    service::{deliveries::host_of, instance, peers},
};
use url::Url;

use super::{new_activity_id, object_id};
use crate::{
    error::Error,
    objects::{instance_actor::ApubInstance, remote_actor::ApubRemoteActor},
    outbox, peering,
    protocol::activities::{AcceptFollow, AnswerKind, Follow, FollowAnswer, Publish, PublishKind},
};

fn parse(s: &str) -> Result<Url, Error> {
    Url::parse(s).map_err(|e| Error::Internal(format!("stored URL {s:?}: {e}")))
}

/// Whether `id` is our instance actor.
pub fn is_instance_actor(data: &Data<Context>, id: &Url) -> bool {
    id.as_str() == data.instance.url("/actor")
}

/// A node's instance actor follows ours: record it, and accept at once in open mode or if our
/// admin approved the node; otherwise it waits for `tianguis peer approve`.
pub async fn receive_follow(data: &Data<Context>, follow: Follow) -> Result<(), Error> {
    let actor = follow.actor.dereference(data).await?;
    let domain = host_of(actor.id().as_str())
        .ok_or_else(|| Error::BadRequest("the follower has no host".into()))?;
    let base = format!("{}://{domain}", actor.id().scheme());
    let (row, accept) = peers::follow_requested(
        data,
        &domain,
        &base,
        actor.id().as_str(),
        follow.id.as_str(),
    )
    .await?;
    peers::set_inbox(
        data,
        row.id,
        actor.id().as_str(),
        actor.shared_inbox_or_inbox().as_str(),
    )
    .await?;
    if accept {
        let row = peers::get(data, &domain).await?;
        send_accept(data, &row).await?;
    } else {
        tracing::info!(%domain, "peer follow request waiting for approval");
    }
    Ok(())
}

/// Send the `Accept` of a peer's follow of our instance actor, rebuilt from what was stored.
pub async fn send_accept(data: &Data<Context>, row: &peer::Model) -> Result<(), Error> {
    let (Some(follow_id), Some(actor_id)) = (&row.incoming_follow_id, &row.incoming_actor_id)
    else {
        return Err(Error::BadRequest(format!(
            "{} has not asked to follow us",
            row.domain
        )));
    };
    let keys = instance::instance_keys(data).await?;
    let ours = ApubInstance::new(&data.instance, keys)?;
    let inbox = match &row.inbox {
        Some(inbox) => parse(inbox)?,
        None => parse(&format!("{actor_id}/inbox"))?,
    };
    let accept = AcceptFollow {
        kind: AcceptType::Accept,
        id: new_activity_id(data)?,
        actor: ours.id().clone(),
        object: Follow {
            kind: FollowType::Follow,
            id: parse(follow_id)?,
            actor: parse(actor_id)?.into(),
            object: ours.id().clone(),
        },
        to: vec![parse(actor_id)?],
    };
    outbox::send(data, accept, &ours, vec![inbox]).await
}

#[async_trait::async_trait]
impl Activity for FollowAnswer {
    type DataType = Context;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &Data<Context>) -> Result<(), Error> {
        Ok(())
    }

    /// Only the actor we followed can answer our Follow; an answer to anything else is ignored.
    async fn receive(self, data: &Data<Context>) -> Result<(), Error> {
        // An answer to one of our buyers' offers? (Idempotent by itself: a second answer to
        // the same offer is refused with 409.)
        if crate::orders::receive_answer(
            data,
            self.kind == AnswerKind::Accept,
            self.actor.inner(),
            &self.object,
            self.result.as_ref(),
            self.content.as_deref(),
        )
        .await?
        {
            return Ok(());
        }
        let id = self.id.clone();
        super::once(data, &id, self.follow_answered(data)).await
    }
}

impl FollowAnswer {
    /// The answer to our instance actor's Follow of a peer node, run once per activity id.
    async fn follow_answered(self, data: &Data<Context>) -> Result<(), Error> {
        let Some(follow_id) = object_id(&self.object) else {
            return Ok(());
        };
        let Some(row) = peers::find_by_follow(data, follow_id).await? else {
            tracing::debug!(%follow_id, "answer to a follow we did not send; ignored");
            return Ok(());
        };
        if row.actor_id.as_deref() != Some(self.actor.inner().as_str()) {
            return Err(Error::Forbidden(
                "only the followed actor answers a Follow".into(),
            ));
        }
        let accepted = self.kind == AnswerKind::Accept;
        let row = peers::follow_answered(data, row.id, accepted).await?;
        if accepted {
            tracing::info!(peer = %row.domain, "peer accepted our follow; copying its catalog");
            peering::start_sync(data, row.id);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Activity for Publish {
    type DataType = Context;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &Data<Context>) -> Result<(), Error> {
        Ok(())
    }

    /// A `Proposal` from a shop on a node whose catalog we copy is stored (if newer than ours);
    /// anything else is ignored.
    async fn receive(self, data: &Data<Context>) -> Result<(), Error> {
        let kind = self.object.get("type").and_then(|t| t.as_str());
        let context = self.object.get("context").and_then(object_id);
        let in_reply_to = self.object.get("inReplyTo").and_then(object_id);
        if let (PublishKind::Create, Some("Note"), Some(question)) = (self.kind, kind, in_reply_to)
            && let Some(proposal) = crate::governance::proposal_id_of(data, question)
        {
            // A reply to a proposal's Question (how Mastodon votes in a poll): never counted.
            return crate::governance::receive_reply(
                data,
                self.actor.inner(),
                &proposal,
                &self.object,
            )
            .await;
        }
        match (self.kind, kind, context) {
            // An order step from its other party.
            (PublishKind::Update, Some("Agreement"), _) => {
                let agreement = object_id(&self.object)
                    .ok_or_else(|| Error::BadRequest("the Agreement has no id".into()))?;
                let state = self.object["tianguis:state"].as_str().ok_or_else(|| {
                    Error::BadRequest("an Update of an Agreement carries tianguis:state".into())
                })?;
                let reason = self.object["tianguis:reason"].as_str();
                if !crate::orders::receive_step(data, self.actor.inner(), agreement, state, reason)
                    .await?
                {
                    return Err(Error::Market(market::Error::not_found("order")));
                }
                return Ok(());
            }
            // The receipt that completes an order.
            (PublishKind::Create, Some("Document"), Some(agreement)) => {
                if !crate::orders::receive_step(
                    data,
                    self.actor.inner(),
                    agreement,
                    "completed",
                    None,
                )
                .await?
                {
                    tracing::debug!(%agreement, "a Document about no order of ours; ignored");
                }
                return Ok(());
            }
            // A message on an order.
            (PublishKind::Create, Some("Note"), Some(agreement)) => {
                if !crate::orders::receive_message(
                    data,
                    self.actor.inner(),
                    &self.object,
                    agreement,
                )
                .await?
                {
                    tracing::debug!(%agreement, "a Note in a context that is no order of ours");
                }
                return Ok(());
            }
            (_, Some("Proposal"), _) => {}
            _ => return Ok(()),
        }
        let Some(host) = host_of(self.actor.inner().as_str()) else {
            return Ok(());
        };
        if peers::followed(data, &host).await?.is_none() {
            tracing::debug!(%host, "listing from a node we do not follow; ignored");
            return Ok(());
        }
        let attributed = self
            .object
            .get("attributedTo")
            .and_then(|a| a.as_str().or_else(|| a.get("id").and_then(|i| i.as_str())));
        if attributed != Some(self.actor.inner().as_str()) {
            return Err(Error::Forbidden(
                "a shop may only publish its own listings".into(),
            ));
        }
        let actor: ApubRemoteActor = self.actor.dereference(data).await?;
        let mut shops = HashMap::new();
        shops.insert(actor.id().to_string(), std::sync::Arc::new(actor));
        peering::ingest(data, &host, &self.object, &mut shops).await?;
        Ok(())
    }
}
