//! Orders: a buyer orders a listing, the shop's node answers, and the order moves through its
//! states, each step by the party allowed to take it. This module is the state machine and the
//! storage; `federation` turns each step into the activity that tells the other party's node
//! (FEP-0837 `Offer`/`Accept`/`Reject`, then `Update{Agreement}`; see FEDERATION.md).
//!
//! Every node taking part holds its own row of the order: the buyer's node the buyer's copy, the
//! shop's node the shop's. An order inside one node is one row with both sides local, moved by
//! the same functions without any activity. A step and the activity announcing it are written in
//! one transaction ([`Outgoing`]), so neither exists without the other.
//!
//! # Stock
//!
//! The shop's node keeps, for every listing of ours and at every moment:
//!
//! > `stock` + the quantities of the orders with `holds_stock` = the stock the seller last set
//! > (`PATCH` of the listing) + nothing else.
//!
//! Only two things move items between the two sides, each in the transaction that changes the
//! order's state: **taking** (the shop's node answers an offer: [`decide`], or accepting by
//! hand an order that holds nothing: one conditional `UPDATE … SET stock = stock - q WHERE
//! stock >= q`, and the order row written with `holds_stock`) and **giving back** (rejected by
//! hand or by the sweeper, cancelled by either party, withdrawn by the buyer's node: the order
//! row is written only if its state and `holds_stock` are still what was read
//! ([`save_if_unchanged`]), with `holds_stock` cleared, and the items go back only if it held
//! them). So no order gives back what it did not take, and none gives back twice, however many
//! requests race.
//!
//! Transaction boundaries: an order of one of our users for one of our shops is recorded and
//! answered in ONE transaction ([`place_here`]): a client that disconnects, or a node killed,
//! leaves nothing or a decided order, never an `offered` one holding nothing. An offer from
//! another node is recorded, answered and its `Accept`/`Reject` queued in one transaction
//! ([`decide`]). A held order (a shop that accepts by hand) holds its items from that moment
//! until it is accepted (kept), declined, expired or withdrawn (given back).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use crate::{
    Context, Error, Result, db,
    entities::{
        listing::{self, Status},
        notification, order, order_event, order_message, shop, shop_checkout, user,
    },
    service::{
        Page, PageRequest,
        checkout::ShippingOption,
        deliveries, listings,
        shops::{self, Authority, ensure_can_manage},
    },
    types::{Currency, Money, Text},
};

/// The shipping option of a shop that set none: handed over as agreed, no address.
pub const ARRANGED: &str = "arranged";

/// Most items of one listing in one order.
pub const MAX_QUANTITY: i32 = 10_000;
/// Longest message, reason or address field, in characters.
pub const MAX_MESSAGE: usize = 5_000;
/// Longest cancellation or rejection reason, in characters.
pub const MAX_REASON: usize = 1_000;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The buyer sent the offer; the shop's node has not answered yet.
    Offered,
    /// The shop accepted: stock is reserved, the buyer pays as instructed.
    Accepted,
    /// The shop refused the offer (sold out, price changed, ...).
    Rejected,
    /// The seller received the payment.
    Paid,
    /// The seller sent the goods (or, for pickup, has them ready).
    Shipped,
    /// The goods reached the buyer.
    Delivered,
    /// Done: the seller issued the receipt.
    Completed,
    /// Called off before shipping; the stock went back.
    Cancelled,
    /// The seller paid the money back.
    Refunded,
}

/// Every state, in lifecycle order.
pub const STATES: [State; 9] = [
    State::Offered,
    State::Accepted,
    State::Rejected,
    State::Paid,
    State::Shipped,
    State::Delivered,
    State::Completed,
    State::Cancelled,
    State::Refunded,
];

impl State {
    /// Stored and wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Offered => "offered",
            State::Accepted => "accepted",
            State::Rejected => "rejected",
            State::Paid => "paid",
            State::Shipped => "shipped",
            State::Delivered => "delivered",
            State::Completed => "completed",
            State::Cancelled => "cancelled",
            State::Refunded => "refunded",
        }
    }

    /// Read the stored or wire spelling.
    pub fn parse(text: &str) -> Option<State> {
        STATES.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether nothing more can happen to the order.
    pub fn is_final(&self) -> bool {
        matches!(self, State::Rejected | State::Completed | State::Refunded)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two sides of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// Who ordered.
    Buyer,
    /// The shop (its owner, or an admin of its node).
    Seller,
}

impl Party {
    /// Stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Party::Buyer => "buyer",
            Party::Seller => "seller",
        }
    }

    fn other(&self) -> Party {
        match self {
            Party::Buyer => Party::Seller,
            Party::Seller => Party::Buyer,
        }
    }
}

const BOTH: &[Party] = &[Party::Buyer, Party::Seller];
const BUYER: &[Party] = &[Party::Buyer];
const SELLER: &[Party] = &[Party::Seller];

/// Every allowed step: from, to, and who may take it. Anything else is refused.
const STEPS: &[(State, State, &[Party])] = &[
    (State::Offered, State::Accepted, SELLER),
    (State::Offered, State::Rejected, SELLER),
    // The buyer withdraws an offer the shop has not answered (or holds for its owner).
    (State::Offered, State::Cancelled, BUYER),
    (State::Accepted, State::Paid, SELLER),
    (State::Accepted, State::Cancelled, BOTH),
    (State::Paid, State::Shipped, SELLER),
    (State::Paid, State::Cancelled, BOTH),
    (State::Shipped, State::Delivered, BOTH),
    (State::Shipped, State::Refunded, SELLER),
    (State::Delivered, State::Completed, SELLER),
    (State::Delivered, State::Refunded, SELLER),
    (State::Cancelled, State::Refunded, SELLER),
];

/// Whether `by` may move an order from `from` to `to` in one step: 403 if the step exists but is
/// the other party's, 409 if it does not exist at all.
pub fn check_step(from: State, to: State, by: Party) -> Result<()> {
    if from == to {
        return Err(Error::Conflict(format!("the order is already {to}")));
    }
    match STEPS.iter().find(|(f, t, _)| *f == from && *t == to) {
        None => Err(Error::Conflict(format!(
            "an order that is {from} cannot become {to}"
        ))),
        Some((_, _, parties)) if !parties.contains(&by) => Err(Error::Forbidden(format!(
            "only the {} may mark an order {to}",
            by.other().as_str()
        ))),
        Some(_) => Ok(()),
    }
}

/// The steps `by` takes from `from` to reach `to`: the one step if it exists, else the shortest
/// run of steps all of which are `by`'s (a seller's `shipped` arriving before its `paid`, which
/// the network reordered). The error is [`check_step`]'s for the direct step.
pub fn path(from: State, to: State, by: Party) -> Result<Vec<State>> {
    if let Err(direct) = check_step(from, to, by) {
        let mut frontier = vec![(from, Vec::new())];
        for _ in 0..STEPS.len() {
            let mut next = Vec::new();
            for (at, taken) in frontier {
                for (f, t, parties) in STEPS {
                    if *f == at && parties.contains(&by) && !taken.contains(t) {
                        let mut longer: Vec<State> = taken.clone();
                        longer.push(*t);
                        if *t == to {
                            return Ok(longer);
                        }
                        next.push((*t, longer));
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        return Err(direct);
    }
    Ok(vec![to])
}

/// What `party` may do next with an order in `state` through the API. The seller sees
/// `accepted`/`rejected` only for an order still `offered`: on the seller's side that is an
/// order its shop holds for an answer (other offers are answered by the node as they arrive).
pub fn actions(state: State, party: Party, was_paid: bool) -> Vec<State> {
    STEPS
        .iter()
        .filter(|(f, t, parties)| {
            *f == state
                && parties.contains(&party)
                && (*t != State::Refunded || *f != State::Cancelled || was_paid)
        })
        .map(|(_, t, _)| *t)
        .collect()
}

/// A shipping address. It goes to the shop's node and nowhere else.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Who receives the parcel.
    pub name: String,
    /// Street and number.
    pub street: String,
    /// Town or city.
    pub city: String,
    /// Postal code (may be empty where there is none).
    #[serde(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl Address {
    /// Check and tidy every field (422 names the field, as `address.city`).
    pub fn validated(self) -> Result<Address> {
        fn field(value: &str, name: &str, required: bool) -> Result<String> {
            let field = format!("address.{name}");
            if required && value.trim().is_empty() {
                return Err(Error::invalid(field, "is required"));
            }
            Ok(Text::line(&field, value, 0, 200)?.into_inner())
        }
        Ok(Address {
            name: field(&self.name, "name", true)?,
            street: field(&self.street, "street", true)?,
            city: field(&self.city, "city", true)?,
            postal_code: field(&self.postal_code, "postal_code", false)?,
            country: country(&self.country).map_err(|_| {
                Error::invalid(
                    "address.country",
                    "an ISO 3166-1 alpha-2 country code such as MX or DE",
                )
            })?,
        })
    }
}

/// An ISO 3166-1 alpha-2 code, upper-cased.
pub fn country(code: &str) -> Result<String> {
    let code = code.trim().to_ascii_uppercase();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::invalid(
            "country",
            "an ISO 3166-1 alpha-2 country code such as MX or DE",
        ));
    }
    Ok(code)
}

/// A reason (rejection, cancellation): trimmed, at most [`MAX_REASON`] characters.
pub fn reason(text: Option<&str>) -> Result<Option<String>> {
    Ok(Text::optional_lines("reason", text, MAX_REASON)?.map(Text::into_inner))
}

/// A message's text: trimmed, 1 to [`MAX_MESSAGE`] characters.
pub fn message_text(text: &str) -> Result<String> {
    Ok(Text::lines("content", text, 1, MAX_MESSAGE)?.into_inner())
}

/// What an order of some items of a listing costs, computed by the shop's node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Quote {
    /// The listing's Proposal id.
    pub proposal: String,
    /// The listing's title.
    pub title: String,
    /// ISO 4217, for every amount here.
    pub currency: String,
    /// One item.
    pub unit_price: String,
    /// Items asked for.
    pub quantity: i32,
    /// Items in stock now.
    pub available: i32,
    /// `quantity × unit_price`.
    pub items: String,
    /// The shop's shipping options for this listing (those in its currency, reaching `country`
    /// when one was given).
    pub shipping_options: Vec<ShippingOption>,
    /// The option chosen, if one was.
    pub shipping_option: Option<ShippingOption>,
    /// Its price.
    pub shipping: Option<String>,
    /// Items plus shipping: what the buyer will pay.
    pub total: Option<String>,
    /// How the shop takes payment.
    pub payment_instructions: String,
}

/// What a quote is asked for.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuoteRequest {
    /// Items (default 1).
    pub quantity: Option<i32>,
    /// A shipping option's id.
    pub shipping_option: Option<String>,
    /// Where it is to be shipped (ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

/// The figures of an order, checked against the listing and the shop's settings.
#[derive(Debug, Clone)]
struct Priced {
    quote: Quote,
    unit: Money,
    items: Money,
    /// The shipping option chosen, its price and the total.
    chosen: Option<(ShippingOption, Money, Money)>,
}

/// Why an order cannot be priced: a refusal to pass on to the buyer (a `Reject`'s content).
type Refusal = String;

async fn checkout_of(
    conn: &impl ConnectionTrait,
    shop_id: i32,
) -> Result<(String, Vec<ShippingOption>)> {
    Ok(
        match shop_checkout::Entity::find_by_id(shop_id).one(conn).await? {
            Some(row) => (
                row.payment_instructions,
                serde_json::from_str(&row.shipping_options)
                    .map_err(|e| Error::Internal(format!("stored shipping options: {e}")))?,
            ),
            None => (String::new(), Vec::new()),
        },
    )
}

/// Price `quantity` of a listing row. The outer error is a failure of ours; the inner one a
/// refusal for the buyer.
async fn price(
    conn: &impl ConnectionTrait,
    ctx: &Context,
    row: &listing::Model,
    request: &QuoteRequest,
) -> Result<std::result::Result<Priced, (String, Refusal)>> {
    let refuse = |field: &str, why: String| Ok(Err((field.to_string(), why)));
    let quantity = request.quantity.unwrap_or(1);
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return refuse("quantity", format!("must be 1 to {MAX_QUANTITY}"));
    }
    if row.status() == Status::Withdrawn {
        return refuse("listing", "the listing was withdrawn".into());
    }
    if row.stock < quantity {
        return refuse(
            "quantity",
            if row.stock == 0 {
                "sold out".into()
            } else {
                format!("only {} left in stock", row.stock)
            },
        );
    }
    let country = match &request.country {
        Some(code) => match country(code) {
            Ok(code) => Some(code),
            Err(_) => {
                return refuse(
                    "country",
                    "an ISO 3166-1 alpha-2 country code such as MX or DE".into(),
                );
            }
        },
        None => None,
    };
    let (instructions, options) = checkout_of(conn, row.shop_id).await?;
    let mut options: Vec<ShippingOption> = options
        .into_iter()
        .filter(|o| o.currency == row.currency)
        .collect();
    if options.is_empty() {
        // A shop that set no shipping options hands its goods over as agreed with the buyer
        // (a service, a download, a meeting): free, and no address is asked for.
        options.push(ShippingOption {
            id: ARRANGED.into(),
            name: "Arranged with the shop".into(),
            price: Money::from_minor(0, &row.currency)?.amount_string(),
            currency: row.currency.clone(),
            regions: Vec::new(),
            pickup: true,
        });
    }
    let options: Vec<ShippingOption> = options
        .into_iter()
        .filter(|o| match &country {
            Some(code) => o.pickup || o.regions.is_empty() || o.regions.contains(code),
            None => true,
        })
        .collect();
    let unit = Money::from_minor(row.price_minor, &row.currency)?;
    let items_minor = row
        .price_minor
        .checked_mul(i64::from(quantity))
        .ok_or_else(|| Error::invalid("quantity", "the total is too large"))?;
    let items = Money::from_minor(items_minor, &row.currency)?;
    let chosen = request
        .shipping_option
        .as_ref()
        .and_then(|id| options.iter().find(|o| &o.id == id).cloned());
    let mut quote = Quote {
        proposal: format!("{}/proposal", ctx.instance.listing_url(&row.id)),
        title: row.title.clone(),
        currency: row.currency.clone(),
        unit_price: unit.amount_string(),
        quantity,
        available: row.stock,
        items: items.amount_string(),
        shipping_options: options.clone(),
        shipping_option: chosen.clone(),
        shipping: None,
        total: None,
        payment_instructions: instructions,
    };
    let Some(option) = chosen else {
        if request.shipping_option.is_some() {
            return refuse(
                "shipping_option",
                match &country {
                    Some(code) => format!("the shop has no such shipping option to {code}"),
                    None => "the shop has no such shipping option".into(),
                },
            );
        }
        return Ok(Ok(Priced {
            quote,
            unit,
            items,
            chosen: None,
        }));
    };
    let currency = Currency::parse(&row.currency)?;
    let shipping = Money::parse(&option.price, currency)?;
    let total = Money::from_minor(
        items
            .minor()
            .checked_add(shipping.minor())
            .ok_or_else(|| Error::invalid("quantity", "the total is too large"))?,
        &row.currency,
    )?;
    quote.shipping = Some(shipping.amount_string());
    quote.total = Some(total.amount_string());
    Ok(Ok(Priced {
        quote,
        unit,
        items,
        chosen: Some((option, shipping, total)),
    }))
}

/// What `quantity` items of our listing `listing_id` cost with a shipping option: the seller's
/// own figures, which a buyer (here or on another node) sees before confirming. Without a
/// shipping option the quote lists the options and has no total. 404 for an unknown listing;
/// 409 for one that cannot be ordered (withdrawn, not enough stock); 422 for a bad request.
pub async fn quote(ctx: &Context, listing_id: &str, request: &QuoteRequest) -> Result<Quote> {
    let row = listing::Entity::find_by_id(listing_id.to_string())
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("listing"))?;
    match price(&ctx.db, ctx, &row, request).await? {
        Ok(priced) => Ok(priced.quote),
        Err((field, why))
            if field == "quantity" && (why.contains("stock") || why == "sold out") =>
        {
            Err(Error::Conflict(why))
        }
        Err((field, why)) if field == "listing" => Err(Error::Conflict(why)),
        Err((field, why)) => Err(Error::invalid(field, why)),
    }
}

/// An activity to deliver with a step, written in the step's transaction.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The activity's id.
    pub activity_id: String,
    /// The actor that signs it.
    pub actor_id: String,
    /// The activity, serialised.
    pub body: String,
    /// The other party's inbox.
    pub inbox: String,
}

async fn queue(txn: &DatabaseTransaction, outgoing: Option<Outgoing>) -> Result<Vec<i32>> {
    match outgoing {
        Some(out) => {
            deliveries::enqueue_in(txn, &out.activity_id, &out.actor_id, &out.body, &out.inbox)
                .await
        }
        None => Ok(Vec::new()),
    }
}

/// A new order, as the buyer's node records it before sending the offer.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The `Offer`'s id.
    pub offer_id: String,
    /// The buyer (one of our users).
    pub buyer: user::Model,
    /// The buyer's actor id.
    pub buyer_actor: String,
    /// The buyer's inbox.
    pub buyer_inbox: String,
    /// The shop's actor id.
    pub shop_actor: String,
    /// The shop's inbox.
    pub shop_inbox: String,
    /// `handle@domain`.
    pub shop_name: String,
    /// Our shop, when it is ours.
    pub shop_id: Option<i32>,
    /// The listing's Proposal id.
    pub proposal_id: String,
    /// Our listing, when it is ours.
    pub listing_id: Option<String>,
    /// The quote the buyer confirmed, from the shop's node.
    pub quote: Quote,
    /// The shipping address (none for pickup).
    pub address: Option<Address>,
}

/// Amount in minor units from a quote's decimal string.
fn minor(amount: &str, currency: &str) -> Result<i64> {
    Ok(Money::parse(amount, Currency::parse(currency)?)?.minor())
}

/// Record a new order on the buyer's side (`offered`) with the `Offer` that tells the shop's
/// node (another node: a shop of ours is [`place_here`]).
pub async fn place(
    ctx: &Context,
    new: NewOrder,
    outgoing: impl FnOnce(&order::Model) -> Result<Option<Outgoing>>,
) -> Result<(order::Model, Vec<i32>)> {
    let txn = db::begin_write(&ctx.db).await?;
    let row = record_placed(&txn, ctx, &new).await?;
    let out = outgoing(&row)?;
    let ids = queue(&txn, out).await?;
    txn.commit().await?;
    Ok((row, ids))
}

/// One of our users orders from one of our shops: the order is recorded and answered (stock
/// taken, accepted, held or rejected) in ONE transaction, so a client that goes away, or a node
/// killed, leaves either nothing or a decided order, never an `offered` one holding no stock.
pub async fn place_here(
    ctx: &Context,
    new: NewOrder,
    offer: OfferIn,
) -> Result<(order::Model, Decision)> {
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let placed = record_placed(&txn, ctx, &new).await?;
    let (row, decision, _) = decide_in(&txn, ctx, offer, Some(&placed.id), |_, _| Ok(None)).await?;
    txn.commit().await?;
    Ok((row, decision))
}

/// Insert the buyer's row of a new order (`offered`) and its first timeline entry.
async fn record_placed(
    txn: &DatabaseTransaction,
    ctx: &Context,
    new: &NewOrder,
) -> Result<order::Model> {
    let quote = &new.quote;
    let option = quote
        .shipping_option
        .clone()
        .ok_or_else(|| Error::invalid("shipping_option", "choose a shipping option"))?;
    let (Some(shipping), Some(total)) = (&quote.shipping, &quote.total) else {
        return Err(Error::invalid(
            "shipping_option",
            "choose a shipping option",
        ));
    };
    if !option.pickup && new.address.is_none() {
        return Err(Error::invalid(
            "address",
            "a shipping address is needed for this option",
        ));
    }
    let address = if option.pickup {
        None
    } else {
        new.address.clone()
    };
    let address = address
        .map(|a| serde_json::to_string(&a))
        .transpose()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let now = db::now(txn).await?;
    let row = order::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        agreement_id: Set(None),
        offer_id: Set(new.offer_id.clone()),
        state: Set(State::Offered.as_str().into()),
        buyer_actor: Set(new.buyer_actor.clone()),
        buyer_inbox: Set(new.buyer_inbox.clone()),
        buyer_name: Set(format!("{}@{}", new.buyer.username, ctx.instance.domain)),
        buyer_user_id: Set(Some(new.buyer.id)),
        shop_actor: Set(new.shop_actor.clone()),
        shop_inbox: Set(new.shop_inbox.clone()),
        shop_name: Set(new.shop_name.clone()),
        shop_id: Set(new.shop_id),
        proposal_id: Set(new.proposal_id.clone()),
        listing_id: Set(new.listing_id.clone()),
        title: Set(quote.title.clone()),
        quantity: Set(quote.quantity),
        currency: Set(quote.currency.clone()),
        unit_price_minor: Set(minor(&quote.unit_price, &quote.currency)?),
        items_minor: Set(minor(&quote.items, &quote.currency)?),
        shipping_minor: Set(minor(shipping, &quote.currency)?),
        total_minor: Set(minor(total, &quote.currency)?),
        shipping_option_id: Set(option.id.clone()),
        shipping_name: Set(option.name.clone()),
        pickup: Set(option.pickup),
        address: Set(address),
        payment_instructions: Set(String::new()),
        payment_url: Set(None),
        reason: Set(None),
        paid_at: Set(None),
        holds_stock: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    record_event(txn, &row, "state", Party::Buyer, None).await?;
    Ok(row)
}

/// An offer as the shop's node reads it.
#[derive(Debug, Clone)]
pub struct OfferIn {
    /// The `Offer`'s id.
    pub offer_id: String,
    /// The buyer's actor id.
    pub buyer_actor: String,
    /// The buyer's inbox.
    pub buyer_inbox: String,
    /// `user@domain`.
    pub buyer_name: String,
    /// Our listing.
    pub listing_id: String,
    /// Items.
    pub quantity: i32,
    /// The payment the buyer commits to for the items (the reciprocal Commitment), if stated.
    pub items_offered: Option<String>,
    /// The shipping option chosen.
    pub shipping_option_id: String,
    /// The shipping address.
    pub address: Option<Address>,
    /// The total the buyer saw and confirmed: a higher one is refused.
    pub expected_total: Option<String>,
}

/// How the shop's node answered an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Stock reserved, order accepted.
    Accepted,
    /// Stock reserved, the order waits for the shop's owner to accept or decline it (a shop
    /// that accepts orders by hand); the buyer hears nothing yet.
    Held,
    /// Refused, with the reason for the buyer.
    Rejected(String),
}

/// Answer an offer for one of our listings: accept it (reserving the stock with one
/// conditional update, so of two offers for the last item one is accepted and one rejected) or
/// reject it with a reason, and record the order. A shop that accepts orders by hand gets the
/// order held instead of accepted: the stock is reserved the same way, and [`answer_held`]
/// gives the owner's answer later. `existing` is the buyer's row when the buyer
/// is on this node too (the same row then carries both sides). `outgoing` builds the `Accept`
/// or `Reject` from the stored order; it is queued in the same transaction.
pub async fn decide(
    ctx: &Context,
    offer: OfferIn,
    existing: Option<&str>,
    outgoing: impl FnOnce(&order::Model, &Decision) -> Result<Option<Outgoing>>,
) -> Result<(order::Model, Decision, Vec<i32>)> {
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let decided = decide_in(&txn, ctx, offer, existing, outgoing).await?;
    txn.commit().await?;
    Ok(decided)
}

/// [`decide`] inside `txn` (a [`db::begin_catalog_write`]), which the caller commits.
async fn decide_in(
    txn: &DatabaseTransaction,
    ctx: &Context,
    offer: OfferIn,
    existing: Option<&str>,
    outgoing: impl FnOnce(&order::Model, &Decision) -> Result<Option<Outgoing>>,
) -> Result<(order::Model, Decision, Vec<i32>)> {
    let now = db::now(txn).await?;
    let row = listing::Entity::find_by_id(offer.listing_id.clone())
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found("listing"))?;
    let shop = shops::get_shop_by_id(txn, row.shop_id).await?;
    let request = QuoteRequest {
        quantity: Some(offer.quantity),
        shipping_option: Some(offer.shipping_option_id.clone()),
        country: offer.address.as_ref().map(|a| a.country.clone()),
    };
    let mut decision = Decision::Accepted;
    let mut figures = None;
    let priced = price(txn, ctx, &row, &request).await?;
    // The shop's payment instructions, read with the shipping options (or alone if pricing
    // stopped before them).
    let instructions = match &priced {
        Ok(p) => p.quote.payment_instructions.clone(),
        Err(_) => checkout_of(txn, row.shop_id).await?.0,
    };
    match priced {
        Err((_, why)) => decision = Decision::Rejected(why),
        Ok(Priced { chosen: None, .. }) => {
            decision = Decision::Rejected("the shop has no such shipping option".into());
        }
        Ok(Priced {
            unit,
            items,
            chosen: Some((option, shipping, total)),
            ..
        }) => {
            let currency = unit.currency();
            let offered = offer
                .items_offered
                .as_deref()
                .map(|a| Money::parse(a, currency));
            let expected = offer
                .expected_total
                .as_deref()
                .map(|a| Money::parse(a, currency));
            if !option.pickup && offer.address.is_none() {
                decision = Decision::Rejected("a shipping address is needed".into());
            } else if matches!(&offered, Some(Ok(m)) if m.minor() != items.minor())
                || matches!(&offered, Some(Err(_)))
            {
                decision = Decision::Rejected(format!(
                    "the price changed: {} items now cost {} {}",
                    offer.quantity,
                    items.amount_string(),
                    currency.code()
                ));
            } else if matches!(&expected, Some(Ok(m)) if m.minor() < total.minor())
                || matches!(&expected, Some(Err(_)))
            {
                decision = Decision::Rejected(format!(
                    "the total is now {} {}",
                    total.amount_string(),
                    currency.code()
                ));
            } else {
                match listings::take_stock(txn, ctx, &row.id, offer.quantity).await? {
                    Ok(_) => {
                        figures = Some(Figures {
                            unit,
                            items,
                            option,
                            shipping,
                            total,
                        })
                    }
                    Err(why) => decision = Decision::Rejected(why),
                }
            }
            if figures.is_none() && decision == Decision::Accepted {
                decision = Decision::Rejected("the order could not be priced".into());
            }
        }
    }
    if decision == Decision::Accepted && shop.accepts_orders_by_hand {
        decision = Decision::Held;
    }
    let id = match existing {
        Some(id) => id.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let state = match &decision {
        Decision::Accepted => State::Accepted,
        Decision::Held => State::Offered,
        Decision::Rejected(_) => State::Rejected,
    };
    let reason = match &decision {
        Decision::Rejected(why) => Some(why.clone()),
        Decision::Accepted | Decision::Held => None,
    };
    let agreement_id =
        (state == State::Accepted).then(|| ctx.instance.url(&format!("/orders/{id}")));
    let address = offer
        .address
        .as_ref()
        .filter(|_| figures.as_ref().is_none_or(|p| !p.option.pickup))
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let stored = match existing {
        Some(id) => {
            let current = order::Entity::find_by_id(id.to_string())
                .one(txn)
                .await?
                .ok_or_else(|| Error::not_found("order"))?;
            let from = current.state()?;
            if current.holds_stock {
                // Answered already: taking its items again would count them twice (the
                // transaction, and with it the second take, is rolled back).
                return Err(Error::Conflict("this offer was already answered".into()));
            }
            if decision == Decision::Held {
                if from != State::Offered {
                    return Err(Error::Conflict(format!("the order is already {from}")));
                }
            } else {
                check_step(from, state, Party::Seller)?;
            }
            let mut active: order::ActiveModel = current.into();
            active.state = Set(state.as_str().into());
            active.holds_stock = Set(figures.is_some());
            active.agreement_id = Set(agreement_id);
            active.shop_id = Set(Some(shop.id));
            active.listing_id = Set(Some(row.id.clone()));
            active.payment_instructions = Set(instructions);
            active.reason = Set(reason.clone());
            active.updated_at = Set(now);
            if let Some(p) = &figures {
                set_figures(&mut active, p);
            }
            active.update(txn).await?
        }
        None => {
            let mut active = order::ActiveModel {
                id: Set(id.clone()),
                agreement_id: Set(agreement_id),
                offer_id: Set(offer.offer_id.clone()),
                state: Set(state.as_str().into()),
                buyer_actor: Set(offer.buyer_actor.clone()),
                buyer_inbox: Set(offer.buyer_inbox.clone()),
                buyer_name: Set(offer.buyer_name.clone()),
                buyer_user_id: Set(None),
                shop_actor: Set(shop.ap_id.clone()),
                shop_inbox: Set(format!("{}/inbox", shop.ap_id)),
                shop_name: Set(format!("{}@{}", shop.handle, ctx.instance.domain)),
                shop_id: Set(Some(shop.id)),
                proposal_id: Set(format!("{}/proposal", ctx.instance.listing_url(&row.id))),
                listing_id: Set(Some(row.id.clone())),
                title: Set(row.title.clone()),
                quantity: Set(offer.quantity),
                currency: Set(row.currency.clone()),
                unit_price_minor: Set(row.price_minor),
                items_minor: Set(row.price_minor.saturating_mul(i64::from(offer.quantity))),
                shipping_minor: Set(0),
                total_minor: Set(row.price_minor.saturating_mul(i64::from(offer.quantity))),
                shipping_option_id: Set(offer.shipping_option_id.clone()),
                shipping_name: Set(String::new()),
                pickup: Set(false),
                address: Set(address),
                payment_instructions: Set(instructions),
                payment_url: Set(None),
                reason: Set(reason.clone()),
                paid_at: Set(None),
                holds_stock: Set(figures.is_some()),
                created_at: Set(now),
                updated_at: Set(now),
            };
            if let Some(p) = &figures {
                set_figures(&mut active, p);
            }
            active.insert(txn).await.map_err(|e| {
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) {
                    Error::Conflict("this offer was already answered".into())
                } else {
                    e.into()
                }
            })?
        }
    };
    if decision == Decision::Held {
        // The buyer's own row already says `offered` when the buyer is ours.
        if existing.is_none() {
            record_event(txn, &stored, "state", Party::Buyer, None).await?;
        }
        notify(
            txn,
            &stored,
            Some(Party::Buyer),
            "order_state",
            &format!(
                "New order to accept or decline: {} × {} ({})",
                stored.quantity, stored.title, stored.shop_name
            ),
        )
        .await?;
    } else {
        record_event(txn, &stored, "state", Party::Seller, reason.as_deref()).await?;
        // Nobody acted by hand: both local parties hear of it.
        notify(
            txn,
            &stored,
            None,
            "order_state",
            &state_text(&stored, state, reason.as_deref()),
        )
        .await?;
    }
    let out = match decision {
        Decision::Held => None,
        _ => outgoing(&stored, &decision)?,
    };
    let ids = queue(txn, out).await?;
    Ok((stored, decision, ids))
}

/// The shop's owner answers an order its node held (a shop that accepts orders by hand):
/// accept it (the stock is already reserved) or decline it with `reason_text` (the stock goes
/// back on sale). `acting` is `Some(Seller)` for the owner by hand, `None` for the node (an
/// offer left unanswered too long). 404 for no such order, 409 unless the order is ours and
/// still waits for an answer. `outgoing` builds the `Accept` or `Reject` from the stored order,
/// queued in the same transaction.
pub async fn answer_held(
    ctx: &Context,
    id: &str,
    accept: bool,
    reason_text: Option<&str>,
    acting: Option<Party>,
    outgoing: impl FnOnce(&order::Model, &Decision) -> Result<Option<Outgoing>>,
) -> Result<(order::Model, Vec<i32>)> {
    let why = reason(reason_text)?;
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let current = order::Entity::find_by_id(id.to_string())
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    let from = current.state()?;
    if current.shop_id.is_none() {
        return Err(Error::Forbidden(
            "only the shop's node answers an order".into(),
        ));
    }
    if from != State::Offered {
        return Err(Error::Conflict(format!(
            "the order is {from}: only an order waiting for the shop is accepted or declined"
        )));
    }
    let (state, decision) = if accept {
        (State::Accepted, Decision::Accepted)
    } else {
        let why = why
            .clone()
            .unwrap_or_else(|| "the shop declined the order".to_string());
        (State::Rejected, Decision::Rejected(why))
    };
    let reason = match &decision {
        Decision::Rejected(why) => Some(why.clone()),
        _ => None,
    };
    let now = db::now(&txn).await?;
    let mut active: order::ActiveModel = current.clone().into();
    active.state = Set(state.as_str().into());
    active.updated_at = Set(now);
    active.reason = Set(reason.clone());
    active.holds_stock = Set(accept);
    if accept {
        active.agreement_id = Set(Some(ctx.instance.url(&format!("/orders/{id}"))));
        if !current.holds_stock {
            // Only a row left by a client that went away before placing and answering shared
            // one transaction holds nothing: its items are taken now, or it cannot be accepted.
            let listing = current
                .listing_id
                .as_deref()
                .ok_or_else(|| Error::Conflict("the order has no listing".into()))?;
            if let Err(why) = listings::take_stock(&txn, ctx, listing, current.quantity).await? {
                return Err(Error::Conflict(format!(
                    "the order cannot be accepted ({why}): decline it"
                )));
            }
        }
    }
    let stored = save_if_unchanged(&txn, &current, active).await?;
    if !accept {
        give_back(&txn, ctx, &current).await?;
    }
    record_event(&txn, &stored, "state", Party::Seller, reason.as_deref()).await?;
    notify(
        &txn,
        &stored,
        acting,
        "order_state",
        &state_text(&stored, state, reason.as_deref()),
    )
    .await?;
    let out = outgoing(&stored, &decision)?;
    let ids = queue(&txn, out).await?;
    txn.commit().await?;
    Ok((stored, ids))
}

/// Write `active`, a change of `current`, only if the order's state and `holds_stock` are still
/// what `current` says: one conditional `UPDATE`, so of two requests moving one order at once
/// (two declines, the buyer's cancel and the sweeper) exactly one wins and the others get 409,
/// and the items go back at most once. (On PostgreSQL the catalog lock already queues them; the
/// condition keeps that true for any caller.)
async fn save_if_unchanged(
    txn: &DatabaseTransaction,
    current: &order::Model,
    active: order::ActiveModel,
) -> Result<order::Model> {
    let update = order::Entity::update(active)
        .validate()?
        .filter(order::Column::State.eq(current.state.as_str()))
        .filter(order::Column::HoldsStock.eq(current.holds_stock));
    match update.exec(txn).await {
        Ok(row) => Ok(row),
        Err(sea_orm::DbErr::RecordNotUpdated) => Err(Error::Conflict(
            "the order changed meanwhile: reload it and try again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Put back the items `before` (the order as read before the change that ends it, saved by
/// [`save_if_unchanged`] with `holds_stock` false) held, if it held any.
async fn give_back(txn: &DatabaseTransaction, ctx: &Context, before: &order::Model) -> Result<()> {
    if let (true, Some(listing)) = (before.holds_stock, &before.listing_id) {
        listings::put_back_stock(txn, ctx, listing, before.quantity).await?;
    }
    Ok(())
}

/// The figures of an accepted order.
struct Figures {
    unit: Money,
    items: Money,
    option: ShippingOption,
    shipping: Money,
    total: Money,
}

fn set_figures(active: &mut order::ActiveModel, p: &Figures) {
    active.unit_price_minor = Set(p.unit.minor());
    active.items_minor = Set(p.items.minor());
    active.shipping_minor = Set(p.shipping.minor());
    active.total_minor = Set(p.total.minor());
    active.currency = Set(p.unit.currency().code().to_string());
    active.shipping_option_id = Set(p.option.id.clone());
    active.shipping_name = Set(p.option.name.clone());
    active.pickup = Set(p.option.pickup);
}

/// The shop's answer to an offer, as the buyer's node reads it.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Accepted: the Agreement's id and how to pay.
    Accepted {
        /// The finalized Agreement's id.
        agreement_id: String,
        /// The shop's payment instructions.
        payment_instructions: String,
        /// The FEP-0ea0 payment link's `href`.
        payment_url: Option<String>,
        /// The seller's total (minor units), if stated.
        total_minor: Option<i64>,
    },
    /// Rejected, with the shop's reason.
    Rejected(Option<String>),
}

/// The shop answered our buyer's offer `offer_id`. 403 if `actor` is not the shop; 409 if the
/// order was already answered. Returns `None` when no order of ours has that offer.
pub async fn answered(
    ctx: &Context,
    offer_id: &str,
    actor: &str,
    answer: Answer,
) -> Result<Option<order::Model>> {
    let txn = db::begin_write(&ctx.db).await?;
    let Some(current) = order::Entity::find()
        .filter(order::Column::OfferId.eq(offer_id))
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    if current.shop_actor != actor {
        return Err(Error::Forbidden("only the shop answers an offer".into()));
    }
    if current.state()? == State::Cancelled && current.agreement_id.is_none() {
        // Our buyer withdrew the offer before this answer came: the `Undo{Offer}` on its way
        // cancels the shop's copy too.
        return Ok(Some(current));
    }
    let to = match &answer {
        Answer::Accepted { .. } => State::Accepted,
        Answer::Rejected(_) => State::Rejected,
    };
    check_step(current.state()?, to, Party::Seller)?;
    let now = db::now(&txn).await?;
    let mut active: order::ActiveModel = current.into();
    active.state = Set(to.as_str().into());
    active.updated_at = Set(now);
    let mut why = None;
    match answer {
        Answer::Accepted {
            agreement_id,
            payment_instructions,
            payment_url,
            total_minor,
        } => {
            active.agreement_id = Set(Some(agreement_id));
            active.payment_instructions = Set(payment_instructions);
            active.payment_url = Set(payment_url);
            if let Some(total) = total_minor {
                active.total_minor = Set(total);
            }
        }
        Answer::Rejected(reason) => {
            active.reason = Set(reason.clone());
            why = reason;
        }
    }
    let row = active.update(&txn).await.map_err(|e| {
        if matches!(
            e.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ) {
            Error::Conflict("that Agreement id belongs to another order".into())
        } else {
            e.into()
        }
    })?;
    record_event(&txn, &row, "state", Party::Seller, why.as_deref()).await?;
    notify(
        &txn,
        &row,
        Some(Party::Seller),
        "order_state",
        &state_text(&row, to, why.as_deref()),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(row))
}

/// Move order `id` to `to` on behalf of `party` (a local user acting through the API or pages),
/// with the activity that tells the other party. 403 for the wrong party, 409 for a step that
/// does not exist from the current state, 422 for a seller's cancellation without a reason.
pub async fn transition(
    ctx: &Context,
    id: &str,
    party: Party,
    to: State,
    reason_text: Option<&str>,
    outgoing: impl FnOnce(&order::Model) -> Result<Option<Outgoing>>,
) -> Result<(order::Model, Vec<i32>)> {
    if matches!(to, State::Accepted | State::Rejected | State::Offered) {
        return Err(Error::Conflict(
            "offers are answered by the shop's node as they arrive, or with answer_held".into(),
        ));
    }
    let why = reason(reason_text)?;
    if to == State::Cancelled && party == Party::Seller && why.is_none() {
        return Err(Error::invalid(
            "reason",
            "a shop cancelling an order tells the buyer why",
        ));
    }
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let current = order::Entity::find_by_id(id.to_string())
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    let row = apply(
        &txn,
        ctx,
        current,
        party,
        &[to],
        why.as_deref(),
        Some(party),
    )
    .await?;
    let out = outgoing(&row)?;
    let ids = queue(&txn, out).await?;
    txn.commit().await?;
    Ok((row, ids))
}

/// A step taken on the other node, as its activity told us: `actor` must be one of the order's
/// parties and the step theirs (403), and reachable from where the order is (409). A run of the
/// same party's steps is applied in one go when an earlier activity is late. Returns `None`
/// when we hold no order with that Agreement id.
pub async fn apply_remote(
    ctx: &Context,
    agreement_id: &str,
    actor: &str,
    to: State,
    reason_text: Option<&str>,
) -> Result<Option<order::Model>> {
    let why = reason(reason_text)?;
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let Some(current) = order::Entity::find()
        .filter(order::Column::AgreementId.eq(agreement_id))
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    let party = party_of(&current, actor)?;
    if to == State::Cancelled && party == Party::Seller && why.is_none() {
        return Err(Error::invalid(
            "tianguis:reason",
            "a shop cancelling an order tells the buyer why",
        ));
    }
    if matches!(to, State::Accepted | State::Rejected | State::Offered) {
        return Err(Error::Conflict(
            "an offer is answered with Accept or Reject, not an Update".into(),
        ));
    }
    let steps = path(current.state()?, to, party)?;
    let row = apply(&txn, ctx, current, party, &steps, why.as_deref(), None).await?;
    txn.commit().await?;
    Ok(Some(row))
}

/// The buyer withdrew offer `offer_id` (`Undo{Offer}`) made to one of our shops: `actor` must be
/// the order's buyer (403). An order still open before shipping (`offered`, or `accepted` or
/// `paid` when our answer crossed the withdrawal) is cancelled as the buyer's step and its items
/// go back; one already `cancelled` or `rejected` is left as it is; a later one is 409. `None`
/// when we hold no order with that offer.
pub async fn withdrawn(ctx: &Context, offer_id: &str, actor: &str) -> Result<Option<order::Model>> {
    let txn = db::begin_catalog_write(&ctx.db).await?;
    let Some(current) = order::Entity::find()
        .filter(order::Column::OfferId.eq(offer_id))
        .filter(order::Column::ShopId.is_not_null())
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    if party_of(&current, actor)? != Party::Buyer {
        return Err(Error::Forbidden("only the buyer withdraws an offer".into()));
    }
    let row = match current.state()? {
        State::Cancelled | State::Rejected => current,
        State::Offered | State::Accepted | State::Paid => {
            let why = Some("the buyer withdrew the order");
            apply(
                &txn,
                ctx,
                current,
                Party::Buyer,
                &[State::Cancelled],
                why,
                None,
            )
            .await?
        }
        later => {
            return Err(Error::Conflict(format!(
                "the order is {later}: it can no longer be withdrawn"
            )));
        }
    };
    txn.commit().await?;
    Ok(Some(row))
}

/// Our shops' orders that have stayed in `state` since before `cutoff`, oldest first, 100 at
/// most: the sweeper cancels those left `accepted` (unpaid) and declines those left `offered`
/// (held for an answer).
pub async fn idle_since(
    ctx: &Context,
    state: State,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<order::Model>> {
    Ok(order::Entity::find()
        .filter(order::Column::State.eq(state.as_str()))
        .filter(order::Column::ShopId.is_not_null())
        .filter(order::Column::UpdatedAt.lt(cutoff))
        .order_by_asc(order::Column::UpdatedAt)
        .limit(100)
        .all(&ctx.db)
        .await?)
}

/// Which party `actor` is on `order`; 403 for anyone else.
pub fn party_of(order: &order::Model, actor: &str) -> Result<Party> {
    if order.buyer_actor == actor {
        Ok(Party::Buyer)
    } else if order.shop_actor == actor {
        Ok(Party::Seller)
    } else {
        Err(Error::Forbidden(
            "only the buyer and the shop act on an order".into(),
        ))
    }
}

async fn apply(
    txn: &DatabaseTransaction,
    ctx: &Context,
    current: order::Model,
    party: Party,
    steps: &[State],
    why: Option<&str>,
    acting: Option<Party>,
) -> Result<order::Model> {
    let mut row = current;
    for &to in steps {
        let from = row.state()?;
        check_step(from, to, party)?;
        if to == State::Refunded && from == State::Cancelled && row.paid_at.is_none() {
            return Err(Error::Conflict(
                "the order was cancelled before it was paid: there is nothing to refund".into(),
            ));
        }
        let now = db::now(txn).await?;
        let before = row;
        let mut active: order::ActiveModel = before.clone().into();
        active.state = Set(to.as_str().into());
        active.updated_at = Set(now);
        if to == State::Paid {
            active.paid_at = Set(Some(now));
        }
        if to == State::Cancelled {
            active.reason = Set(why.map(str::to_string));
            active.holds_stock = Set(false);
        }
        row = save_if_unchanged(txn, &before, active).await?;
        // The shop's node holds the stock: a cancelled order's items go back on sale.
        if to == State::Cancelled {
            give_back(txn, ctx, &before).await?;
        }
        // The shop's node books the sale in the co-op's ledger, in the same transaction.
        if to == State::Completed && row.shop_id.is_some() {
            crate::service::ledger::book_sale(txn, ctx, &row).await?;
        }
        let note = if to == State::Cancelled { why } else { None };
        record_event(txn, &row, "state", party, note).await?;
        notify(
            txn,
            &row,
            acting,
            "order_state",
            &state_text(&row, to, note),
        )
        .await?;
    }
    Ok(row)
}

fn state_text(order: &order::Model, state: State, why: Option<&str>) -> String {
    let what = format!("{} × {} ({})", order.quantity, order.title, order.shop_name);
    let mut text = match state {
        State::Offered => format!("Order sent: {what}"),
        State::Accepted => format!("Order accepted: {what}"),
        State::Rejected => format!("Order rejected: {what}"),
        State::Paid => format!("Payment received: {what}"),
        State::Shipped if order.pickup => format!("Ready for pickup: {what}"),
        State::Shipped => format!("Shipped: {what}"),
        State::Delivered => format!("Delivered: {what}"),
        State::Completed => format!("Completed: {what}"),
        State::Cancelled => format!("Cancelled: {what}"),
        State::Refunded => format!("Refunded: {what}"),
    };
    if let Some(why) = why {
        text.push_str(&format!(": {why}"));
    }
    text
}

async fn record_event(
    txn: &DatabaseTransaction,
    order: &order::Model,
    kind: &str,
    party: Party,
    note: Option<&str>,
) -> Result<()> {
    order_event::ActiveModel {
        order_id: Set(order.id.clone()),
        kind: Set(kind.into()),
        state: Set(order.state.clone()),
        party: Set(party.as_str().into()),
        note: Set(note.map(str::to_string)),
        created_at: Set(db::now(txn).await?),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The local user behind each party of `order` (the buyer, the shop's owner).
async fn local_users(
    txn: &impl ConnectionTrait,
    order: &order::Model,
) -> Result<Vec<(Party, i32)>> {
    let mut users = Vec::new();
    if let Some(buyer) = order.buyer_user_id {
        users.push((Party::Buyer, buyer));
    }
    if let Some(shop_id) = order.shop_id
        && let Some(shop) = shop::Entity::find_by_id(shop_id).one(txn).await?
    {
        users.push((Party::Seller, shop.owner_id));
    }
    Ok(users)
}

/// Notify every local party but the one who acted by hand.
async fn notify(
    txn: &DatabaseTransaction,
    order: &order::Model,
    acting: Option<Party>,
    kind: &str,
    text: &str,
) -> Result<()> {
    let now = db::now(txn).await?;
    for (party, user_id) in local_users(txn, order).await? {
        if Some(party) == acting {
            continue;
        }
        notification::ActiveModel {
            user_id: Set(user_id),
            order_id: Set(Some(order.id.clone())),
            kind: Set(kind.into()),
            text: Set(text.to_string()),
            read: Set(false),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// A message on order `id` from `party` (a local user), with the `Note` for the other party.
pub async fn post_message(
    ctx: &Context,
    id: &str,
    party: Party,
    content: &str,
    ap_id: impl FnOnce(&order::Model) -> String,
    outgoing: impl FnOnce(&order::Model, &order_message::Model) -> Result<Option<Outgoing>>,
) -> Result<(order_message::Model, Vec<i32>)> {
    let content = message_text(content)?;
    let txn = db::begin_write(&ctx.db).await?;
    let order = order::Entity::find_by_id(id.to_string())
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    if order.agreement_id.is_none() {
        return Err(Error::Conflict(
            "messages start once the shop has accepted the order".into(),
        ));
    }
    let message = store_message(&txn, &order, party, ap_id(&order), &content, Some(party)).await?;
    let out = outgoing(&order, &message)?;
    let ids = queue(&txn, out).await?;
    txn.commit().await?;
    Ok((message, ids))
}

/// A message from the other node: `actor` must be a party of the order with Agreement
/// `agreement_id` (403). Stored once per `ap_id`. `None` when we hold no such order.
pub async fn receive_message(
    ctx: &Context,
    agreement_id: &str,
    actor: &str,
    ap_id: &str,
    content: &str,
) -> Result<Option<order_message::Model>> {
    let txn = db::begin_write(&ctx.db).await?;
    let Some(order) = order::Entity::find()
        .filter(order::Column::AgreementId.eq(agreement_id))
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    let content = message_text(content)?;
    let party = party_of(&order, actor)?;
    if order_message::Entity::find()
        .filter(order_message::Column::ApId.eq(ap_id))
        .one(&txn)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let message = store_message(&txn, &order, party, ap_id.to_string(), &content, None).await?;
    txn.commit().await?;
    Ok(Some(message))
}

async fn store_message(
    txn: &DatabaseTransaction,
    order: &order::Model,
    party: Party,
    ap_id: String,
    content: &str,
    acting: Option<Party>,
) -> Result<order_message::Model> {
    let now = db::now(txn).await?;
    let message = order_message::ActiveModel {
        order_id: Set(order.id.clone()),
        ap_id: Set(ap_id),
        party: Set(party.as_str().into()),
        content: Set(content.to_string()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    record_event(txn, order, "message", party, None).await?;
    let from = match party {
        Party::Buyer => order.buyer_name.clone(),
        Party::Seller => order.shop_name.clone(),
    };
    let preview: String = content.chars().take(140).collect();
    let text = format!("Message from {from} about {}: {preview}", order.title);
    // A message typed here notifies the other party only; one that arrived, our party.
    let acting = acting.or(Some(party));
    notify(txn, order, acting, "order_message", &text).await?;
    Ok(message)
}

impl order::Model {
    /// The order's state; a stored value we do not know is an internal error.
    pub fn state(&self) -> Result<State> {
        State::parse(&self.state)
            .ok_or_else(|| Error::Internal(format!("stored order state {:?}", self.state)))
    }

    /// The shipping address, if any.
    pub fn address(&self) -> Option<Address> {
        self.address
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
    }
}

/// Read order `id` (no access check: for callers that did theirs).
pub async fn get(ctx: &Context, id: &str) -> Result<order::Model> {
    order::Entity::find_by_id(id.to_string())
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("order"))
}

/// The order with Agreement id `agreement_id`, if we hold it.
pub async fn find_by_agreement(ctx: &Context, agreement_id: &str) -> Result<Option<order::Model>> {
    Ok(order::Entity::find()
        .filter(order::Column::AgreementId.eq(agreement_id))
        .one(&ctx.db)
        .await?)
}

/// The order whose offer is `offer_id`, if we hold it.
pub async fn find_by_offer(ctx: &Context, offer_id: &str) -> Result<Option<order::Model>> {
    Ok(order::Entity::find()
        .filter(order::Column::OfferId.eq(offer_id))
        .one(&ctx.db)
        .await?)
}

/// Which party `who` is on order `id`: its buyer, or someone who runs its shop. Anyone else
/// gets 404, as if the order did not exist (orders are private). The operator (CLI) sees every
/// order as the seller when the shop is ours, else as the buyer.
pub async fn access(ctx: &Context, who: Authority<'_>, id: &str) -> Result<(order::Model, Party)> {
    let order = get(ctx, id).await?;
    let party = party_for(ctx, who, &order).await?;
    Ok((order, party))
}

async fn party_for(ctx: &Context, who: Authority<'_>, order: &order::Model) -> Result<Party> {
    if let Authority::User(user) = who
        && order.buyer_user_id == Some(user.id)
    {
        return Ok(Party::Buyer);
    }
    if let Some(shop_id) = order.shop_id {
        let shop = shops::get_shop_by_id(&ctx.db, shop_id).await?;
        if ensure_can_manage(who, &shop).is_ok() {
            return Ok(Party::Seller);
        }
    }
    if matches!(who, Authority::Operator) {
        return Ok(Party::Buyer);
    }
    Err(Error::not_found("order"))
}

/// An order as the API and pages show it to one of its parties.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    /// Our id.
    pub id: String,
    /// The FEP-0837 Agreement id (once accepted).
    pub agreement_id: Option<String>,
    /// Current state.
    pub state: State,
    /// Which side the viewer is on.
    pub role: Party,
    /// The buyer, `user@domain`.
    pub buyer: String,
    /// The shop, `handle@domain`.
    pub shop: String,
    /// The shop's actor id.
    pub shop_actor: String,
    /// The listing's Proposal id.
    pub proposal: String,
    /// The listing's page, when the shop is ours.
    pub listing_url: Option<String>,
    /// What was ordered.
    pub title: String,
    /// How many.
    pub quantity: i32,
    /// ISO 4217.
    pub currency: String,
    /// One item.
    pub unit_price: String,
    /// All items.
    pub items: String,
    /// Shipping.
    pub shipping: String,
    /// Items plus shipping.
    pub total: String,
    /// The shipping option's name.
    pub shipping_name: String,
    /// Collected in person.
    pub pickup: bool,
    /// Where it goes (only the two parties see it).
    pub address: Option<Address>,
    /// How to pay (once accepted).
    pub payment_instructions: String,
    /// The payment link (once accepted).
    pub payment_url: Option<String>,
    /// Why it was rejected or cancelled.
    pub reason: Option<String>,
    /// What the viewer may do now.
    pub actions: Vec<State>,
    /// Placed.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The status timeline, oldest first.
    pub timeline: Vec<EventView>,
    /// The message thread, oldest first.
    pub messages: Vec<MessageView>,
}

/// One entry of an order's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    /// `state` or `message`.
    pub kind: String,
    /// The state after it.
    pub state: String,
    /// Who: `buyer` or `seller`.
    pub party: String,
    /// A reason.
    pub note: Option<String>,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// One message.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// `buyer` or `seller`.
    pub party: String,
    /// `user@domain` or `shop@domain`.
    pub from: String,
    /// Plain text.
    pub content: String,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The order in full for `party`: figures, timeline and thread.
pub async fn view(ctx: &Context, order: &order::Model, party: Party) -> Result<OrderView> {
    let mut view = summary(ctx, order, party)?;
    view.timeline = order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(&order.id))
        .order_by_asc(order_event::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter(|e| e.kind == "state")
        .map(|e| EventView {
            kind: e.kind,
            state: e.state,
            party: e.party,
            note: e.note,
            at: e.created_at,
        })
        .collect();
    view.messages = order_message::Entity::find()
        .filter(order_message::Column::OrderId.eq(&order.id))
        .order_by_asc(order_message::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| MessageView {
            from: if m.party == Party::Buyer.as_str() {
                order.buyer_name.clone()
            } else {
                order.shop_name.clone()
            },
            party: m.party,
            content: m.content,
            at: m.created_at,
        })
        .collect();
    Ok(view)
}

/// The order's figures and state for `party`, without timeline and thread (for lists).
pub fn summary(ctx: &Context, order: &order::Model, party: Party) -> Result<OrderView> {
    let state = order.state()?;
    Ok(OrderView {
        id: order.id.clone(),
        agreement_id: order.agreement_id.clone(),
        state,
        role: party,
        buyer: order.buyer_name.clone(),
        shop: order.shop_name.clone(),
        shop_actor: order.shop_actor.clone(),
        proposal: order.proposal_id.clone(),
        listing_url: order
            .listing_id
            .as_ref()
            .map(|id| ctx.instance.listing_url(id)),
        title: order.title.clone(),
        quantity: order.quantity,
        currency: order.currency.clone(),
        unit_price: Money::display_minor(order.unit_price_minor, &order.currency),
        items: Money::display_minor(order.items_minor, &order.currency),
        shipping: Money::display_minor(order.shipping_minor, &order.currency),
        total: Money::display_minor(order.total_minor, &order.currency),
        shipping_name: order.shipping_name.clone(),
        pickup: order.pickup,
        address: order.address(),
        payment_instructions: order.payment_instructions.clone(),
        payment_url: order.payment_url.clone(),
        reason: order.reason.clone(),
        actions: actions(state, party, order.paid_at.is_some()),
        created_at: order.created_at,
        updated_at: order.updated_at,
        timeline: Vec::new(),
        messages: Vec::new(),
    })
}

/// Which orders a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// What a user bought.
    Bought(&'a user::Model),
    /// What a shop sold (or was offered).
    Sold(i32),
    /// Every order this node holds (the operator).
    All,
}

/// Orders in `scope`, newest first, optionally in one state.
pub async fn list(
    ctx: &Context,
    scope: Scope<'_>,
    state: Option<State>,
    page: PageRequest,
) -> Result<Page<order::Model>> {
    let mut query = order::Entity::find();
    query = match scope {
        Scope::Bought(user) => query.filter(order::Column::BuyerUserId.eq(user.id)),
        Scope::Sold(shop_id) => query.filter(order::Column::ShopId.eq(shop_id)),
        Scope::All => query,
    };
    if let Some(state) = state {
        query = query.filter(order::Column::State.eq(state.as_str()));
    }
    let total = query.clone().count(&ctx.db).await?;
    let items = query
        .order_by_desc(order::Column::CreatedAt)
        .order_by_desc(order::Column::Id)
        .offset((page.page - 1) * page.per_page)
        .limit(page.per_page)
        .all(&ctx.db)
        .await?;
    Ok(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// A user's notifications, newest first, and how many are unread.
pub async fn notifications(
    ctx: &Context,
    user: &user::Model,
    unread_only: bool,
    page: PageRequest,
) -> Result<(Page<notification::Model>, u64)> {
    let mut query = notification::Entity::find().filter(notification::Column::UserId.eq(user.id));
    let unread = query
        .clone()
        .filter(notification::Column::Read.eq(false))
        .count(&ctx.db)
        .await?;
    if unread_only {
        query = query.filter(notification::Column::Read.eq(false));
    }
    let total = query.clone().count(&ctx.db).await?;
    let items = query
        .order_by_desc(notification::Column::Id)
        .offset((page.page - 1) * page.per_page)
        .limit(page.per_page)
        .all(&ctx.db)
        .await?;
    Ok((
        Page {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
        },
        unread,
    ))
}

/// Mark a user's notifications read: those up to and including `up_to`, or all.
pub async fn mark_read(ctx: &Context, user: &user::Model, up_to: Option<i32>) -> Result<u64> {
    let mut condition = Condition::all()
        .add(notification::Column::UserId.eq(user.id))
        .add(notification::Column::Read.eq(false));
    if let Some(id) = up_to {
        condition = condition.add(notification::Column::Id.lte(id));
    }
    let result = notification::Entity::update_many()
        .col_expr(
            notification::Column::Read,
            sea_orm::sea_query::Expr::value(true),
        )
        .filter(condition)
        .exec(&ctx.db)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_wrong_party_is_forbidden_and_an_impossible_step_conflicts() {
        assert!(check_step(State::Accepted, State::Paid, Party::Seller).is_ok());
        assert!(matches!(
            check_step(State::Accepted, State::Paid, Party::Buyer),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            check_step(State::Accepted, State::Shipped, Party::Seller),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            check_step(State::Shipped, State::Cancelled, Party::Buyer),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            check_step(State::Completed, State::Refunded, Party::Seller),
            Err(Error::Conflict(_))
        ));
        assert!(check_step(State::Shipped, State::Delivered, Party::Buyer).is_ok());
        assert!(check_step(State::Paid, State::Cancelled, Party::Buyer).is_ok());
    }

    #[test]
    fn a_late_step_of_the_same_party_is_bridged_but_never_another_partys() {
        assert_eq!(
            path(State::Accepted, State::Shipped, Party::Seller).unwrap(),
            vec![State::Paid, State::Shipped]
        );
        assert_eq!(
            path(State::Accepted, State::Completed, Party::Seller).unwrap(),
            vec![
                State::Paid,
                State::Shipped,
                State::Delivered,
                State::Completed
            ]
        );
        // The buyer cannot get from accepted to delivered: paid and shipped are the seller's.
        assert!(path(State::Accepted, State::Delivered, Party::Buyer).is_err());
        // Backwards never.
        assert!(path(State::Shipped, State::Paid, Party::Seller).is_err());
    }

    #[test]
    fn actions_follow_the_table() {
        assert_eq!(
            actions(State::Accepted, Party::Seller, false),
            vec![State::Paid, State::Cancelled]
        );
        assert_eq!(
            actions(State::Accepted, Party::Buyer, false),
            vec![State::Cancelled]
        );
        assert_eq!(
            actions(State::Offered, Party::Seller, false),
            vec![State::Accepted, State::Rejected]
        );
        assert_eq!(
            actions(State::Offered, Party::Buyer, false),
            vec![State::Cancelled]
        );
        assert!(actions(State::Cancelled, Party::Seller, false).is_empty());
        assert_eq!(
            actions(State::Cancelled, Party::Seller, true),
            vec![State::Refunded]
        );
        for state in STATES {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn addresses_are_checked_field_by_field() {
        let good = Address {
            name: " Ana ".into(),
            street: "Calle 5".into(),
            city: "Oaxaca".into(),
            postal_code: "68000".into(),
            country: "mx".into(),
        };
        let tidy = good.clone().validated().unwrap();
        assert_eq!(tidy.name, "Ana");
        assert_eq!(tidy.country, "MX");
        let bad = Address {
            country: "Mexico".into(),
            ..good.clone()
        };
        assert!(
            matches!(bad.validated(), Err(Error::Invalid { field, .. }) if field == "address.country")
        );
        let bad = Address {
            city: "a\nb".into(),
            ..good
        };
        assert!(
            matches!(bad.validated(), Err(Error::Invalid { field, .. }) if field == "address.city")
        );
    }
}
