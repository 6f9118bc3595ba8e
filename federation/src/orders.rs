//! Orders between nodes (FEP-0837 and our extension; FEDERATION.md, "Orders"): the buyer's node
//! asks the shop's node for a quote, sends `Offer{Agreement}`, and reads the `Accept` or
//! `Reject`; then each step is an `Update{Agreement}` from the party taking it, completion a
//! `Create{Document}` receipt, and messages `Create{Note}` with `context` = the Agreement. Every
//! one is addressed to the other party alone. When buyer and shop are on this node the same
//! steps run without any activity.

use activitypub_federation::{
    config::Data,
    fetch::object_id::ObjectId,
    traits::{Actor, Object},
};
use market::{
    Context,
    entities::{order, order_message, user},
    service::{
        accounts,
        catalog::{self, EntryView},
        deliveries::host_of,
        orders::{
            self, Address, Answer, Decision, NewOrder, OfferIn, Outgoing, Party, Quote,
            QuoteRequest, State,
        },
        shops::Authority,
    },
};
use serde_json::{Value, json};
use url::Url;

use crate::{
    activities::object_id, error::Error, objects::remote_actor::ApubRemoteActor, outbox, protocol,
};

/// The unit of every quantity in our Proposals and Agreements.
const UNIT: &str = "one";

/// A user's actor id.
pub fn user_actor(data: &Data<Context>, user: &user::Model) -> String {
    data.instance.url(&format!("/users/{}", user.username))
}

fn is_local(data: &Data<Context>, id: &str) -> bool {
    host_of(id).as_deref() == Some(data.instance.domain.as_str())
        || id.starts_with(&data.instance.url("/"))
}

fn body(activity: Value) -> Result<String, market::Error> {
    let mut activity = activity;
    if let Value::Object(map) = &mut activity {
        map.insert("@context".into(), protocol::context());
    }
    serde_json::to_string(&activity).map_err(|e| market::Error::Internal(e.to_string()))
}

fn fresh_id(data: &Data<Context>) -> String {
    data.instance
        .url(&format!("/activities/{}", uuid::Uuid::new_v4()))
}

/// What `quantity` of catalog entry `entry` costs, asked of the shop's node (or computed here for
/// our own shops): the seller's own figures, shown to the buyer before they confirm.
pub async fn quote(
    data: &Data<Context>,
    entry: &EntryView,
    request: &QuoteRequest,
) -> Result<Quote, Error> {
    if let (true, Some(listing)) = (entry.local, &entry.listing_id) {
        return Ok(orders::quote(data, listing, request).await?);
    }
    let mut url = Url::parse(&format!("{}/quote", entry.object_id))
        .map_err(|_| Error::BadRequest("the listing has a bad id".into()))?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("quantity", &request.quantity.unwrap_or(1).to_string());
        if let Some(option) = &request.shipping_option {
            query.append_pair("shipping_option", option);
        }
        if let Some(country) = &request.country {
            query.append_pair("country", country);
        }
    }
    let url = outbox::checked_inbox(url.as_str(), data.instance.federation_debug)
        .map_err(|_| Error::BadRequest("the shop's node is not on a public address".into()))?;
    let host = host_of(url.as_str()).unwrap_or_default();
    if market::service::domains::blocked_by(data, &host)
        .await?
        .is_some()
    {
        return Err(Error::Forbidden(format!(
            "this node does not federate with {host}"
        )));
    }
    let unavailable = |why: String| {
        Error::Market(market::Error::Conflict(format!(
            "the shop's node {host} could not give a price now ({why}); try again later"
        )))
    };
    let response = crate::config::delivery_client(&data.instance.domain)
        .get(url.clone())
        .header("Accept", "application/json")
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    if bytes.len() > 256 * 1024 {
        return Err(unavailable("the answer is too large".into()));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| unavailable(format!("status {status}, not JSON")))?;
    if !status.is_success() {
        // The seller's refusal, passed on in its own words.
        let message = value["message"].as_str().unwrap_or("refused").to_string();
        return Err(Error::Market(match status.as_u16() {
            404 | 410 => market::Error::Conflict("the shop no longer offers this listing".into()),
            409 => market::Error::Conflict(message),
            422 => market::Error::invalid(
                value["field"].as_str().unwrap_or("quote").to_string(),
                message,
            ),
            _ => return Err(unavailable(format!("status {status}"))),
        }));
    }
    let quote: Quote = serde_json::from_value(value)
        .map_err(|e| unavailable(format!("an unreadable quote: {e}")))?;
    if quote.proposal != entry.object_id {
        return Err(unavailable("a quote for another listing".into()));
    }
    Ok(quote)
}

/// What a buyer orders.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    /// The catalog entry.
    pub entry: i32,
    /// Items.
    pub quantity: i32,
    /// The shipping option's id.
    pub shipping_option: String,
    /// The address (not for pickup).
    pub address: Option<Address>,
    /// The total the buyer was shown and confirms; a higher one is refused.
    pub total: String,
}

/// A buyer orders: the seller's quote is asked for again and must not exceed the confirmed
/// total (409 otherwise, nothing sent), the order is recorded and the `Offer` sent. For our own
/// shops the offer is answered at once, here.
pub async fn place(
    data: &Data<Context>,
    buyer: &user::Model,
    request: OrderRequest,
) -> Result<order::Model, Error> {
    let entry = catalog::get_entry(data, request.entry).await?;
    let address = request.address.map(Address::validated).transpose()?;
    let quote_request = QuoteRequest {
        quantity: Some(request.quantity),
        shipping_option: Some(request.shipping_option.clone()),
        country: address.as_ref().map(|a| a.country.clone()),
    };
    let quote = quote(data, &entry, &quote_request).await?;
    let (Some(total), Some(option)) = (&quote.total, &quote.shipping_option) else {
        return Err(market::Error::invalid("shipping_option", "choose a shipping option").into());
    };
    let currency = market::types::Currency::parse(&quote.currency)?;
    let confirmed = market::types::Money::parse(&request.total, currency)
        .map_err(|_| market::Error::invalid("total", "the total you were shown, as \"61.50\""))?;
    let total_now = market::types::Money::parse(total, currency)?;
    if total_now.minor() > confirmed.minor() {
        return Err(market::Error::Conflict(format!(
            "the total is now {total} {}, not {}: check the new total and confirm again",
            quote.currency, request.total
        ))
        .into());
    }
    if !option.pickup && address.is_none() {
        return Err(market::Error::invalid(
            "address",
            "a shipping address is needed for this option",
        )
        .into());
    }
    // Pickup needs no address: it is not sent.
    let address = if option.pickup { None } else { address };
    let buyer_actor = user_actor(data, buyer);
    let local_shop = if entry.local {
        market::service::shops::find_shop_by_ap_id(data, &entry.shop.id).await?
    } else {
        None
    };
    if let Some(shop) = &local_shop
        && shop.owner_id == buyer.id
    {
        return Err(market::Error::Conflict("this is your own shop".into()).into());
    }
    let shop_inbox = match &local_shop {
        Some(shop) => format!("{}/inbox", shop.ap_id),
        None => {
            let id: ObjectId<ApubRemoteActor> = Url::parse(&entry.shop.id)
                .map_err(|_| Error::BadRequest("the shop has a bad id".into()))?
                .into();
            let shop = id
                .dereference(&data.reset_request_count())
                .await
                .map_err(|e| {
                    market::Error::Conflict(format!(
                        "the shop's node did not answer ({e}); try again later"
                    ))
                })?;
            shop.inbox().to_string()
        }
    };
    let offer_id = fresh_id(data);
    let new = NewOrder {
        offer_id: offer_id.clone(),
        buyer: buyer.clone(),
        buyer_actor: buyer_actor.clone(),
        buyer_inbox: format!("{buyer_actor}/inbox"),
        shop_actor: entry.shop.id.clone(),
        shop_inbox,
        shop_name: entry.shop.handle.clone(),
        shop_id: local_shop.as_ref().map(|s| s.id),
        proposal_id: entry.object_id.clone(),
        listing_id: entry.listing_id.clone(),
        quote: quote.clone(),
        address: address.clone(),
    };
    if local_shop.is_none() {
        // The key signs the Offer; make it before anything is written.
        accounts::user_keys(data, buyer.id).await?;
    }
    let remote = local_shop.is_none();
    let offer = |row: &order::Model| -> Result<Option<Outgoing>, market::Error> {
        if !remote {
            return Ok(None);
        }
        let mut agreement = json!({
            "type": "Agreement",
            "stipulates": {
                "type": "Commitment",
                "satisfies": format!("{}#primary", row.proposal_id),
                "resourceQuantity": {"hasUnit": UNIT, "hasNumericalValue": row.quantity.to_string()},
            },
            "stipulatesReciprocal": {
                "type": "Commitment",
                "satisfies": format!("{}#reciprocal", row.proposal_id),
                "resourceQuantity": {"hasUnit": UNIT, "hasNumericalValue": quote.items},
            },
            "tianguis:shippingOption": row.shipping_option_id,
            "tianguis:total": quote.total,
        });
        if let Some(address) = &address {
            agreement["tianguis:shippingAddress"] = json!({
                "name": address.name,
                "street": address.street,
                "city": address.city,
                "postalCode": address.postal_code,
                "country": address.country,
            });
        }
        Ok(Some(Outgoing {
            activity_id: row.offer_id.clone(),
            actor_id: row.buyer_actor.clone(),
            body: body(json!({
                "type": "Offer",
                "id": row.offer_id,
                "actor": row.buyer_actor,
                "to": [row.shop_actor],
                "object": agreement,
            }))?,
            inbox: row.shop_inbox.clone(),
        }))
    };
    if let (Some(_), Some(listing)) = (&local_shop, &entry.listing_id) {
        // Recorded and answered in one transaction (see market's orders module, "Stock").
        let incoming = OfferIn {
            offer_id,
            buyer_actor: new.buyer_actor.clone(),
            buyer_inbox: new.buyer_inbox.clone(),
            buyer_name: format!("{}@{}", buyer.username, data.instance.domain),
            listing_id: listing.clone(),
            quantity: quote.quantity,
            items_offered: Some(quote.items.clone()),
            shipping_option_id: option.id.clone(),
            address: address.clone(),
            expected_total: quote.total.clone(),
        };
        let (row, decision) = orders::place_here(data, new, incoming).await?;
        if !matches!(decision, Decision::Rejected(_)) {
            // The stock changed: its listing update waits in the event queue.
            outbox::wake();
        }
        return Ok(row);
    }
    let (row, ids) = orders::place(data, new, offer).await?;
    outbox::dispatch(data, ids, true).await?;
    Ok(orders::get(data, &row.id).await?)
}

/// An accepted order's Agreement as its parties fetch it: the FEP-0837 Commitments and our
/// current state and figures.
pub fn agreement_json(row: &order::Model) -> Result<Value, market::Error> {
    let agreement_id = row
        .agreement_id
        .clone()
        .ok_or_else(|| market::Error::not_found("order"))?;
    let amount = |minor: i64| {
        market::types::Money::from_minor(minor, &row.currency).map(|m| m.amount_string())
    };
    Ok(json!({
        "type": "Agreement",
        "id": agreement_id,
        "attributedTo": row.shop_actor,
        "stipulates": {
            "id": format!("{agreement_id}#primary"),
            "type": "Commitment",
            "satisfies": format!("{}#primary", row.proposal_id),
            "resourceQuantity": {"hasUnit": UNIT, "hasNumericalValue": row.quantity.to_string()},
        },
        "stipulatesReciprocal": {
            "id": format!("{agreement_id}#reciprocal"),
            "type": "Commitment",
            "satisfies": format!("{}#reciprocal", row.proposal_id),
            "resourceQuantity": {"hasUnit": UNIT, "hasNumericalValue": amount(row.items_minor)?},
        },
        "url": {
            "type": "Link",
            "href": format!("{}/payment", row.shop_actor),
            "rel": "payment",
            "mediaType": "text/html",
            "name": "How to pay",
        },
        "tianguis:state": row.state,
        "tianguis:currency": row.currency,
        "tianguis:shipping": amount(row.shipping_minor)?,
        "tianguis:total": amount(row.total_minor)?,
        "published": row.created_at,
        "updated": row.updated_at,
    }))
}

/// The `Accept` or `Reject` the shop sends for an offer it decided.
fn answer(
    data: &Data<Context>,
    row: &order::Model,
    decision: &Decision,
) -> Result<Option<Outgoing>, market::Error> {
    if is_local(data, &row.buyer_actor) {
        return Ok(None);
    }
    let activity = match decision {
        // Nothing goes out until the owner answers.
        Decision::Held => return Ok(None),
        Decision::Accepted => {
            let mut agreement = agreement_json(row)?;
            agreement["tianguis:paymentInstructions"] = json!(row.payment_instructions);
            json!({
                "type": "Accept",
                "id": fresh_id(data),
                "actor": row.shop_actor,
                "to": [row.buyer_actor],
                "object": row.offer_id,
                "result": agreement,
            })
        }
        Decision::Rejected(reason) => json!({
            "type": "Reject",
            "id": fresh_id(data),
            "actor": row.shop_actor,
            "to": [row.buyer_actor],
            "object": row.offer_id,
            "content": reason,
        }),
    };
    Ok(Some(Outgoing {
        activity_id: activity["id"].as_str().unwrap_or_default().to_string(),
        actor_id: row.shop_actor.clone(),
        body: body(activity)?,
        inbox: row.buyer_inbox.clone(),
    }))
}

fn text(value: &Value) -> Option<&str> {
    value.as_str()
}

/// The `Offer{Agreement}` a buyer's node sent to one of our shops. A malformed Agreement (no
/// Commitments, a Proposal that is not ours) is a 400; an offer we cannot fulfil (sold out, a
/// price that changed, units that do not match, a shipping option that does not reach the
/// address) is answered with a `Reject` carrying the reason.
pub async fn receive_offer(
    data: &Data<Context>,
    offer_id: &Url,
    actor: &ObjectId<ApubRemoteActor>,
    agreement: &Value,
) -> Result<(), Error> {
    let bad = |why: &str| Error::BadRequest(format!("malformed Agreement: {why}"));
    let primary = &agreement["stipulates"];
    let satisfies =
        text(&primary["satisfies"]).ok_or_else(|| bad("stipulates.satisfies is missing"))?;
    let proposal = satisfies
        .strip_suffix("#primary")
        .ok_or_else(|| bad("stipulates must satisfy a Proposal's #primary Intent"))?;
    let listing_id = proposal
        .strip_prefix(&data.instance.url("/listings/"))
        .and_then(|rest| rest.strip_suffix("/proposal"))
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| bad("the Proposal is not one of this node's"))?
        .to_string();
    let reciprocal = &agreement["stipulatesReciprocal"];
    if reciprocal.is_null() {
        // Our Proposals all have a reciprocal Intent, so the FEP requires this Commitment.
        return Err(bad(
            "stipulatesReciprocal (the payment) is required: the Proposal has a reciprocal Intent",
        ));
    }
    if text(&reciprocal["satisfies"]) != Some(format!("{proposal}#reciprocal").as_str()) {
        return Err(bad(
            "stipulatesReciprocal must satisfy the same Proposal's #reciprocal",
        ));
    }
    let buyer = actor.dereference(data).await?;
    let buyer_name = buyer.row.handle();
    // Refusals a buyer can act on go back as a Reject.
    let mut refusal: Option<String> = None;
    let unit = text(&primary["resourceQuantity"]["hasUnit"]);
    let count = text(&primary["resourceQuantity"]["hasNumericalValue"]);
    let quantity = match (unit, count.map(str::parse::<i32>)) {
        (Some(UNIT), Some(Ok(n))) if n >= 1 => n,
        (Some(u), _) if u != UNIT => {
            refusal = Some(format!("the unit must be the Proposal's ({UNIT}), not {u}"));
            1
        }
        _ => {
            refusal = Some("the quantity must be a whole number of items, 1 or more".into());
            1
        }
    };
    if text(&reciprocal["resourceQuantity"]["hasUnit"]) != Some(UNIT) {
        refusal
            .get_or_insert_with(|| format!("the payment's unit must be the Proposal's ({UNIT})"));
    }
    let items_offered = text(&reciprocal["resourceQuantity"]["hasNumericalValue"]);
    if items_offered.is_none() {
        refusal.get_or_insert_with(|| {
            "the payment's amount (stipulatesReciprocal hasNumericalValue) is missing".into()
        });
    }
    let items_offered = items_offered.map(str::to_string);
    let shipping_option_id = match text(&agreement["tianguis:shippingOption"]) {
        Some(id) => id.to_string(),
        // A plain FEP-0837 offer names no shipping: fine if the shop has exactly one way to
        // hand the goods over that needs no address (pickup, or none set).
        None => match orders::quote(data, &listing_id, &QuoteRequest::default()).await {
            Ok(quote) => {
                let mut free = quote.shipping_options.iter().filter(|o| o.pickup);
                match (free.next(), free.next()) {
                    (Some(only), None) => only.id.clone(),
                    _ => {
                        refusal.get_or_insert_with(|| {
                            format!(
                                "choose a shipping option (tianguis:shippingOption); see {proposal}/quote"
                            )
                        });
                        String::new()
                    }
                }
            }
            Err(e) => {
                refusal.get_or_insert_with(|| e.public_message());
                String::new()
            }
        },
    };
    let address = match agreement.get("tianguis:shippingAddress") {
        None | Some(Value::Null) => None,
        Some(a) => {
            let parsed = Address {
                name: a["name"].as_str().unwrap_or_default().into(),
                street: a["street"].as_str().unwrap_or_default().into(),
                city: a["city"].as_str().unwrap_or_default().into(),
                postal_code: a["postalCode"].as_str().unwrap_or_default().into(),
                country: a["country"].as_str().unwrap_or_default().into(),
            };
            match parsed.validated() {
                Ok(a) => Some(a),
                Err(e) => {
                    refusal.get_or_insert_with(|| format!("the shipping address: {e}"));
                    None
                }
            }
        }
    };
    let incoming = OfferIn {
        offer_id: offer_id.to_string(),
        buyer_actor: buyer.id().to_string(),
        buyer_inbox: buyer.inbox().to_string(),
        buyer_name,
        listing_id,
        quantity,
        items_offered,
        shipping_option_id,
        address,
        expected_total: text(&agreement["tianguis:total"]).map(str::to_string),
    };
    if let Some(why) = refusal {
        return reject_unread(data, &incoming, &why).await;
    }
    let (_, decision, ids) = orders::decide(data, incoming, None, |row, decision| {
        answer(data, row, decision)
    })
    .await?;
    if matches!(decision, Decision::Accepted | Decision::Held) {
        // The stock changed: its listing update waits in the event queue.
        outbox::wake();
    }
    outbox::dispatch(data, ids, false).await
}

/// Reject an offer we could not read far enough to record, from the shop of its listing.
async fn reject_unread(data: &Data<Context>, offer: &OfferIn, why: &str) -> Result<(), Error> {
    let listing = market::service::listings::get_listing(data, &offer.listing_id).await?;
    let id = fresh_id(data);
    let reject = json!({
        "type": "Reject",
        "id": id,
        "actor": listing.shop.url,
        "to": [offer.buyer_actor],
        "object": offer.offer_id,
        "content": why,
    });
    let ids = market::service::deliveries::enqueue(
        data,
        &id,
        &listing.shop.url,
        &body(reject)?,
        std::slice::from_ref(&offer.buyer_inbox),
    )
    .await?;
    outbox::dispatch(data, ids, false).await
}

/// An `Accept` or `Reject` whose object is one of our buyers' offers. `Ok(false)` if the offer
/// is not ours (the caller then treats it as an answer to a Follow).
pub async fn receive_answer(
    data: &Data<Context>,
    accepted: bool,
    actor: &Url,
    object: &Value,
    result: Option<&Value>,
    content: Option<&str>,
) -> Result<bool, Error> {
    let Some(offer_id) = object_id(object) else {
        return Ok(false);
    };
    let Some(current) = orders::find_by_offer(data, offer_id).await? else {
        return Ok(false);
    };
    let answer = if accepted {
        let agreement = result.ok_or_else(|| {
            Error::BadRequest("an Accept of an Offer carries the Agreement as its result".into())
        })?;
        let agreement_id = object_id(agreement)
            .ok_or_else(|| Error::BadRequest("the accepted Agreement has no id".into()))?;
        if host_of(agreement_id) != host_of(actor.as_str()) {
            return Err(Error::BadRequest(
                "the Agreement's id must be on the shop's node".into(),
            ));
        }
        if let Some(attributed) = agreement.get("attributedTo").and_then(object_id)
            && attributed != actor.as_str()
        {
            return Err(Error::BadRequest(
                "the Agreement must be attributed to the actor accepting it".into(),
            ));
        }
        let quantity = agreement["stipulates"]["resourceQuantity"]["hasNumericalValue"]
            .as_str()
            .and_then(|n| n.parse::<i32>().ok());
        if quantity.is_some_and(|q| q != current.quantity) {
            return Err(Error::BadRequest(
                "the accepted quantity differs from the offered one".into(),
            ));
        }
        let total_minor = agreement["tianguis:total"].as_str().and_then(|t| {
            market::types::Currency::parse(&current.currency)
                .and_then(|c| market::types::Money::parse(t, c))
                .ok()
                .map(|m| m.minor())
        });
        if total_minor.is_some_and(|t| t > current.total_minor) {
            return Err(Error::BadRequest(
                "the accepted total is higher than the buyer confirmed".into(),
            ));
        }
        let payment_url = match &agreement["url"] {
            Value::String(href) => Some(href.clone()),
            Value::Object(link) => link.get("href").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        Answer::Accepted {
            agreement_id: agreement_id.to_string(),
            payment_instructions: agreement["tianguis:paymentInstructions"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(market::service::checkout::MAX_INSTRUCTIONS)
                .collect(),
            payment_url: payment_url
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            total_minor,
        }
    } else {
        Answer::Rejected(content.map(|c| {
            market::markdown::to_text(c)
                .chars()
                .take(orders::MAX_REASON)
                .collect()
        }))
    };
    orders::answered(data, offer_id, actor.as_str(), answer).await?;
    Ok(true)
}

/// `Undo{Offer}`: the buyer withdraws an offer to one of our shops. The order is cancelled as
/// the buyer's step (its items go back) if it is still open; one already cancelled or rejected
/// stays as it is. `Ok(false)` when we hold no order with that Offer.
pub async fn receive_withdrawal(
    data: &Data<Context>,
    actor: &Url,
    offer_id: &str,
) -> Result<bool, Error> {
    let withdrawn = orders::withdrawn(data, offer_id, actor.as_str()).await?;
    if withdrawn.is_some() {
        // The stock changed: its listing update waits in the event queue.
        outbox::wake();
    }
    Ok(withdrawn.is_some())
}

/// `Update{Agreement}` with `tianguis:state`, or a receipt (`Create{Document}` with `context` =
/// the Agreement, which completes the order), from the other party. `Ok(false)` when we hold no
/// order with that Agreement.
pub async fn receive_step(
    data: &Data<Context>,
    actor: &Url,
    agreement_id: &str,
    state: &str,
    reason: Option<&str>,
) -> Result<bool, Error> {
    let to = State::parse(state)
        .ok_or_else(|| Error::BadRequest(format!("unknown order state {state:?}")))?;
    let reason = reason.map(market::markdown::to_text);
    Ok(
        orders::apply_remote(data, agreement_id, actor.as_str(), to, reason.as_deref())
            .await?
            .is_some(),
    )
}

/// A message (`Create{Note}` with `context` = the Agreement) from the other party.
pub async fn receive_message(
    data: &Data<Context>,
    actor: &Url,
    note: &Value,
    agreement_id: &str,
) -> Result<bool, Error> {
    let id = object_id(note).ok_or_else(|| Error::BadRequest("the Note has no id".into()))?;
    if host_of(id) != host_of(actor.as_str()) {
        return Err(Error::BadRequest(
            "a message's id must be on its author's node".into(),
        ));
    }
    let content = html_to_paragraphs(note["content"].as_str().unwrap_or_default());
    let content: String = content.chars().take(orders::MAX_MESSAGE).collect();
    Ok(
        orders::receive_message(data, agreement_id, actor.as_str(), id, &content)
            .await?
            .is_some(),
    )
}

/// A message's HTML as plain text that keeps its paragraphs (blank lines) and line breaks.
fn html_to_paragraphs(html: &str) -> String {
    let marked = html
        .replace("<br>", "\u{1}")
        .replace("<br/>", "\u{1}")
        .replace("<br />", "\u{1}")
        .replace("</p>", "\u{2}");
    marked
        .split('\u{2}')
        .map(|p| {
            p.split('\u{1}')
                .map(market::markdown::to_text)
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn other_party(row: &order::Model, party: Party) -> (&str, &str, &str) {
    match party {
        Party::Buyer => (&row.buyer_actor, &row.shop_actor, &row.shop_inbox),
        Party::Seller => (&row.shop_actor, &row.buyer_actor, &row.buyer_inbox),
    }
}

/// A local party takes a step on order `id` (through the API, pages or CLI); the other party's
/// node hears of it by `Update{Agreement}` or, on completion, the receipt. `accepted` and
/// `rejected` are the seller's answer to an order its shop held (see [`answer_held`]).
pub async fn act(
    data: &Data<Context>,
    who: Authority<'_>,
    id: &str,
    to: State,
    reason: Option<&str>,
) -> Result<order::Model, Error> {
    let (_, party) = orders::access(data, who, id).await?;
    if matches!(to, State::Accepted | State::Rejected) {
        if party != Party::Seller {
            return Err(market::Error::Forbidden(
                "only the shop accepts or declines an order".into(),
            )
            .into());
        }
        return answer_held(data, id, to == State::Accepted, reason, Some(Party::Seller)).await;
    }
    let step = |row: &order::Model| -> Result<Option<Outgoing>, market::Error> {
        let (ours, theirs, inbox) = other_party(row, party);
        if is_local(data, theirs) {
            return Ok(None);
        }
        let activity_id = fresh_id(data);
        if to == State::Cancelled && party == Party::Buyer && row.agreement_id.is_none() {
            // An offer the shop has not answered has no Agreement to update: the buyer
            // withdraws the Offer itself.
            return Ok(Some(Outgoing {
                activity_id: activity_id.clone(),
                actor_id: ours.to_string(),
                body: body(json!({
                    "type": "Undo",
                    "id": activity_id,
                    "actor": ours,
                    "to": [theirs],
                    "object": {"type": "Offer", "id": row.offer_id, "actor": ours},
                }))?,
                inbox: inbox.to_string(),
            }));
        }
        let agreement_id = row
            .agreement_id
            .clone()
            .ok_or_else(|| market::Error::Conflict("the order has not been accepted".into()))?;
        let activity = if to == State::Completed {
            let total = market::types::Money::from_minor(row.total_minor, &row.currency)?;
            json!({
                "type": "Create",
                "id": activity_id,
                "actor": ours,
                "to": [theirs],
                "object": {
                    "type": "Document",
                    "id": format!("{agreement_id}/receipt"),
                    "name": "Receipt",
                    "attributedTo": ours,
                    "context": agreement_id,
                    "to": [theirs],
                    "content": format!(
                        "<p>Receipt: {} × {}, {} {} paid to {}.</p>",
                        row.quantity,
                        html_escape::encode_text(&row.title),
                        total.amount_string(),
                        row.currency,
                        html_escape::encode_text(&row.shop_name),
                    ),
                    "published": chrono::Utc::now(),
                    "tianguis:state": "completed",
                },
            })
        } else {
            let mut agreement = json!({
                "type": "Agreement",
                "id": agreement_id,
                "attributedTo": row.shop_actor,
                "tianguis:state": to.as_str(),
                "updated": row.updated_at,
            });
            if let Some(reason) = &row.reason
                && to == State::Cancelled
            {
                agreement["tianguis:reason"] = json!(reason);
            }
            json!({
                "type": "Update",
                "id": activity_id,
                "actor": ours,
                "to": [theirs],
                "object": agreement,
            })
        };
        Ok(Some(Outgoing {
            activity_id,
            actor_id: ours.to_string(),
            body: body(activity)?,
            inbox: inbox.to_string(),
        }))
    };
    let (row, ids) = orders::transition(data, id, party, to, reason, step).await?;
    outbox::dispatch(data, ids, true).await?;
    Ok(row)
}

/// Cancel our shops' accepted orders that stayed unpaid for `[orders] payment_days`, as the
/// seller, with the reason, so the buyer's node hears of it and the items go back on sale.
/// `now` is the clock (tests pass a later one). Returns how many were cancelled.
pub async fn expire_unpaid(
    data: &Data<Context>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, Error> {
    let cancelled = sweep(data, Idle::Unpaid, now).await?;
    if cancelled > 0 {
        let days = data.instance.payment_days;
        tracing::info!(cancelled, days, "cancelled unpaid orders");
        outbox::wake();
    }
    Ok(cancelled)
}

/// The orders the sweeper ends for the shop.
#[derive(Clone, Copy)]
enum Idle {
    /// Accepted and unpaid for `[orders] payment_days`: cancelled.
    Unpaid,
    /// Held for an answer for `[orders] answer_days`: declined.
    Unanswered,
}

/// End each of our shops' orders left idle as `idle` says, with the reason, as of `now` (none
/// when its days are 0). An order that moved on meanwhile (409) is skipped. Returns how many
/// were ended.
async fn sweep(
    data: &Data<Context>,
    idle: Idle,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, Error> {
    let (state, days, reason) = match idle {
        Idle::Unpaid => {
            let days = data.instance.payment_days;
            (
                State::Accepted,
                days,
                format!("not paid within {days} days"),
            )
        }
        Idle::Unanswered => {
            let days = data.instance.answer_days;
            let reason = format!("the shop did not answer within {days} days");
            (State::Offered, days, reason)
        }
    };
    if days == 0 {
        return Ok(0);
    }
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let mut ended = 0;
    for row in orders::idle_since(data, state, cutoff).await? {
        let why = Some(reason.as_str());
        let step = match idle {
            Idle::Unpaid => act(data, Authority::Operator, &row.id, State::Cancelled, why).await,
            Idle::Unanswered => answer_held(data, &row.id, false, why, None).await,
        };
        match step {
            Ok(_) => ended += 1,
            Err(Error::Market(market::Error::Conflict(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ended)
}

/// The shop's answer to an order it held for its owner: the buyer's node gets the `Accept`
/// (with the Agreement) or the `Reject` (with the reason) it would have had on arrival.
pub async fn answer_held(
    data: &Data<Context>,
    id: &str,
    accept: bool,
    reason: Option<&str>,
    acting: Option<Party>,
) -> Result<order::Model, Error> {
    let (row, ids) = orders::answer_held(data, id, accept, reason, acting, |row, decision| {
        answer(data, row, decision)
    })
    .await?;
    // A declined order's stock went back: its listing update waits in the event queue.
    outbox::wake();
    outbox::dispatch(data, ids, true).await?;
    Ok(row)
}

/// Decline the orders our shops held for an answer longer than `[orders] answer_days`, so the
/// buyer is not left waiting and the items go back on sale. Returns how many were declined.
pub async fn expire_unanswered(
    data: &Data<Context>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, Error> {
    let declined = sweep(data, Idle::Unanswered, now).await?;
    if declined > 0 {
        let days = data.instance.answer_days;
        tracing::info!(declined, days, "declined unanswered orders");
    }
    Ok(declined)
}

/// A local party writes on order `id`; the other party's node gets a private `Create{Note}`
/// whose `context` is the Agreement.
pub async fn message(
    data: &Data<Context>,
    who: Authority<'_>,
    id: &str,
    content: &str,
) -> Result<order_message::Model, Error> {
    let (_, party) = orders::access(data, who, id).await?;
    let ap_id = |_: &order::Model| {
        data.instance
            .url(&format!("/messages/{}", uuid::Uuid::new_v4()))
    };
    let note = |row: &order::Model,
                message: &order_message::Model|
     -> Result<Option<Outgoing>, market::Error> {
        let (ours, theirs, inbox) = other_party(row, party);
        if is_local(data, theirs) {
            return Ok(None);
        }
        let agreement_id = row.agreement_id.clone().unwrap_or_default();
        let activity_id = fresh_id(data);
        let paragraphs: String = message
            .content
            .split("\n\n")
            .map(|p| {
                format!(
                    "<p>{}</p>",
                    html_escape::encode_text(p).replace('\n', "<br>")
                )
            })
            .collect();
        Ok(Some(Outgoing {
            activity_id: activity_id.clone(),
            actor_id: ours.to_string(),
            body: body(json!({
                "type": "Create",
                "id": activity_id,
                "actor": ours,
                "to": [theirs],
                "object": {
                    "type": "Note",
                    "id": message.ap_id,
                    "attributedTo": ours,
                    "context": agreement_id,
                    "to": [theirs],
                    "content": paragraphs,
                    "published": message.created_at,
                },
            }))?,
            inbox: inbox.to_string(),
        }))
    };
    let (message, ids) = orders::post_message(data, id, party, content, ap_id, note).await?;
    outbox::dispatch(data, ids, true).await?;
    Ok(message)
}

/// The actor document of one of our users (`Person`): what a shop's node fetches to check the
/// signature of the user's `Offer`. It has an empty outbox: orders are never in it.
pub async fn person(data: &Data<Context>, username: &str) -> Result<Value, Error> {
    let user = accounts::find_user(data, username)
        .await?
        .filter(|u| u.username == username)
        .ok_or_else(|| market::Error::not_found("user"))?;
    let keys = accounts::user_keys(data, user.id).await?;
    let id = user_actor(data, &user);
    Ok(json!({
        "type": "Person",
        "id": id,
        "preferredUsername": user.username,
        "name": user.username,
        "url": id,
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "endpoints": {"sharedInbox": data.instance.url("/inbox")},
        "manuallyApprovesFollowers": true,
        "discoverable": false,
        "indexable": false,
        "publicKey": {
            "id": format!("{id}#main-key"),
            "owner": id,
            "publicKeyPem": keys.public_key_pem,
        },
        "published": user.created_at,
    }))
}
