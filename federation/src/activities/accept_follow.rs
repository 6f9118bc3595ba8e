//! `Accept{Follow}` (and `Reject{Follow}`), sent by a shop. The object is the Follow as
//! received, with its id: Mastodon matches the Accept by that id.

use activitypub_federation::{config::Data, kinds::activity::AcceptType, traits::Actor};
use market::Context;
use url::Url;

use activitypub_federation::kinds::activity::FollowType;
use market::service::followers::Decided;

use super::new_activity_id;
use crate::{
    error::Error,
    objects::{remote_actor::ApubRemoteActor, shop::ApubShop},
    outbox,
    protocol::activities::{AcceptFollow, Follow, RejectFollow},
};

/// Send the Accept for `follow` to its actor.
pub async fn send(
    data: &Data<Context>,
    shop: &ApubShop,
    follow: Follow,
    actor: &ApubRemoteActor,
) -> Result<(), Error> {
    let accept = AcceptFollow {
        kind: AcceptType::Accept,
        id: new_activity_id(data)?,
        actor: activitypub_federation::traits::Object::id(shop).clone(),
        object: follow,
        to: vec![activitypub_federation::traits::Object::id(actor).clone()],
    };
    outbox::send(data, accept, shop, vec![actor.inbox()]).await
}

/// Answer a follow request the shop's owner decided on: `Accept` or `Reject`, with the Follow
/// rebuilt from what was stored (its id is what the follower's server matches).
pub async fn answer(data: &Data<Context>, decided: Decided, accept: bool) -> Result<(), Error> {
    let shop = ApubShop::new(&data.instance, decided.shop)?;
    let actor = ApubRemoteActor::try_from(decided.actor)?;
    let parse = |s: &str| Url::parse(s).map_err(|e| Error::Internal(e.to_string()));
    let follow = Follow {
        kind: FollowType::Follow,
        id: parse(&decided.follow.follow_activity_id)?,
        actor: activitypub_federation::traits::Object::id(&actor)
            .clone()
            .into(),
        object: activitypub_federation::traits::Object::id(&shop).clone(),
    };
    if accept {
        return send(data, &shop, follow, &actor).await;
    }
    let reject = AcceptFollow {
        kind: AcceptType::Accept,
        id: new_activity_id(data)?,
        actor: activitypub_federation::traits::Object::id(&shop).clone(),
        object: follow,
        to: vec![activitypub_federation::traits::Object::id(&actor).clone()],
    };
    // Same shape as Accept, with the type Reject.
    let mut value = serde_json::to_value(&reject).map_err(|e| Error::Internal(e.to_string()))?;
    value["type"] = serde_json::Value::String("Reject".into());
    let reject: RejectFollow =
        serde_json::from_value(value).map_err(|e| Error::Internal(e.to_string()))?;
    outbox::send(data, reject, &shop, vec![actor.inbox()]).await
}
