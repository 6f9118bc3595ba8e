//! The transparency report: its figures equal sums computed here straight from the ledger's
//! lines, for the open period and for a closed one (allocation read from the closing entry);
//! the chart is well-formed XML whose bars have the figures' widths; an empty node answers
//! without dividing by zero.

use std::collections::{BTreeMap, BTreeSet};

use harness::{Member, TestNode, sample_listing};
use market::{
    entities::{ledger_entry, ledger_line},
    service::{ledger, periods},
    types::{Currency, Money},
};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

async fn json_ok(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap()
}

/// xorshift64*: a fixed stream, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Bea's pottery (the sample mug, 28.00 EUR, post at 5.50) and a buyer; the mug's catalog entry.
async fn market(node: &TestNode) -> (Member, Member, i64) {
    let bea = node.member("bea").await;
    node.create_shop(&bea, "pottery", "Bea's Pottery").await;
    let mut body = sample_listing();
    body["stock"] = json!(1000);
    json_ok(node.create_listing(&bea, "pottery", &body).await, 201).await;
    let response = node
        .http
        .put(node.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&bea.token)
        .json(&json!({
            "payment_instructions": "Pay the co-op, reference: your order.",
            "shipping_options": [
                {"name": "Post", "price": "5.50", "currency": "EUR", "regions": ["MX"]},
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ana = node.member("ana").await;
    let found = json_ok(node.get("/api/v1/catalog?q=mug", None).await, 200).await;
    (bea, ana, found["items"][0]["id"].as_i64().unwrap())
}

/// Place an order of `quantity` mugs by post and walk it along `path`.
async fn order(
    node: &TestNode,
    (bea, ana): (&Member, &Member),
    entry: i64,
    quantity: u64,
    path: &[&str],
) {
    let quote = json_ok(
        node.post_json(
            "/api/v1/orders/quote",
            Some(&ana.token),
            &json!({"listing": entry, "quantity": quantity}),
        )
        .await,
        200,
    )
    .await;
    let post = quote["shipping_options"][0]["id"].clone();
    let priced = json_ok(
        node.post_json(
            "/api/v1/orders/quote",
            Some(&ana.token),
            &json!({"listing": entry, "quantity": quantity, "shipping_option": post, "country": "MX"}),
        )
        .await,
        200,
    )
    .await;
    let address = json!({"name": "Ana López", "street": "Calle Alcalá 5", "city": "Oaxaca",
                         "postal_code": "68000", "country": "mx"});
    let placed = json_ok(
        node.post_json(
            "/api/v1/orders",
            Some(&ana.token),
            &json!({"listing": entry, "quantity": quantity, "shipping_option": post,
                    "address": address, "total": priced["total"]}),
        )
        .await,
        201,
    )
    .await;
    let id = placed["id"].as_str().unwrap();
    for state in path {
        let who = if *state == "delivered" || *state == "cancelled" {
            ana
        } else {
            bea
        };
        let response = node
            .post_json(
                &format!("/api/v1/orders/{id}/state"),
                Some(&who.token),
                &json!({"state": state}),
            )
            .await;
        assert_eq!(response.status(), 200, "{state}");
    }
}

/// Sums computed here from the ledger rows, independently of the report's code.
struct Sums {
    lines: Vec<(ledger_entry::Model, ledger_line::Model)>,
}

impl Sums {
    async fn read(node: &TestNode) -> Sums {
        let entries: BTreeMap<i32, ledger_entry::Model> = ledger_entry::Entity::find()
            .all(&node.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let lines = ledger_line::Entity::find()
            .all(&node.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (entries[&l.entry_id].clone(), l))
            .collect();
        Sums { lines }
    }

    /// Σ (credit − debit) of the accounts starting with `prefix` in entries that `keep`.
    fn net_credit(&self, prefix: &str, keep: impl Fn(&ledger_entry::Model) -> bool) -> i64 {
        self.lines
            .iter()
            .filter(|(e, l)| e.currency == "EUR" && keep(e) && l.account.starts_with(prefix))
            .map(|(_, l)| l.credit_minor - l.debit_minor)
            .sum()
    }
}

fn minor(figure: &Value) -> i64 {
    figure["minor"].as_i64().unwrap()
}

/// The report's figures for EUR in `period` equal the ledger's, `keep` selecting its entries.
fn check_figures(c: &Value, sums: &Sums, keep: impl Fn(&ledger_entry::Model) -> bool + Copy) {
    let not_close = |e: &ledger_entry::Model| keep(e) && e.kind != "close";
    let sale = |e: &ledger_entry::Model| keep(e) && e.kind == "sale";
    let sales = -sums.net_credit("assets:cash", |e| sale(e))
        - sums.net_credit("expenses:payment_costs", |e| sale(e));
    assert_eq!(
        minor(&c["sales_total"]),
        sales,
        "sales: cash debited by sales"
    );
    let commission = sums.net_credit("revenue:commission", not_close);
    assert_eq!(minor(&c["commission"]), commission);
    assert_eq!(
        minor(&c["payment_costs"]),
        -sums.net_credit("expenses:payment_costs", not_close)
    );
    assert_eq!(
        minor(&c["operating_costs"]),
        -sums.net_credit("expenses:operating", not_close)
    );
    assert_eq!(
        minor(&c["to_sellers"]),
        sums.net_credit("liabilities:seller_payable:", |e| sale(e))
    );
    let revenue = sums.net_credit("revenue:", not_close);
    let expenses = -sums.net_credit("expenses:", not_close);
    assert_eq!(minor(&c["revenue"]), revenue);
    assert_eq!(minor(&c["expenses"]), expenses);
    assert_eq!(minor(&c["surplus"]), revenue - expenses);
    let sale_entries: BTreeSet<i32> = sums
        .lines
        .iter()
        .filter(|(e, _)| e.currency == "EUR" && sale(e))
        .map(|(e, _)| e.id)
        .collect();
    assert_eq!(c["sales"].as_u64().unwrap() as usize, sale_entries.len());
    // Each figure names the entries it was summed from.
    let traced: BTreeSet<i32> = c["sales_total"]["trace"]["entry_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_i64().unwrap() as i32)
        .collect();
    assert_eq!(traced, sale_entries);
    assert_eq!(
        c["commission"]["trace"]["accounts"],
        json!(["revenue:commission"])
    );
    // Take rate = commission ÷ sales, two decimals.
    let rate = (commission as f64 * 100.0 / sales as f64 * 100.0).round() / 100.0;
    assert_eq!(
        c["take_rate_percent"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        rate
    );
}

/// The chart parses as XML and its first bar's parts are the figures, at their widths.
async fn check_chart(node: &TestNode, period: &str, c: &Value, last: (&str, i64)) {
    let response = node
        .get(
            &format!("/transparency/chart.svg?period={period}&currency=EUR"),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    let text = response.text().await.unwrap();
    let svg = roxmltree::Document::parse(&text).unwrap();
    let root = svg.root_element();
    assert!(root.children().any(|n| n.has_tag_name("title")));
    assert!(root.children().any(|n| n.has_tag_name("desc")));
    let sales = minor(&c["sales_total"]);
    let bar_width: f64 = root.attribute("data-bar-width").unwrap().parse().unwrap();
    assert_eq!(
        root.attribute("data-scale-minor").unwrap(),
        sales.to_string()
    );
    let ours = root
        .descendants()
        .find(|n| n.attribute("data-bar") == Some("0"))
        .unwrap();
    let parts: Vec<(String, i64, f64)> = ours
        .children()
        .filter(|n| n.has_tag_name("rect") && n.attribute("data-minor").is_some())
        .map(|n| {
            (
                n.attribute("class").unwrap().replace("part ", ""),
                n.attribute("data-minor").unwrap().parse().unwrap(),
                n.attribute("width").unwrap().parse().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("sellers", minor(&c["to_sellers"])),
        ("payment", minor(&c["payment_costs"])),
        ("operating", minor(&c["operating_costs"])),
    ];
    for (i, (class, value)) in expected.iter().chain(std::iter::once(&last)).enumerate() {
        let (got_class, got_minor, width) = &parts[i];
        assert_eq!((got_class.as_str(), *got_minor), (*class, *value));
        let want = *value as f64 * bar_width / sales as f64;
        assert!(
            (width - want).abs() < 0.01,
            "{class}: width {width}, want {want}"
        );
    }
    assert!(
        text.contains("Etsy"),
        "the traditional schedule is drawn next to ours"
    );
}

#[tokio::test]
async fn the_report_equals_the_ledger_for_the_open_and_a_closed_period() {
    let node = TestNode::spawn_with(harness::Storage::Default, |c| {
        c.coop.payment_cost_percent = 1.4;
    })
    .await;
    let (bea, ana, entry) = market(&node).await;
    let mut rng = Rng(0x7a5_0f7a_9a15);
    let (mut completed_items, mut totals) = (0, Vec::new());
    for _ in 0..8 {
        let quantity = 1 + rng.below(3);
        let path: &[&str] = match rng.below(4) {
            0 => &["cancelled"],
            1 => &["paid", "shipped", "refunded"],
            _ => &["paid", "shipped", "delivered", "completed"],
        };
        order(&node, (&bea, &ana), entry, quantity, path).await;
        if path.last() == Some(&"completed") {
            completed_items += quantity as i64;
            totals.push(2800 * quantity as i64 + 550);
        }
    }
    assert!(!totals.is_empty());
    let eur = Currency::parse("EUR").unwrap();
    ledger::record_cost(&node.ctx, Money::parse("1.50", eur).unwrap(), "hosting")
        .await
        .unwrap();

    let report = json_ok(node.get("/api/v1/transparency", None).await, 200).await;
    let open = &report["periods"][0];
    assert_eq!(
        (open["label"].as_str(), open["open"].as_bool()),
        (Some("current"), Some(true))
    );
    let c = &open["currencies"][0];
    assert_eq!(c["currency"], "EUR");
    let sums = Sums::read(&node).await;
    check_figures(c, &sums, |_| true);
    assert_eq!(c["items_sold"].as_i64().unwrap(), completed_items);
    assert_eq!(
        c["sales_total"]["minor"].as_i64().unwrap(),
        totals.iter().sum::<i64>()
    );
    assert_eq!(c["allocation"]["status"], "not_yet_allocated");
    // The comparison prices the same orders: the Drivers Co-op's 15 % of each order, rounded
    // per order; the difference is against the commission paid here.
    let drivers = c["comparison"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["schedule"] == "drivers-coop")
        .unwrap();
    let fifteen: i64 = totals.iter().map(|t| ledger::share(*t, 1500)).sum();
    assert_eq!(drivers["total_minor"].as_i64().unwrap(), fifteen);
    assert_eq!(
        drivers["difference_minor"].as_i64().unwrap(),
        fifteen - minor(&c["commission"])
    );
    let etsy = c["comparison"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["schedule"] == "etsy-us")
        .unwrap();
    assert_eq!(
        etsy["rate"]["from"], "USD",
        "its fixed fees in dollars are converted"
    );
    assert_eq!(
        etsy["fees"][1]["source"],
        "https://wise.com/us/blog/how-much-does-etsy-take-per-sale"
    );
    check_chart(&node, "current", c, ("unallocated", minor(&c["surplus"]))).await;

    // The page shows the same figures, the sources and the chart.
    let html = node.get("/transparency", None).await.text().await.unwrap();
    assert!(html.contains(&format!(
        "{} EUR",
        c["sales_total"]["amount"].as_str().unwrap()
    )));
    assert!(html.contains("https://etsy.com/legal/fees"));
    assert!(html.contains(r#"<img src="/transparency/chart.svg?period=current&"#));
    assert!(html.contains("Not allocated yet"));

    // Close the period (the other engineer's service); the report reads its closing entry.
    periods::close(&node.ctx, "root", "2026", None)
        .await
        .unwrap();
    let report = json_ok(node.get("/api/v1/transparency", None).await, 200).await;
    assert_eq!(report["periods"][0]["label"], "current");
    assert_eq!(
        report["periods"][0]["currencies"],
        json!([]),
        "nothing since"
    );
    let closed = &report["periods"][1];
    assert_eq!(
        (closed["label"].as_str(), closed["open"].as_bool()),
        (Some("2026"), Some(false))
    );
    let c = &closed["currencies"][0];
    let sums = Sums::read(&node).await;
    check_figures(c, &sums, |_| true);
    let close = |e: &ledger_entry::Model| e.kind == "close";
    let allocation = &c["allocation"];
    assert_eq!(allocation["status"], "allocated");
    assert_eq!(
        minor(&allocation["reserve"]),
        sums.net_credit("equity:reserve", close)
    );
    let dividends = sums.net_credit("liabilities:dividends_payable:", close);
    assert_eq!(minor(&allocation["dividends"]), dividends);
    assert_eq!(
        minor(&allocation["reserve"]) + dividends,
        minor(&c["surplus"]),
        "the surplus is shared out whole"
    );
    let paid = sums
        .lines
        .iter()
        .filter(|(e, l)| close(e) && l.account.starts_with("liabilities:dividends_payable:"))
        .count();
    assert_eq!(allocation["members_paid"].as_u64().unwrap() as usize, paid);
    assert!(paid >= 1, "bea sold, so bea is paid a dividend");
    check_chart(&node, "2026", c, ("reserve", minor(&allocation["reserve"]))).await;
    let svg = node
        .get("/transparency/chart.svg?period=2026&currency=EUR", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(svg.contains(r#"class="part dividends" "#));
    assert_eq!(
        node.get("/transparency/chart.svg?period=1999", None)
            .await
            .status(),
        404
    );
    assert_eq!(
        node.get("/transparency/chart.svg?currency=%3Cscript%3E", None)
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn an_empty_node_says_no_sales_yet() {
    let node = TestNode::spawn().await;
    let report = json_ok(node.get("/api/v1/transparency", None).await, 200).await;
    assert_eq!(report["periods"].as_array().unwrap().len(), 1);
    assert_eq!(report["periods"][0]["label"], "current");
    assert_eq!(report["periods"][0]["currencies"], json!([]));
    let page = node.get("/transparency", None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("No sales yet"), "{html}");
    assert!(!html.contains("NaN"));
    let home = node.get("/", None).await.text().await.unwrap();
    assert!(
        home.contains(r#"href="/transparency""#),
        "linked from the nav"
    );
    let svg = node.get("/transparency/chart.svg", None).await;
    assert_eq!(svg.status(), 200);
    let text = svg.text().await.unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert!(
        doc.root_element()
            .children()
            .any(|n| n.has_tag_name("desc"))
    );
    assert!(text.contains("No sales yet in EUR"));
}

#[tokio::test]
async fn the_report_is_computed_again_only_when_the_books_change() {
    let node = TestNode::spawn().await;
    let eur = Currency::parse("EUR").unwrap();
    let costs = |report: &Value| report["periods"][0]["currencies"][0]["operating_costs"].clone();
    ledger::record_cost(&node.ctx, Money::parse("1.50", eur).unwrap(), "hosting")
        .await
        .unwrap();
    let first = json_ok(node.get("/api/v1/transparency", None).await, 200).await;
    // Asked again, the page and the JSON come from the same computation.
    // (Long enough for a new computation to carry another time, at any clock precision.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(node.get("/transparency", None).await.status(), 200);
    let again = json_ok(node.get("/api/v1/transparency", None).await, 200).await;
    assert_eq!(again["generated_at"], first["generated_at"]);
    assert_eq!(costs(&again), costs(&first));
    // A new entry: a new report with it.
    ledger::record_cost(&node.ctx, Money::parse("2.25", eur).unwrap(), "domain")
        .await
        .unwrap();
    let after = json_ok(node.get("/api/v1/transparency", None).await, 200).await;
    assert_ne!(after["generated_at"], first["generated_at"]);
    assert_ne!(costs(&after), costs(&first), "{after}");
    // Closing a period: the report has it at once.
    periods::close(&node.ctx, "admin", "2026-Q4", None)
        .await
        .unwrap();
    let closed = json_ok(node.get("/api/v1/transparency", None).await, 200).await;
    let labels: Vec<&str> = closed["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"2026-Q4"), "{labels:?}");
}
