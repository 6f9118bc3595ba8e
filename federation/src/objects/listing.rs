//! A listing row as a `Note` (what Mastodon shows) and as an FEP-0837 `Proposal` (what peer
//! nodes read). Both come from the same [`ListingView`], so they cannot disagree.

use market::{Instance, service::listings::ListingView};
use url::Url;

use crate::{
    error::Error,
    protocol::{
        PUBLIC,
        listing::{
            Attachment, Hashtag, ImageAttachment, Intent, ListingNote, PaymentLink, Proposal,
            Quantity, Tombstone, currency_uri,
        },
    },
};

/// At most this many photos travel with a listing (Mastodon shows four).
const MAX_ATTACHED_IMAGES: usize = 4;

/// The `rel` of the payment link from a Note to its Proposal (FEP-0ea0 + FEP-0837).
pub const PROPOSAL_REL: [&str; 2] = ["payment", "https://w3id.org/valueflows/ont/vf#Proposal"];

fn url(s: &str) -> Result<Url, Error> {
    Url::parse(s).map_err(|_| Error::Market(market::Error::Internal(format!("bad URL {s}"))))
}

/// The id of a listing's Proposal.
pub fn proposal_id(view: &ListingView) -> String {
    format!("{}/proposal", view.url)
}

fn hashtags(instance: &Instance, view: &ListingView) -> Result<Vec<Hashtag>, Error> {
    view.tags
        .iter()
        .map(|t| {
            Ok(Hashtag {
                kind: "Hashtag".into(),
                name: format!("#{t}"),
                href: url(&instance.url(&format!("/tags/{t}")))?,
            })
        })
        .collect()
}

fn photos(view: &ListingView) -> Result<Vec<ImageAttachment>, Error> {
    view.images
        .iter()
        .take(MAX_ATTACHED_IMAGES)
        .map(|image| {
            Ok(ImageAttachment {
                kind: "Image".into(),
                media_type: image.media_type.clone(),
                url: url(&image.url)?,
                name: image.alt.clone(),
                width: image.width,
                height: image.height,
            })
        })
        .collect()
}

/// The listing as a `Note`.
pub fn note(instance: &Instance, view: &ListingView) -> Result<ListingNote, Error> {
    let esc = |s: &str| html_escape::encode_text(s).to_string();
    let attr = |s: &str| html_escape::encode_double_quoted_attribute(s).to_string();
    let stock = if view.status == "sold_out" || view.stock == 0 {
        "Sold out".to_string()
    } else {
        format!("{} in stock", view.stock)
    };
    let mut content = format!(
        "<p><strong>{}</strong></p><p>{} {} · {}</p>{}",
        esc(&view.title),
        esc(&view.price),
        esc(&view.currency),
        stock,
        view.description_html
    );
    content.push_str(&format!(r#"<p><a href="{0}">{0}</a></p>"#, attr(&view.url)));
    let tags = hashtags(instance, view)?;
    if !view.tags.is_empty() {
        let links: Vec<String> = view
            .tags
            .iter()
            .map(|t| {
                let href = instance.url(&format!("/tags/{t}"));
                format!(
                    r#"<a href="{}" class="mention hashtag" rel="tag">#<span>{}</span></a>"#,
                    attr(&href),
                    esc(t)
                )
            })
            .collect();
        content.push_str(&format!("<p>{}</p>", links.join(" ")));
    }
    let mut attachment: Vec<Attachment> =
        photos(view)?.into_iter().map(Attachment::Image).collect();
    attachment.push(Attachment::Link(PaymentLink {
        kind: "Link".into(),
        name: format!("Order: {}", view.title),
        href: url(&proposal_id(view))?,
        media_type: r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#
            .into(),
        rel: PROPOSAL_REL.iter().map(|s| s.to_string()).collect(),
    }));
    Ok(ListingNote {
        kind: "Note".into(),
        id: url(&view.url)?,
        attributed_to: url(&view.shop.url)?,
        content,
        url: url(&view.url)?,
        published: view.created_at,
        updated: view.updated_at,
        to: vec![PUBLIC.into()],
        cc: vec![format!("{}/followers", view.shop.url)],
        attachment,
        tag: tags,
        sensitive: false,
    })
}

/// The listing as an FEP-0837 `Proposal`: one unit of the item for its price, any whole number
/// of units up to the stock. It carries the Note's tags and photos too, so a peer node copies a
/// whole listing from the Proposal alone.
pub fn proposal(instance: &Instance, view: &ListingView) -> Result<Proposal, Error> {
    let id = proposal_id(view);
    let one = |value: String| Quantity {
        has_unit: "one".into(),
        has_numerical_value: value,
    };
    Ok(Proposal {
        kind: "Proposal".into(),
        id: url(&id)?,
        purpose: "offer".into(),
        attributed_to: url(&view.shop.url)?,
        name: view.title.clone(),
        content: view.description_html.clone(),
        url: url(&view.url)?,
        published: view.created_at,
        updated: view.updated_at,
        publishes: Intent {
            kind: "Intent".into(),
            id: format!("{id}#primary"),
            action: "transfer".into(),
            resource_conforms_to: Some(view.url.clone()),
            resource_quantity: one("1".into()),
            available_quantity: Some(one(view.stock.to_string())),
        },
        reciprocal: Intent {
            kind: "Intent".into(),
            id: format!("{id}#reciprocal"),
            action: "transfer".into(),
            resource_conforms_to: Some(currency_uri(&view.currency)),
            resource_quantity: one(view.price.clone()),
            available_quantity: None,
        },
        unit_based: true,
        to: vec![PUBLIC.into()],
        tag: hashtags(instance, view)?,
        attachment: photos(view)?,
    })
}

/// What a withdrawn listing's Proposal id serves, and what peers are sent when it goes.
pub fn proposal_tombstone(view: &ListingView) -> Result<Tombstone, Error> {
    Ok(Tombstone {
        kind: "Tombstone".into(),
        id: url(&proposal_id(view))?,
        former_type: "Proposal".into(),
        deleted: view.updated_at,
    })
}

/// What a withdrawn listing's id serves.
pub fn tombstone(view: &ListingView) -> Result<Tombstone, Error> {
    Ok(Tombstone {
        kind: "Tombstone".into(),
        id: url(&view.url)?,
        former_type: "Note".into(),
        deleted: view.updated_at,
    })
}
