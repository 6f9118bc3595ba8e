//! Searching the federated catalog: our own listings and peers', through the API and the pages.
//!
//! Peers' listings are stored the way catalog sync stores them, with
//! `market::service::catalog::upsert_remote` on the node's context.

use harness::{Member, TestNode};
use market::service::catalog::{self, CatalogImage, RemoteListing, Stored};
use reqwest::Response;
use serde_json::{Value, json};

use crate::support::{assert_invalid, json_with, visible_text};

/// A peer's listing on `origin`, numbered `n` there, updated `minutes` after a fixed time.
fn remote(origin: &str, n: u32, title: &str, description: &str, tags: &[&str]) -> RemoteListing {
    let base = format!("https://{origin}");
    let at = chrono::DateTime::parse_from_rfc3339("2025-01-01T12:00:00Z")
        .unwrap()
        .to_utc()
        + chrono::Duration::minutes(i64::from(n));
    RemoteListing {
        object_id: format!("{base}/listings/{n}/proposal"),
        url: format!("{base}/listings/{n}"),
        origin: origin.to_string(),
        shop_id: format!("{base}/shops/weavers"),
        shop_name: "The Weavers".into(),
        shop_handle: "weavers".into(),
        title: title.into(),
        description_html: format!("<p>{description}</p>"),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        price: "45.00".into(),
        currency: "EUR".into(),
        stock: 2,
        images: Vec::new(),
        published: at,
        updated: at,
    }
}

async fn store(node: &TestNode, item: &RemoteListing) {
    let stored = catalog::upsert_remote(&node.ctx, item).await.unwrap();
    assert_ne!(stored, Stored::Stale, "{}", item.object_id);
}

/// `GET /api/v1/catalog` with these parameters.
async fn catalog(node: &TestNode, params: &[(&str, &str)]) -> Response {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    node.get(&format!("/api/v1/catalog?{query}"), None).await
}

/// The titles a search finds, in order, after checking it answers 200.
async fn found(node: &TestNode, params: &[(&str, &str)]) -> Vec<String> {
    let page = json_with(catalog(node, params).await, 200).await;
    titles(&page)
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_string())
        .collect()
}

/// Query parameters.
type Params<'a> = Vec<(&'a str, &'a str)>;

/// A node with one listing of its own ("Blue glazed mug", EUR 28.00, stock 3, tags pottery and
/// mug, by `pottery`) and three from peers.
async fn market_with_peers() -> (TestNode, Member) {
    let node = TestNode::spawn().await;
    let ana = node.member("ana").await;
    node.shop_with_listing(&ana, "pottery").await;
    store(
        &node,
        &remote(
            "peer1.example",
            1,
            "Woollen scarf",
            "Knitted from <em>alpaca</em> yarn.",
            &["winter", "textiles"],
        ),
    )
    .await;
    let mut press = remote(
        "peer2.example",
        2,
        "Tortilla press",
        "Cast iron, heavy.",
        &["kitchen"],
    );
    (press.price, press.currency, press.stock) = ("450.00".into(), "MXN".into(), 0);
    press.shop_handle = "cocina".into();
    press.shop_id = "https://peer2.example/shops/cocina".into();
    press.shop_name = "Cocina Viva".into();
    store(&node, &press).await;
    let mut copper = remote(
        "peer2.example",
        3,
        "Copper pot",
        "Hammered by hand; a lid of copper too.",
        &["kitchen", "copper"],
    );
    copper.price = "120.50".into();
    store(&node, &copper).await;
    (node, ana)
}

#[tokio::test]
async fn words_match_in_titles_descriptions_and_tags_of_ours_and_peers() {
    let (node, _) = market_with_peers().await;
    let mug = vec!["Blue glazed mug".to_string()];
    let scarf = vec!["Woollen scarf".to_string()];
    assert_eq!(
        found(&node, &[("q", "stoneware")]).await,
        mug,
        "description"
    );
    assert_eq!(found(&node, &[("q", "pottery")]).await, mug, "tag");
    assert_eq!(found(&node, &[("q", "glazed MUG")]).await, mug, "two words");
    assert_eq!(found(&node, &[("q", "alpaca")]).await, scarf, "remote HTML");
    assert_eq!(found(&node, &[("q", "winter")]).await, scarf, "remote tag");
    assert_eq!(found(&node, &[("q", "Woo")]).await, scarf, "prefix");
    assert!(
        found(&node, &[("q", "glazed scarf")]).await.is_empty(),
        "AND"
    );
    assert!(found(&node, &[("q", "teapot")]).await.is_empty());

    // Without words: newest first, everything (our listing was made just now).
    let all = json_with(catalog(&node, &[]).await, 200).await;
    assert_eq!(
        titles(&all),
        [
            "Blue glazed mug",
            "Copper pot",
            "Tortilla press",
            "Woollen scarf"
        ]
    );
    assert_eq!(
        (&all["total"], &all["has_next"]),
        (&json!(4), &json!(false))
    );

    // A word in the title ranks above one in the tags, which ranks above the description.
    for (n, title, description, tags) in [
        (4, "Camping plate", "Coated in enamel.", &[][..]),
        (5, "Tin cup", "For the trail.", &["enamel"][..]),
        (6, "Enamel kettle", "Whistles.", &[][..]),
    ] {
        store(&node, &remote("peer3.example", n, title, description, tags)).await;
    }
    assert_eq!(
        found(&node, &[("q", "enamel")]).await,
        ["Enamel kettle", "Tin cup", "Camping plate"]
    );

    // What an entry carries.
    let page = json_with(catalog(&node, &[("q", "scarf")]).await, 200).await;
    let scarf = &page["items"][0];
    assert_eq!(scarf["node"], "peer1.example");
    assert_eq!(scarf["local"], false);
    assert_eq!(scarf["url"], "https://peer1.example/listings/1");
    assert_eq!(scarf["shop"]["handle"], "weavers@peer1.example");
    assert_eq!(
        (&scarf["price"], &scarf["currency"]),
        (&json!("45.00"), &json!("EUR"))
    );
    assert_eq!(scarf["tags"], json!(["winter", "textiles"]));
    let one = json_with(
        node.get(&format!("/api/v1/catalog/{}", scarf["id"]), None)
            .await,
        200,
    )
    .await;
    assert_eq!(one["title"], "Woollen scarf");
    let mug = &json_with(catalog(&node, &[("q", "mug")]).await, 200).await["items"][0];
    assert_eq!(
        (&mug["local"], &mug["node"]),
        (&json!(true), &json!(node.domain))
    );
    assert_eq!(mug["shop"]["handle"], format!("pottery@{}", node.domain));
    node.shutdown().await;
}

#[tokio::test]
async fn accents_and_case_are_folded_on_both_sides() {
    let node = TestNode::spawn().await;
    for (n, title, description, tags) in [
        (1, "Cerámica de Oaxaca", "Un plato hondo.", &["barro"][..]),
        (2, "CERÁMICA NEGRA", "Barro negro pulido.", &[][..]),
        (3, "Jarra", "Hecha a mano en Michoacán.", &["cerámica"][..]),
        (4, "Ceramic mug", "Stoneware.", &[][..]),
    ] {
        store(&node, &remote("peer1.example", n, title, description, tags)).await;
    }
    for q in ["ceramica", "Cerámica", "CERAMICA", "CERÁMICA"] {
        let mut got = found(&node, &[("q", q)]).await;
        // The two titles rank above the tag (which of them first depends on the backend's
        // ranking: FTS5's bm25 favours the shorter entry).
        assert_eq!(got.pop().as_deref(), Some("Jarra"), "{q}");
        got.sort();
        assert_eq!(got, ["CERÁMICA NEGRA", "Cerámica de Oaxaca"], "{q}");
    }
    assert_eq!(
        found(&node, &[("q", "ceramica oaxaca")]).await,
        ["Cerámica de Oaxaca"]
    );
    // Folded in the description and as a prefix, too.
    assert_eq!(found(&node, &[("q", "michoacan")]).await, ["Jarra"]);
    assert_eq!(found(&node, &[("q", "Michoacán")]).await, ["Jarra"]);
    assert_eq!(found(&node, &[("q", "ceram")]).await.len(), 4);
    assert_eq!(found(&node, &[("q", "cerá")]).await.len(), 4);
    node.shutdown().await;
}

#[tokio::test]
async fn each_filter_narrows_and_they_combine() {
    let (node, _) = market_with_peers().await;
    let domain = node.domain.clone();
    let cases: Vec<(Params, Vec<&str>)> = vec![
        (
            vec![("tag", "kitchen")],
            vec!["Copper pot", "Tortilla press"],
        ),
        (
            vec![("tag", "#Kitchen")],
            vec!["Copper pot", "Tortilla press"],
        ),
        (vec![("currency", "mxn")], vec!["Tortilla press"]),
        (
            vec![
                ("currency", "EUR"),
                ("min_price", "30"),
                ("max_price", "120.50"),
            ],
            vec!["Copper pot", "Woollen scarf"],
        ),
        (
            vec![("currency", "EUR"), ("max_price", "28.00")],
            vec!["Blue glazed mug"],
        ),
        (
            vec![("node", "PEER2.example")],
            vec!["Copper pot", "Tortilla press"],
        ),
        (vec![("node", &domain)], vec!["Blue glazed mug"]),
        (
            vec![("shop", "cocina@peer2.example")],
            vec!["Tortilla press"],
        ),
        (vec![("shop", "@Weavers@peer2.example")], vec!["Copper pot"]),
        (
            vec![("shop", "https://peer1.example/shops/weavers")],
            vec!["Woollen scarf"],
        ),
        (
            vec![("in_stock", "true"), ("node", "peer2.example")],
            vec!["Copper pot"],
        ),
        (
            vec![("tag", "kitchen"), ("q", "iron")],
            vec!["Tortilla press"],
        ),
        (
            vec![("q", "copper"), ("currency", "EUR"), ("in_stock", "1")],
            vec!["Copper pot"],
        ),
        (
            vec![("q", "cast"), ("node", "peer2.example")],
            vec!["Tortilla press"],
        ),
        (
            vec![("q", "copper"), ("currency", "EUR"), ("max_price", "200")],
            vec!["Copper pot"],
        ),
        (
            vec![("q", "hand"), ("shop", "weavers@peer2.example")],
            vec!["Copper pot"],
        ),
        (
            vec![("q", "iron"), ("in_stock", "true"), ("tag", "kitchen")],
            vec![],
        ),
        (vec![("tag", "kitchen"), ("currency", "GBP")], vec![]),
        // An empty form field is no filter.
        (
            vec![
                ("tag", ""),
                ("currency", ""),
                ("in_stock", ""),
                ("q", "cast"),
            ],
            vec!["Tortilla press"],
        ),
    ];
    for (params, expected) in cases {
        assert_eq!(found(&node, &params).await, expected, "{params:?}");
    }
    let shop = format!("pottery@{domain}");
    assert_eq!(found(&node, &[("shop", &shop)]).await, ["Blue glazed mug"]);

    for (params, field) in [
        (vec![("min_price", "10")], "currency"),
        (vec![("currency", "EUR"), ("max_price", "ten")], "max_price"),
        (
            vec![("currency", "EUR"), ("min_price", "1.005")],
            "min_price",
        ),
        (vec![("currency", "EUR"), ("min_price", "-1")], "min_price"),
        (
            vec![("currency", "EUR"), ("min_price", "9"), ("max_price", "3")],
            "min_price",
        ),
        (vec![("currency", "EURO")], "currency"),
        (vec![("shop", "weavers")], "shop"),
        (vec![("in_stock", "maybe")], "in_stock"),
        (vec![("page", "0")], "page"),
        (vec![("page", "two")], "page"),
        (vec![("per_page", "101")], "per_page"),
    ] {
        assert_invalid(catalog(&node, &params).await, field, &format!("{params:?}")).await;
    }
    node.shutdown().await;
}

#[tokio::test]
async fn pages_carry_totals_and_never_repeat_an_entry() {
    let node = TestNode::spawn().await;
    for n in 1..=25 {
        let title = format!("Beeswax candle {n:02}");
        let tags: &[&str] = if n % 5 == 0 { &["gift"] } else { &[] };
        store(
            &node,
            &remote("peer1.example", n, &title, "Hand poured.", tags),
        )
        .await;
    }
    for q in ["candle", ""] {
        let mut seen = Vec::new();
        for (page, count, has_next) in [(1, 10, true), (2, 10, true), (3, 5, false)] {
            let page_text = page.to_string();
            let body = json_with(
                catalog(&node, &[("q", q), ("per_page", "10"), ("page", &page_text)]).await,
                200,
            )
            .await;
            assert_eq!(titles(&body).len(), count, "{q:?} page {page}");
            assert_eq!(
                (&body["total"], &body["has_next"]),
                (&json!(25), &json!(has_next))
            );
            seen.extend(titles(&body));
        }
        let beyond = json_with(
            catalog(&node, &[("q", q), ("per_page", "10"), ("page", "4")]).await,
            200,
        )
        .await;
        assert_eq!((titles(&beyond).len(), &beyond["total"]), (0, &json!(25)));
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 25, "{q:?}: {seen:?}");
        if q.is_empty() {
            assert_eq!(seen[0], "Beeswax candle 25", "newest first");
        }
    }
    let gifts = json_with(
        catalog(&node, &[("tag", "gift"), ("per_page", "2")]).await,
        200,
    )
    .await;
    assert_eq!((titles(&gifts).len(), &gifts["total"]), (2, &json!(5)));
    node.shutdown().await;
}

/// Every combination of filters answers (on SQLite each picks its own index).
#[tokio::test]
async fn every_combination_of_filters_answers() {
    let (node, _) = market_with_peers().await;
    let options: [&[(&str, &str)]; 8] = [
        &[("q", "copper")],
        &[("q", "co")],
        &[("tag", "kitchen")],
        &[("currency", "EUR")],
        &[("min_price", "1"), ("max_price", "500")],
        &[("shop", "weavers@peer2.example")],
        &[("node", "peer2.example")],
        &[("in_stock", "true")],
    ];
    for mask in 0..(1u32 << options.len()) {
        let mut params: Vec<(&str, &str)> = Vec::new();
        for (i, option) in options.iter().enumerate() {
            if mask & (1 << i) != 0 {
                params.extend_from_slice(option);
            }
        }
        if params.iter().any(|(k, _)| k.ends_with("_price"))
            && !params.iter().any(|(k, _)| *k == "currency")
        {
            continue;
        }
        if mask & 0b11 == 0b11 {
            continue; // one q at a time
        }
        // Copper pot (kitchen, EUR 120.50, weavers@peer2.example, in stock) passes every
        // filter; "co" is too short to match as a prefix and matches nothing.
        let titles = found(&node, &params).await;
        if mask & 0b10 == 0 {
            assert!(
                titles.contains(&"Copper pot".to_string()),
                "{params:?}: {titles:?}"
            );
        } else {
            assert!(titles.is_empty(), "{params:?}: {titles:?}");
        }
    }
    node.shutdown().await;
}

/// A tag on a few entries and one on most are found alike (SQLite reads them differently).
#[tokio::test]
async fn rare_and_common_tags_give_the_same_answers() {
    let node = TestNode::spawn().await;
    for n in 1..=140 {
        let mut tags = vec![];
        if n % 2 == 0 {
            tags.push("common");
        }
        if n % 50 == 0 {
            tags.push("rare");
        }
        let mut item = remote(
            "peer1.example",
            n,
            &format!("Thing {n:03}"),
            "A thing.",
            &tags,
        );
        item.stock = i64::from(n % 3 != 0);
        store(&node, &item).await;
    }
    for n in [2, 50] {
        let id = format!("https://peer1.example/listings/{n}/proposal");
        assert!(
            catalog::delete_remote(&node.ctx, "peer1.example", &id, None)
                .await
                .unwrap()
        );
    }
    for (params, total, first) in [
        (vec![("tag", "rare")], 1, "Thing 100"),
        (vec![("tag", "common")], 68, "Thing 140"),
        (
            vec![("tag", "common"), ("in_stock", "true")],
            45,
            "Thing 140",
        ),
        (vec![("tag", "rare"), ("in_stock", "true")], 1, "Thing 100"),
        (
            vec![("tag", "common"), ("node", "peer1.example")],
            68,
            "Thing 140",
        ),
        (vec![("tag", "common"), ("q", "thing")], 68, "Thing 004"),
    ] {
        let body = json_with(catalog(&node, &params).await, 200).await;
        assert_eq!(body["total"], total, "{params:?}");
        assert_eq!(titles(&body)[0], first, "{params:?}");
    }
    let fifth = json_with(
        catalog(
            &node,
            &[("tag", "common"), ("per_page", "10"), ("page", "5")],
        )
        .await,
        200,
    )
    .await;
    // Newest first: 140, 138, …; the 41st is 60.
    assert_eq!(titles(&fifth)[0], "Thing 060", "{fifth}");
    node.shutdown().await;
}

#[tokio::test]
async fn withdrawn_and_forgotten_entries_are_not_found_and_edits_are() {
    let (node, ana) = market_with_peers().await;
    let scarf = remote("peer1.example", 1, "Woollen scarf", "alpaca", &["winter"]);
    let id =
        json_with(catalog(&node, &[("q", "scarf")]).await, 200).await["items"][0]["id"].clone();

    // A newer version replaces the words.
    let mut edited = scarf.clone();
    edited.title = "Woollen shawl".into();
    edited.updated += chrono::Duration::hours(1);
    store(&node, &edited).await;
    assert!(found(&node, &[("q", "scarf")]).await.is_empty());
    assert_eq!(found(&node, &[("q", "shawl")]).await, ["Woollen shawl"]);

    // Withdrawn at the origin: a tombstone, never found.
    let at = edited.updated + chrono::Duration::hours(1);
    assert!(
        catalog::delete_remote(&node.ctx, "peer1.example", &edited.object_id, Some(at))
            .await
            .unwrap()
    );
    assert!(found(&node, &[("q", "shawl")]).await.is_empty());
    assert!(found(&node, &[("tag", "winter")]).await.is_empty());
    assert!(
        !found(&node, &[])
            .await
            .contains(&"Woollen shawl".to_string())
    );
    let response = node.get(&format!("/api/v1/catalog/{id}"), None).await;
    assert_eq!(response.status(), 404);

    // Our own listing, withdrawn.
    let mine = json_with(catalog(&node, &[("q", "mug")]).await, 200).await;
    let listing = mine["items"][0]["listing_id"].as_str().unwrap().to_string();
    let response = node
        .delete(&format!("/api/v1/listings/{listing}"), Some(&ana.token))
        .await;
    assert_eq!(response.status(), 200);
    assert!(found(&node, &[("q", "mug")]).await.is_empty());

    // A peer removed: its entries are forgotten.
    catalog::purge_origin(&node.ctx, "peer2.example")
        .await
        .unwrap();
    assert!(found(&node, &[("q", "copper")]).await.is_empty());
    let rest = json_with(catalog(&node, &[]).await, 200).await;
    assert_eq!(rest["total"], 0, "{rest}");
    node.shutdown().await;
}

#[tokio::test]
async fn hostile_search_text_never_fails() {
    let (node, _) = market_with_peers().await;
    let long_word = "a".repeat(10 * 1024);
    let long_words = "mug ".repeat(2560);
    let hostile = [
        "\"",
        "\"\"",
        "\"mug",
        "*",
        "mug*",
        "NEAR(",
        "NEAR(mug glazed",
        "NEAR(mug, 2)",
        "-",
        "-mug",
        "mug -glazed",
        ":",
        "title:mug",
        "{title}: mug",
        "(((",
        "mug)",
        "a AND",
        "OR",
        "NOT mug",
        "^mug",
        "'",
        "mug'; DROP TABLE catalog_entries; --",
        "\\",
        "%",
        "_",
        "!mug & |",
        "mug:*",
        "<script>alert(1)</script>",
        "\u{0}",
        "日本",
        "🙂🙂",
        long_word.as_str(),
        long_words.as_str(),
    ];
    for q in hostile {
        for field in ["q", "tag", "shop", "node"] {
            let response = catalog(&node, &[(field, q)]).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert!(
                status == 200 || (400..500).contains(&status),
                "{field}={:.60?}: {status} {text:.200}",
                q
            );
            assert!(text.starts_with('{'), "{field}={:.60?}: {text:.200}", q);
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", q)
            .finish();
        let status = node.get(&format!("/search?{query}"), None).await.status();
        assert!(
            status == 200 || status.is_client_error(),
            "page {q:.60?}: {status}"
        );
    }
    // Operators are words like any other, or nothing: the words still match.
    assert_eq!(found(&node, &[("q", "-mug")]).await, ["Blue glazed mug"]);
    assert_eq!(
        found(&node, &[("q", "NEAR(mug, 2)")]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&node, &[("q", "\"glazed\" mug*")]).await,
        ["Blue glazed mug"]
    );
    assert_eq!(
        found(&node, &[("q", "*")]).await.len(),
        4,
        "no words: everything"
    );
    assert_invalid(catalog(&node, &[("q", &long_word)]).await, "q", "10 KB").await;
    node.shutdown().await;
}

/// GET a page: its status and HTML.
async fn page(node: &TestNode, path: &str) -> (u16, String) {
    let response = node.get(path, None).await;
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/html"),
        "{path}: {content_type}"
    );
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_search_and_entry_pages_render_without_javascript() {
    let (node, _) = market_with_peers().await;
    let mut photo = remote(
        "peer1.example",
        9,
        "<script>alert('x')</script> Rug",
        "Woven <b>by hand</b><script>bad()</script>",
        &["rug"],
    );
    photo.images = vec![CatalogImage {
        url: "https://peer1.example/media/rug.jpg".into(),
        media_type: "image/jpeg".into(),
        alt: "A red rug".into(),
        width: 800,
        height: 600,
        thumbnail: Some("thumb-rug.webp".into()),
        local_thumbnail: None,
        thumbnail_attempts: 0,
    }];
    store(&node, &photo).await;

    let (status, home) = page(&node, "/").await;
    assert_eq!(status, 200);
    assert!(home.contains("href=\"/search\""), "home links to search");

    let (status, html) = page(&node, "/search").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<form") && html.contains("name=\"q\""),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "titles are escaped");
    let text = visible_text(&html);
    assert!(
        text.contains("Woollen scarf") && text.contains("Blue glazed mug"),
        "{text}"
    );

    let (status, html) = page(&node, "/search?q=scarf&in_stock=true").await;
    assert_eq!(status, 200);
    let text = visible_text(&html);
    assert!(text.contains("1 result"), "{text}");
    assert!(
        text.contains("45.00 EUR") && text.contains("2 in stock"),
        "{text}"
    );
    assert!(
        text.contains("The Weavers") && text.contains("@weavers@peer1.example"),
        "{text}"
    );
    assert!(
        text.contains("peer1.example") && !text.contains("Blue glazed mug"),
        "{text}"
    );
    assert!(html.contains("value=\"scarf\""), "the form keeps the words");

    let (_, html) = page(&node, "/search?q=rug").await;
    let thumb = node.ctx.instance.media_url("thumb-rug.webp");
    assert!(html.contains(&format!("src=\"{thumb}\"")), "{html}");
    let at = html.find("/catalog/items/").unwrap();
    let link = &html[at..at + html[at..].find('"').unwrap()];

    let (status, html) = page(&node, link).await;
    assert_eq!(status, 200, "{link}");
    let text = visible_text(&html);
    assert!(
        text.contains("<script>alert('x')</script> Rug"),
        "escaped, shown: {text}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("<b>by hand</b>"),
        "sanitised description kept: {html}"
    );
    assert!(
        text.contains("#rug") && text.contains("See it on peer1.example"),
        "{text}"
    );
    assert!(
        html.contains("href=\"https://peer1.example/listings/9\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://peer1.example/media/rug.jpg\""),
        "{html}"
    );
    assert!(text.contains("45.00 EUR"), "{text}");

    // Paging keeps the search.
    for n in 10..40 {
        store(
            &node,
            &remote("peer3.example", n, &format!("Rug {n}"), "wool", &[]),
        )
        .await;
    }
    let (_, html) = page(&node, "/search?q=rug&node=peer3.example").await;
    let html = html.replace("&#38;", "&").replace("&amp;", "&");
    assert!(
        html.contains("href=\"/search?q=rug&node=peer3.example&page=2\""),
        "{html}"
    );
    let (status, html) = page(&node, "/search?q=rug&node=peer3.example&page=2").await;
    assert_eq!(status, 200);
    assert!(visible_text(&html).contains("30 results, page 2"), "{html}");

    // A refused filter says why, on the page.
    let (status, html) = page(&node, "/search?min_price=5").await;
    assert_eq!(status, 422);
    assert!(visible_text(&html).contains("needs a currency"), "{html}");
    assert!(html.contains("name=\"min_price\" value=\"5\""), "{html}");

    for missing in ["/catalog/items/999999", "/catalog/items/abc"] {
        assert_eq!(page(&node, missing).await.0, 404, "{missing}");
    }
    let mug = &json_with(catalog(&node, &[("q", "mug")]).await, 200).await["items"][0];
    let (status, html) = page(&node, &format!("/catalog/items/{}", mug["id"])).await;
    assert_eq!(status, 200);
    assert!(visible_text(&html).contains("The listing's page"), "{html}");
    node.shutdown().await;
}
