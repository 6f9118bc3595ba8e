//! The listing forms: publish with a photo, refused forms, edit, photos, withdraw, strangers.

use reqwest::multipart;
use serde_json::{Value, json};

use super::{
    api_listing, count_images, count_listings, file, input, listing_form, media_files,
    post_multipart, seller,
};
use crate::order_pages::browser::{between, csrf_of, field, location, log_in, page, post_form};
use harness::{TestNode, png};

#[tokio::test]
async fn a_listing_is_published_with_its_photo_through_the_form() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    assert_eq!(
        node.create_shop(&ana, "pottery", "Pottery").await.status(),
        201
    );
    let session = log_in(&node, "ana").await;
    let (status, html) = page(&node, "/shops/pottery/listings/new", Some(&session)).await;
    assert_eq!(status, 200);
    assert!(
        input(&html, "currency").contains(r#"value="EUR""#),
        "{html}"
    );
    for id in [
        "title",
        "description",
        "price",
        "stock",
        "tags",
        "image",
        "alt",
    ] {
        assert!(html.contains(&format!(r#"<label for="{id}">"#)), "{id}");
    }
    assert!(html.contains(r#"enctype="multipart/form-data""#));

    let csrf = field(&html, "csrf");
    let form = listing_form(&csrf, &[("alt", "A blue mug with a white rim")])
        .part("image", file(png(64, 48), "mug.png"));
    let published =
        post_multipart(&node, "/shops/pottery/listings/new", form, Some(&session)).await;
    assert_eq!(
        published.status(),
        303,
        "{}",
        published.text().await.unwrap()
    );
    let to = location(&published);
    let id = between(&to, "/listings/", "/edit").to_string();
    assert_eq!(to, format!("/listings/{id}/edit?done=published"));

    let (status, html) = page(&node, &format!("/listings/{id}"), None).await;
    assert_eq!(status, 200);
    assert!(html.contains("Blue glazed mug"), "{html}");
    assert!(
        html.contains(r#"alt="A blue mug with a white rim""#),
        "{html}"
    );
    assert!(html.contains("28.00"), "{html}");
    let stored = api_listing(&node, &id).await;
    assert_eq!(stored["tags"], json!(["pottery", "mug"]));
    assert_eq!(stored["stock"], 3);
    assert_eq!(stored["images"].as_array().unwrap().len(), 1);

    // The edit page says it was published; the dashboard lists it.
    let (_, html) = page(&node, &to, Some(&session)).await;
    assert!(html.contains("Published"), "{html}");
    let (_, html) = page(&node, "/selling", Some(&session)).await;
    assert!(html.contains("Blue glazed mug"), "{html}");
    assert!(
        html.contains(&format!(r#"href="/listings/{id}/edit""#)),
        "{html}"
    );
    assert!(
        html.contains("<strong>1</strong> listing on show"),
        "{html}"
    );
}

#[tokio::test]
async fn a_refused_listing_form_keeps_the_input_and_creates_nothing() {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.create_shop(&ana, "pottery", "Pottery").await;
    let session = log_in(&node, "ana").await;
    let csrf = csrf_of(&node, &session).await;
    let path = "/shops/pottery/listings/new";

    // A bad price: 422, everything typed is back, the reason is at the price.
    let form = listing_form(&csrf, &[("price", "twelve"), ("title", "Mug <b>big</b>")]);
    let refused = post_multipart(&node, path, form, Some(&session)).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    let price = input(&html, "price");
    assert!(price.contains(r#"aria-invalid="true""#), "{price}");
    assert!(price.contains("price-error"), "{price}");
    assert!(price.contains(r#"value="twelve""#), "{price}");
    assert!(
        html.contains(r#"<p class="field-error" id="price-error">"#),
        "{html}"
    );
    assert!(
        input(&html, "title").contains("Mug &#60;b&#62;big&#60;/b&#62;"),
        "{html}"
    );
    assert!(html.contains("Hand thrown **stoneware**."), "{html}");
    assert!(input(&html, "tags").contains("#pottery, mug"), "{html}");
    assert!(!input(&html, "title").contains("aria-invalid"), "{html}");

    // A stock that is no number.
    let form = listing_form(&csrf, &[("stock", "a few")]);
    let refused = post_multipart(&node, path, form, Some(&session)).await;
    assert_eq!(refused.status(), 422);
    assert!(input(&refused.text().await.unwrap(), "stock").contains("aria-invalid"));

    // A file that is not an image: refused at the photo, no listing, no files.
    let form = listing_form(&csrf, &[("alt", "A mug")])
        .part("image", file(b"not an image".to_vec(), "mug.png"));
    let refused = post_multipart(&node, path, form, Some(&session)).await;
    assert_eq!(refused.status(), 415);
    let html = refused.text().await.unwrap();
    assert!(
        input(&html, "image").contains(r#"aria-invalid="true""#),
        "{html}"
    );
    assert!(html.contains("choose it again"), "{html}");
    assert!(input(&html, "title").contains("Blue glazed mug"), "{html}");

    // A photo without alt text: refused at the alt text.
    let form = listing_form(&csrf, &[]).part("image", file(png(20, 20), "mug.png"));
    let refused = post_multipart(&node, path, form, Some(&session)).await;
    assert_eq!(refused.status(), 422);
    assert!(input(&refused.text().await.unwrap(), "alt").contains("aria-invalid"));

    // A photo larger than the node takes.
    let big = vec![0u8; node.config.media.max_image_bytes + 1];
    let form = listing_form(&csrf, &[("alt", "big")]).part("image", file(big, "big.png"));
    let refused = post_multipart(&node, path, form, Some(&session)).await;
    assert_eq!(refused.status(), 413);

    // Without the CSRF value, or with another one: 403.
    let form = listing_form("", &[("alt", "A mug")]).part("image", file(png(20, 20), "mug.png"));
    assert_eq!(
        post_multipart(&node, path, form, Some(&session))
            .await
            .status(),
        403
    );
    let form = listing_form(&"0".repeat(64), &[]);
    assert_eq!(
        post_multipart(&node, path, form, Some(&session))
            .await
            .status(),
        403
    );

    assert_eq!(count_listings(&node).await, 0);
    assert_eq!(count_images(&node).await, 0);
    assert_eq!(media_files(&node), 0, "no photo files left behind");
}

#[tokio::test]
async fn the_owner_edits_a_listing_and_its_photos_and_withdraws_it() {
    let node = TestNode::spawn().await;
    let (ana, session, id) = seller(&node).await;
    let edit = format!("/listings/{id}/edit");
    let (status, html) = page(&node, &edit, Some(&session)).await;
    assert_eq!(status, 200);
    assert!(
        input(&html, "title").contains(r#"value="Blue glazed mug""#),
        "{html}"
    );
    assert!(
        input(&html, "tags").contains(r#"value="pottery, mug""#),
        "{html}"
    );
    let csrf = field(&html, "csrf");
    let fields = |price: &'static str, stock: &'static str, stock_was: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", "Blue glazed mug".to_string()),
            ("description", "Hand thrown.".to_string()),
            ("price", price.to_string()),
            ("currency", "EUR".to_string()),
            ("stock", stock.to_string()),
            ("stock_was", stock_was.to_string()),
            ("tags", "#gift clay".to_string()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let session = session.clone();
        let edit = edit.clone();
        let node = &node;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            post_form(node, &edit, &pairs, Some(&session)).await
        }
    };

    let saved = send(fields("30.00", "5", "3")).await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), format!("{edit}?done=saved"));
    let stored = api_listing(&node, &id).await;
    assert_eq!(stored["price"], "30.00");
    assert_eq!(stored["stock"], 5);
    assert_eq!(stored["tags"], json!(["gift", "clay"]));
    assert_eq!(stored["description"], "Hand thrown.");

    // A sale (here: the API) while the form is open is not undone by saving other fields.
    node.update_listing(&ana, &id, &json!({"stock": 2})).await;
    assert_eq!(send(fields("31.00", "5", "5")).await.status(), 303);
    let stored = api_listing(&node, &id).await;
    assert_eq!(
        (stored["price"].as_str(), stored["stock"].as_i64()),
        (Some("31.00"), Some(2))
    );

    // A refused edit changes nothing and shows the reason at the field.
    let refused = send(fields("-4", "9", "2")).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(input(&html, "price").contains(r#"value="-4""#), "{html}");
    assert!(input(&html, "price").contains("aria-invalid"), "{html}");
    let stored = api_listing(&node, &id).await;
    assert_eq!(
        (stored["price"].as_str(), stored["stock"].as_i64()),
        (Some("31.00"), Some(2))
    );

    // Add a photo, then remove it.
    let form = multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("alt", "The mug from above")
        .part("image", file(png(40, 40), "top.png"));
    let added = post_multipart(
        &node,
        &format!("/listings/{id}/images"),
        form,
        Some(&session),
    )
    .await;
    assert_eq!(added.status(), 303, "{}", added.text().await.unwrap());
    let stored = api_listing(&node, &id).await;
    assert_eq!(stored["images"][0]["alt"], "The mug from above");
    let image = stored["images"][0]["id"].as_str().unwrap().to_string();
    let (_, html) = page(&node, &edit, Some(&session)).await;
    assert!(html.contains(r#"alt="The mug from above""#), "{html}");
    // A photo without its description is refused, and none is added.
    let form = multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("alt", "  ")
        .part("image", file(png(40, 40), "top.png"));
    let refused = post_multipart(
        &node,
        &format!("/listings/{id}/images"),
        form,
        Some(&session),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(count_images(&node).await, 1);

    let remove = format!("/listings/{id}/images/{image}/delete");
    assert_eq!(
        post_form(&node, &remove, &[], Some(&session))
            .await
            .status(),
        403
    );
    assert_eq!(count_images(&node).await, 1);
    let removed = post_form(&node, &remove, &[("csrf", &csrf)], Some(&session)).await;
    assert_eq!(removed.status(), 303);
    assert_eq!(api_listing(&node, &id).await["images"], json!([]));

    // Withdraw: only with the box ticked.
    let withdraw = format!("/listings/{id}/withdraw");
    let unsure = post_form(&node, &withdraw, &[("csrf", &csrf)], Some(&session)).await;
    assert_eq!(unsure.status(), 422);
    assert!(input(&unsure.text().await.unwrap(), "confirm").contains("aria-invalid"));
    assert_eq!(api_listing(&node, &id).await["status"], "active");
    let sure = post_form(
        &node,
        &withdraw,
        &[("csrf", &csrf), ("confirm", "yes")],
        Some(&session),
    )
    .await;
    assert_eq!(sure.status(), 303);
    assert_eq!(location(&sure), "/selling#shop-pottery");
    assert_eq!(api_listing(&node, &id).await["status"], "withdrawn");
    assert_eq!(page(&node, &format!("/listings/{id}"), None).await.0, 410);
    assert_eq!(page(&node, &edit, Some(&session)).await.0, 409);
    let (_, html) = page(&node, "/selling", Some(&session)).await;
    assert!(!html.contains("Blue glazed mug"), "{html}");
}

#[tokio::test]
async fn strangers_get_403_and_forms_without_csrf_change_nothing() {
    let node = TestNode::spawn().await;
    let (_ana, ana_session, id) = seller(&node).await;
    node.member("bea").await;
    let bea = log_in(&node, "bea").await;
    let bea_csrf = csrf_of(&node, &bea).await;
    for path in [
        format!("/listings/{id}/edit"),
        "/shops/pottery/listings/new".to_string(),
        "/shops/pottery/settings".to_string(),
    ] {
        let (status, html) = page(&node, &path, Some(&bea)).await;
        assert_eq!(status, 403, "{path}");
        assert!(html.contains("you do not run the shop pottery"), "{html}");
    }
    let edits = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("title", "Stolen".to_string()),
            ("price", "1.00".to_string()),
            ("currency", "EUR".to_string()),
            ("stock", "3".to_string()),
            ("stock_was", "3".to_string()),
        ]
    };
    let pairs = edits(&bea_csrf);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let edit = format!("/listings/{id}/edit");
    assert_eq!(
        post_form(&node, &edit, &pairs, Some(&bea)).await.status(),
        403
    );
    let form = listing_form(&bea_csrf, &[]);
    let path = "/shops/pottery/listings/new";
    assert_eq!(
        post_multipart(&node, path, form, Some(&bea)).await.status(),
        403
    );
    let withdraw = format!("/listings/{id}/withdraw");
    let fields = [("csrf", bea_csrf.as_str()), ("confirm", "yes")];
    assert_eq!(
        post_form(&node, &withdraw, &fields, Some(&bea))
            .await
            .status(),
        403
    );

    // The owner's own forms without (or with a wrong) CSRF value: 403 too.
    for csrf in ["", bea_csrf.as_str()] {
        let pairs = edits(csrf);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(
            post_form(&node, &edit, &pairs, Some(&ana_session))
                .await
                .status(),
            403
        );
        let fields = [("csrf", csrf), ("confirm", "yes")];
        assert_eq!(
            post_form(&node, &withdraw, &fields, Some(&ana_session))
                .await
                .status(),
            403
        );
        let form = multipart::Form::new()
            .text("csrf", csrf.to_string())
            .text("alt", "A mug")
            .part("image", file(png(20, 20), "mug.png"));
        let path = format!("/listings/{id}/images");
        assert_eq!(
            post_multipart(&node, &path, form, Some(&ana_session))
                .await
                .status(),
            403
        );
        let fields = [
            ("csrf", csrf),
            ("name", "Renamed"),
            ("ship0_name", "Post"),
            ("ship0_price", "1.00"),
        ];
        let settings = post_form(
            &node,
            "/shops/pottery/settings",
            &fields,
            Some(&ana_session),
        )
        .await;
        assert_eq!(settings.status(), 403);
    }
    let stored = api_listing(&node, &id).await;
    assert_eq!(stored["title"], "Blue glazed mug");
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["images"], json!([]));
    assert_eq!(count_listings(&node).await, 1);
    let shop: Value = node
        .get("/api/v1/shops/pottery", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shop["name"], "A shop");
    let checkout: Value = node
        .get("/api/v1/shops/pottery/checkout", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(checkout["shipping_options"], json!([]));
}
