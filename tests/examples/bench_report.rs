//! Transparency report benchmark: how long the report takes to compute as the ledger grows,
//! against the time to read the same ledger rows raw, measured in the same run.
//!
//! ```sh
//! cargo run --release -p tianguis-tests --example bench_report -- [SALES...]
//! ```
//!
//! Default SALES = 1000 10000. For each size, a node on a SQLite file (or a fresh PostgreSQL
//! database when `TEST_DATABASE_URL` is set) gets that many completed orders of one shop
//! (written straight to `orders`, each booked by `ledger::book_sale` like a real completion,
//! 500 to a transaction), one operating cost per 100 sales, and a closed period at the half.
//! Then it prints the median of 5 runs of: reading every ledger entry and line (`raw read`),
//! `transparency::report` in process, the page `/transparency` just after a booking (so the
//! node computes the report again: `page, new`), and, with nothing booked in between, the page,
//! `GET /api/v1/transparency` and the chart (served from the node's cached report), with the
//! ratio of each to the raw read; then the seller's statement for the closed half
//! (`periods::statement`, what the membership page shows per closed period).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use harness::{Storage, TestNode};
use market::{
    db,
    entities::{ledger_entry, ledger_line, order},
    service::{ledger, periods, shops},
    types::{Currency, Money},
};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn time<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    median(samples)
}

async fn seed(node: &TestNode, sales: usize) {
    let bea = node.member("bea").await;
    node.create_shop(&bea, "pottery", "Bea's Pottery").await;
    let shop = shops::get_shop(&node.ctx, "pottery").await.unwrap();
    let eur = Currency::parse("EUR").unwrap();
    let mut done = 0;
    while done < sales {
        let batch = (sales - done).min(500);
        let txn = db::begin_write(&node.ctx.db).await.unwrap();
        for i in done..done + batch {
            let quantity = 1 + (i % 3) as i32;
            let items = 2_800 * i64::from(quantity);
            let now = chrono::Utc::now();
            let row = order::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                agreement_id: Set(None),
                offer_id: Set(format!("{}/offers/{i}", node.base)),
                state: Set("completed".into()),
                buyer_actor: Set(format!("{}/users/ana", node.base)),
                buyer_inbox: Set(format!("{}/users/ana/inbox", node.base)),
                buyer_name: Set("ana".into()),
                buyer_user_id: Set(None),
                shop_actor: Set(shop.ap_id.clone()),
                shop_inbox: Set(format!("{}/inbox", shop.ap_id)),
                shop_name: Set(shop.display_name.clone()),
                shop_id: Set(Some(shop.id)),
                proposal_id: Set(format!("{}/listings/x/proposal", node.base)),
                listing_id: Set(None),
                title: Set("Blue mug".into()),
                quantity: Set(quantity),
                currency: Set("EUR".into()),
                unit_price_minor: Set(2_800),
                items_minor: Set(items),
                shipping_minor: Set(550),
                total_minor: Set(items + 550),
                shipping_option_id: Set("post".into()),
                shipping_name: Set("Post".into()),
                pickup: Set(false),
                address: Set(None),
                payment_instructions: Set("Pay the co-op".into()),
                payment_url: Set(None),
                reason: Set(None),
                paid_at: Set(Some(now)),
                holds_stock: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await
            .unwrap();
            ledger::book_sale(&txn, &node.ctx, &row).await.unwrap();
        }
        txn.commit().await.unwrap();
        for _ in 0..batch / 100 {
            ledger::record_cost(&node.ctx, Money::parse("1.50", eur).unwrap(), "hosting")
                .await
                .unwrap();
        }
        done += batch;
        if done == sales / 2 {
            periods::close(&node.ctx, "operator", "first-half", None)
                .await
                .unwrap();
        }
    }
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("SALES are numbers"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000]
    } else {
        sizes
    };
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite file"
    };
    println!("transparency report on {backend}, median of 5 runs");
    println!(
        "{:>7} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  ratios to raw read (report/page new/page/api/chart)",
        "sales", "lines", "raw read", "report", "page, new", "page", "api", "chart"
    );
    for sales in sizes {
        let node = TestNode::spawn_with(Storage::Durable, |_| {}).await;
        seed(&node, sales).await;
        let lines = ledger_line::Entity::find()
            .all(&node.ctx.db)
            .await
            .unwrap()
            .len();
        let raw = time(5, || async {
            ledger_entry::Entity::find()
                .all(&node.ctx.db)
                .await
                .unwrap();
            ledger_line::Entity::find().all(&node.ctx.db).await.unwrap();
        })
        .await;
        let schedules = node.config.report.load_fee_schedules().unwrap();
        let report = time(5, || async {
            let r = market::service::transparency::report(&node.ctx, &schedules)
                .await
                .unwrap();
            assert!(r.periods.len() == 2);
        })
        .await;
        let get = |path: &'static str| {
            let node = &node;
            move || async move {
                let response = node.get(path, None).await;
                assert_eq!(response.status(), 200, "{path}");
                response.bytes().await.unwrap();
            }
        };
        // After a booking (one cent of costs, not timed) the next request computes the report.
        let eur = Currency::parse("EUR").unwrap();
        let mut fresh = Vec::new();
        for _ in 0..5 {
            ledger::record_cost(&node.ctx, Money::parse("0.01", eur).unwrap(), "bench")
                .await
                .unwrap();
            let start = Instant::now();
            get("/transparency")().await;
            fresh.push(start.elapsed());
        }
        let page_new = median(fresh);
        let page = time(5, get("/transparency")).await;
        let api = time(5, get("/api/v1/transparency")).await;
        let chart = time(5, get("/transparency/chart.svg?period=first-half")).await;
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let ratio = |d: Duration| d.as_secs_f64() / raw.as_secs_f64();
        println!(
            "{sales:>7} {lines:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  {:.1} / {:.1} / {:.2} / {:.2} / {:.2}",
            ms(raw),
            ms(report),
            ms(page_new),
            ms(page),
            ms(api),
            ms(chart),
            ratio(report),
            ratio(page_new),
            ratio(page),
            ratio(api),
            ratio(chart)
        );
        // A member's statement for the closed period (the membership page shows one per closed
        // period): all of the period's sales are this one shop's.
        let statement = time(5, || async {
            let st = periods::statement(&node.ctx, "first-half", "bea")
                .await
                .unwrap();
            assert_eq!(st.lines.len(), 1);
        })
        .await;
        println!(
            "{:>7} statement of the seller for the closed half ({} sales): {}, {:.1} raw reads",
            "",
            sales / 2,
            ms(statement),
            ratio(statement)
        );
        node.shutdown().await;
    }
}
