//! What a shop tells its buyers at checkout. Payment happens outside the node (a bank transfer,
//! a payment page, cash on pickup): the shop writes its instructions, which an accepted order
//! will carry. Shipping: options with a name, a price and the regions they reach (ISO 3166-1
//! alpha-2 country codes; none listed means everywhere), or pickup (no address needed).

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};

use crate::{
    Context, Error, Result, db,
    entities::shop_checkout,
    service::shops::{self, Authority, ensure_can_manage},
    types::{Currency, Money, Text},
};

/// Most shipping options a shop may offer.
pub const MAX_OPTIONS: usize = 20;
/// Longest payment instructions, in characters.
pub const MAX_INSTRUCTIONS: usize = 4_000;

/// A shipping option as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShippingOption {
    /// Stable id (a UUID), for the buyer's choice.
    pub id: String,
    /// "Standard post", "Courier", "Pickup at the market".
    pub name: String,
    /// Decimal string with the currency's decimals.
    pub price: String,
    /// ISO 4217.
    pub currency: String,
    /// Countries it reaches (ISO 3166-1 alpha-2, upper case); empty: everywhere.
    pub regions: Vec<String>,
    /// Collected in person: no shipping address.
    pub pickup: bool,
}

/// A shipping option as given by the shop (an `id` keeps an existing option's id).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingOptionInput {
    /// Keep this id (from a previous `GET`); a new one is made if absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// Its price.
    pub price: String,
    /// Its currency.
    pub currency: String,
    /// Countries it reaches; empty or absent: everywhere.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Collected in person.
    #[serde(default)]
    pub pickup: bool,
}

/// A shop's checkout settings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Checkout {
    /// How to pay.
    pub payment_instructions: String,
    /// How it ships.
    pub shipping_options: Vec<ShippingOption>,
}

/// The checkout settings of the shop `handle` (empty until the shop sets them).
pub async fn get(ctx: &Context, handle: &str) -> Result<Checkout> {
    let shop = shops::get_shop(ctx, handle).await?;
    let row = shop_checkout::Entity::find_by_id(shop.id)
        .one(&ctx.db)
        .await?;
    Ok(match row {
        Some(row) => Checkout {
            payment_instructions: row.payment_instructions,
            shipping_options: serde_json::from_str(&row.shipping_options)
                .map_err(|e| Error::Internal(format!("stored shipping options: {e}")))?,
        },
        None => Checkout {
            payment_instructions: String::new(),
            shipping_options: Vec::new(),
        },
    })
}

fn parse_option(input: ShippingOptionInput, index: usize) -> Result<ShippingOption> {
    let field = |name: &str| format!("shipping_options[{index}].{name}");
    let name = Text::line(&field("name"), &input.name, 1, 80)?.into_inner();
    let currency = Currency::parse(&input.currency)
        .map_err(|_| Error::invalid(field("currency"), "an ISO 4217 code such as EUR"))?;
    let price = Money::parse(&input.price, currency).map_err(|e| match e {
        Error::Invalid { reason, .. } => Error::invalid(field("price"), reason),
        other => other,
    })?;
    let id = match input.id {
        Some(id) => uuid::Uuid::parse_str(&id)
            .map_err(|_| Error::invalid(field("id"), "an id from a previous GET, or none"))?
            .to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let mut regions = Vec::new();
    if !input.pickup {
        for region in &input.regions {
            let code = region.trim().to_ascii_uppercase();
            if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(Error::invalid(
                    field("regions"),
                    "ISO 3166-1 alpha-2 country codes such as MX or DE",
                ));
            }
            if !regions.contains(&code) {
                regions.push(code);
            }
        }
    }
    Ok(ShippingOption {
        id,
        name,
        price: price.amount_string(),
        currency: price.currency().code().to_string(),
        regions,
        pickup: input.pickup,
    })
}

/// Replace a shop's checkout settings (its owner or an admin). Everything is checked before
/// anything is written.
pub async fn set(
    ctx: &Context,
    who: Authority<'_>,
    handle: &str,
    payment_instructions: &str,
    options: Vec<ShippingOptionInput>,
) -> Result<Checkout> {
    let shop = shops::get_shop(ctx, handle).await?;
    ensure_can_manage(who, &shop)?;
    let checkout = check(payment_instructions, options)?;
    let txn = db::begin_write(&ctx.db).await?;
    write(&txn, shop.id, &checkout).await?;
    txn.commit().await?;
    Ok(checkout)
}

/// Check checkout settings as typed: 422 naming what is wrong, nothing written.
pub fn check(payment_instructions: &str, options: Vec<ShippingOptionInput>) -> Result<Checkout> {
    let instructions = Text::lines(
        "payment_instructions",
        payment_instructions,
        0,
        MAX_INSTRUCTIONS,
    )?
    .into_inner();
    if options.len() > MAX_OPTIONS {
        return Err(Error::invalid(
            "shipping_options",
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let options = options
        .into_iter()
        .enumerate()
        .map(|(i, o)| parse_option(o, i))
        .collect::<Result<Vec<_>>>()?;
    let mut ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != options.len() {
        return Err(Error::invalid("shipping_options", "each id at most once"));
    }
    Ok(Checkout {
        payment_instructions: instructions,
        shipping_options: options,
    })
}

/// Store checked settings as shop `shop_id`'s, on `conn` (a transaction the caller commits).
pub(crate) async fn write(
    conn: &impl ConnectionTrait,
    shop_id: i32,
    checkout: &Checkout,
) -> Result<()> {
    let json = serde_json::to_string(&checkout.shipping_options)
        .map_err(|e| Error::Internal(format!("shipping options: {e}")))?;
    let row = shop_checkout::ActiveModel {
        shop_id: Set(shop_id),
        payment_instructions: Set(checkout.payment_instructions.clone()),
        shipping_options: Set(json),
        updated_at: Set(chrono::Utc::now()),
    };
    if shop_checkout::Entity::find_by_id(shop_id)
        .one(conn)
        .await?
        .is_some()
    {
        row.update(conn).await?;
    } else {
        row.insert(conn).await?;
    }
    Ok(())
}
