//! The shop settings form: profile, payment, shipping rows, avatar.

use reqwest::multipart;
use serde_json::{Value, json};

use super::{file, input, post_multipart, seller};
use crate::order_pages::browser::{field, location, page, post_form};
use harness::{TestNode, png};

#[tokio::test]
async fn shop_settings_save_shipping_options_the_api_shows() {
    let node = TestNode::spawn().await;
    let (_ana, session, _id) = seller(&node).await;
    let (status, html) = page(&node, "/shops/pottery/settings", Some(&session)).await;
    assert_eq!(status, 200);
    assert!(input(&html, "name").contains(r#"value="A shop""#), "{html}");
    // No options yet: two blank rows.
    assert!(
        html.contains(r#"id="ship1-name""#) && !html.contains(r#"id="ship2-name""#),
        "{html}"
    );
    let csrf = field(&html, "csrf");
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Ana's Pottery"),
        ("bio", "Mugs & bowls from Oaxaca."),
        ("payment_instructions", "Bank transfer to ES00 1234."),
        ("by_hand", "on"),
        ("ship0_id", ""),
        ("ship0_name", "Standard post"),
        ("ship0_price", "5.00"),
        ("ship0_currency", "EUR"),
        ("ship0_regions", "mx, US"),
        ("ship1_id", ""),
        ("ship1_name", "Pickup at the market"),
        ("ship1_price", "0"),
        ("ship1_currency", "EUR"),
        ("ship1_regions", ""),
        ("ship1_pickup", "on"),
    ];
    let saved = post_form(&node, "/shops/pottery/settings", &fields, Some(&session)).await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), "/shops/pottery/settings?done=saved");
    let checkout: Value = node
        .get("/api/v1/shops/pottery/checkout", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        checkout["payment_instructions"],
        "Bank transfer to ES00 1234."
    );
    let options = checkout["shipping_options"].as_array().unwrap();
    assert_eq!(options.len(), 2, "{checkout}");
    assert_eq!(options[0]["name"], "Standard post");
    assert_eq!(options[0]["price"], "5.00");
    assert_eq!(options[0]["regions"], json!(["MX", "US"]));
    assert_eq!(options[1]["pickup"], true);
    let shop: Value = node
        .get("/api/v1/shops/pottery", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shop["name"], "Ana's Pottery");
    assert_eq!(shop["bio"], "Mugs & bowls from Oaxaca.");
    assert_eq!(shop["accepts_orders_by_hand"], true);

    // The page shows the two options and two blank rows; a bad price in the second row comes
    // back at that row's price, and nothing changes.
    let (_, html) = page(&node, "/shops/pottery/settings?done=saved", Some(&session)).await;
    assert!(html.contains("Saved."), "{html}");
    assert!(html.contains(r#"id="ship3-name""#), "{html}");
    let first = field(&html, "ship0_id");
    let second = field(&html, "ship1_id");
    let bad = [
        ("csrf", csrf.as_str()),
        ("name", "Renamed"),
        ("ship0_id", first.as_str()),
        ("ship0_name", "Standard post"),
        ("ship0_price", "5.00"),
        ("ship0_currency", "EUR"),
        ("ship1_id", second.as_str()),
        ("ship1_name", "Pickup at the market"),
        ("ship1_price", "free"),
        ("ship1_currency", "EUR"),
        ("ship2_id", ""),
        ("ship2_name", ""),
        ("ship2_price", ""),
    ];
    let refused = post_form(&node, "/shops/pottery/settings", &bad, Some(&session)).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    let price = input(&html, "ship1-price");
    assert!(
        price.contains(r#"aria-invalid="true""#) && price.contains(r#"value="free""#),
        "{price}"
    );
    assert!(
        !input(&html, "ship0-price").contains("aria-invalid"),
        "{html}"
    );
    assert!(
        input(&html, "name").contains(r#"value="Renamed""#),
        "{html}"
    );
    let shop: Value = node
        .get("/api/v1/shops/pottery", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shop["name"], "Ana's Pottery");
    let after: Value = node
        .get("/api/v1/shops/pottery/checkout", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, checkout);

    // Remove the first option; the second keeps its id.
    let remove = [
        ("csrf", csrf.as_str()),
        ("name", "Ana's Pottery"),
        ("ship0_id", first.as_str()),
        ("ship0_name", "Standard post"),
        ("ship0_price", "5.00"),
        ("ship0_remove", "on"),
        ("ship1_id", second.as_str()),
        ("ship1_name", "Pickup at the market"),
        ("ship1_price", "0"),
        ("ship1_pickup", "on"),
    ];
    let saved = post_form(&node, "/shops/pottery/settings", &remove, Some(&session)).await;
    assert_eq!(saved.status(), 303);
    let checkout: Value = node
        .get("/api/v1/shops/pottery/checkout", None)
        .await
        .json()
        .await
        .unwrap();
    let options = checkout["shipping_options"].as_array().unwrap();
    assert_eq!(options.len(), 1);
    assert_eq!(options[0]["id"], second.as_str());
    assert_eq!(
        options[0]["currency"], "EUR",
        "a blank currency is the co-op's"
    );
    // The box was left unticked: orders are accepted on arrival again.
    let shop: Value = node
        .get("/api/v1/shops/pottery", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shop["accepts_orders_by_hand"], false);

    // The avatar.
    let form = multipart::Form::new()
        .text("csrf", csrf.clone())
        .part("avatar", file(png(30, 30), "me.png"));
    let changed = post_multipart(&node, "/shops/pottery/avatar", form, Some(&session)).await;
    assert_eq!(changed.status(), 303);
    let shop: Value = node
        .get("/api/v1/shops/pottery", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(shop["avatar_url"].is_string(), "{shop}");
    let form = multipart::Form::new()
        .text("csrf", csrf.clone())
        .part("avatar", file(b"GIF89a nope".to_vec(), "me.gif"));
    let refused = post_multipart(&node, "/shops/pottery/avatar", form, Some(&session)).await;
    assert_eq!(refused.status(), 415);
    assert!(input(&refused.text().await.unwrap(), "avatar").contains("aria-invalid"));
}
