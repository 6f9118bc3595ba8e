//! A local shop as an ActivityPub actor.

use activitypub_federation::{
    config::Data,
    traits::{Actor, Object},
};
use market::{Context, Instance, entities::shop, service::shops};
use url::Url;

use crate::{
    error::Error,
    protocol::actor::{Endpoints, ImageRef, PropertyValue, ShopActor},
};

/// A shop with its parsed URLs.
#[derive(Debug, Clone)]
pub struct ApubShop {
    id: Url,
    inbox: Url,
    shared_inbox: Url,
    /// The stored row.
    pub shop: shop::Model,
}

impl ApubShop {
    /// Wrap a shop row.
    pub fn new(instance: &Instance, shop: shop::Model) -> Result<Self, Error> {
        let parse = |s: &str| {
            Url::parse(s)
                .map_err(|_| Error::Market(market::Error::Internal(format!("bad URL {s}"))))
        };
        Ok(ApubShop {
            id: parse(&shop.ap_id)?,
            inbox: parse(&format!("{}/inbox", shop.ap_id))?,
            shared_inbox: parse(&instance.url("/inbox"))?,
            shop,
        })
    }

    /// A collection URL of this shop (`outbox`, `followers`, `following`).
    pub fn collection(&self, name: &str) -> Result<Url, Error> {
        Url::parse(&format!("{}/{name}", self.shop.ap_id))
            .map_err(|_| Error::Market(market::Error::Internal("bad collection URL".into())))
    }

    /// The actor document.
    pub fn to_json(&self, instance: &Instance) -> Result<ShopActor, Error> {
        let bio = html_escape::encode_text(&self.shop.bio);
        let summary = bio
            .split("\n\n")
            .filter(|p| !p.trim().is_empty())
            .map(|p| format!("<p>{}</p>", p.trim().replace('\n', "<br>")))
            .collect::<String>();
        let icon = match &self.shop.avatar_file {
            Some(file) => Some(ImageRef {
                kind: "Image".into(),
                url: Url::parse(&instance.media_url(file))
                    .map_err(|_| Error::Market(market::Error::Internal("bad avatar URL".into())))?,
                media_type: Some(
                    if file.ends_with(".png") {
                        "image/png"
                    } else {
                        "image/jpeg"
                    }
                    .into(),
                ),
            }),
            None => None,
        };
        let node = format!(
            r#"<a href="{}" rel="nofollow noopener" target="_blank">{}</a>"#,
            html_escape::encode_double_quoted_attribute(instance.base_url.as_str()),
            html_escape::encode_text(&instance.name)
        );
        Ok(ShopActor {
            kind: "Organization".into(),
            id: self.id.clone(),
            preferred_username: self.shop.handle.clone(),
            name: self.shop.display_name.clone(),
            summary,
            url: self.id.clone(),
            inbox: self.inbox.clone(),
            outbox: self.collection("outbox")?,
            followers: self.collection("followers")?,
            following: self.collection("following")?,
            endpoints: Endpoints {
                shared_inbox: Some(self.shared_inbox.clone()),
            },
            public_key: self.public_key(),
            icon,
            discoverable: true,
            indexable: true,
            manually_approves_followers: self.shop.manually_approves_followers,
            published: self.shop.created_at,
            updated: self.shop.updated_at,
            attachment: vec![PropertyValue {
                kind: "PropertyValue".into(),
                name: "Co-op".into(),
                value: node,
            }],
        })
    }
}

#[async_trait::async_trait]
impl Object for ApubShop {
    type DataType = Context;
    type Kind = ShopActor;
    type Error = Error;

    fn id(&self) -> &Url {
        &self.id
    }

    async fn read_from_id(object_id: Url, data: &Data<Context>) -> Result<Option<Self>, Error> {
        shops::find_shop_by_ap_id(data, object_id.as_str())
            .await?
            .map(|s| ApubShop::new(&data.instance, s))
            .transpose()
    }

    async fn into_json(self, data: &Data<Context>) -> Result<ShopActor, Error> {
        self.to_json(&data.instance)
    }

    async fn verify(
        _json: &ShopActor,
        _expected_domain: &Url,
        _data: &Data<Context>,
    ) -> Result<(), Error> {
        Err(Error::Forbidden(
            "shops of this node are not accepted from elsewhere".into(),
        ))
    }

    async fn from_json(_json: ShopActor, _data: &Data<Context>) -> Result<Self, Error> {
        Err(Error::Forbidden(
            "shops of this node are not accepted from elsewhere".into(),
        ))
    }
}

impl Actor for ApubShop {
    fn public_key_pem(&self) -> &str {
        &self.shop.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        Some(self.shop.private_key_pem.clone())
    }

    fn inbox(&self) -> Url {
        self.inbox.clone()
    }

    fn shared_inbox(&self) -> Option<Url> {
        Some(self.shared_inbox.clone())
    }
}
