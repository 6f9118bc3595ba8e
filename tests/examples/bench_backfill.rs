//! Peer catalog backfill benchmark: node A copies node B's catalog of N listings; prints the
//! time to only read B's catalog feed, the time of the backfill itself, a second full copy of
//! the unchanged catalog, and their ratios, measured in one run.
//!
//! ```sh
//! cargo run --release -p tianguis-tests --example bench_backfill -- [N]
//! ```
//!
//! Default N = 10000. Three nodes run in this process (`harness::TestNode`, so with
//! `federation.debug`: http on loopback, deliveries sent at once), each on a SQLite file
//! (`Storage::Durable`), or each on a fresh PostgreSQL database on the server
//! `TEST_DATABASE_URL` names (dropped afterwards). B is filled with N listings in 10 shops
//! through `market::service::listings::create_listing` (the operator's authority, 4 at a time),
//! so its `/catalog` serves them as it serves any listing. Then, one after the other:
//!
//! 1. **read, unsigned**: `GET /catalog`, then its `first` and every `next` until an empty page,
//!    each body parsed as JSON (a plain `reqwest` client);
//! 2. **read, signed**: the same pages fetched as the copy fetches them,
//!    `activitypub_federation::fetch::fetch_object_http` through A's federation data (signed by
//!    A's instance actor);
//! 3. **backfill**: from `federation::peering::add(A, B)` (discovery, `Follow`, B's `Accept`,
//!    then the copy A starts on it) until A's peer row is `backfilled`, polled every 10 ms;
//! 4. **re-copy, unchanged**: A's cursor for B set back to none, then `peering::sync` called
//!    directly: every page read again, every item found as it is (no writes);
//! 5. **catch-up**: `peering::sync` again, nothing changed: the stored cursor's page only;
//! 6. **ingest alone**: the items read in step 1 stored on node C with `peering::ingest`, one
//!    after the other, with no HTTP for the pages (C fetches each of B's 10 shops once);
//! 7. **database probes** on C: 1,000 `SELECT 1` round trips and 1,000 write transactions of
//!    one row (`market::db::begin_write`, an INSERT into a scratch table, commit), for what one
//!    statement and one commit cost.
//!
//! CPU is this process's (all three nodes and the client; on PostgreSQL the database server's
//! own CPU is not in it). Peak RSS is this process's `VmHWM`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use activitypub_federation::fetch::fetch_object_http;
use federation::peering;
use futures::StreamExt;
use harness::{
    Storage, TestNode,
    procfs::{cpu_seconds, peak_rss},
};
use market::{
    Context,
    entities::peer,
    service::{
        accounts, catalog,
        catalog::Stored,
        listings::{self, ListingDraft},
        peers,
        shops::{self, Authority, NewShop},
    },
    types::{Password, Username},
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::Value;
use url::Url;

const SHOPS: usize = 10;
const FILL_CONCURRENCY: usize = 4;

/// xorshift64*: a fixed, dependency-free stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NOUNS: &[&str] = &[
    "mug",
    "bowl",
    "scarf",
    "blanket",
    "basket",
    "candle",
    "soap",
    "plate",
    "vase",
    "rug",
    "honey",
    "coffee",
    "necklace",
    "earrings",
    "notebook",
    "bag",
    "tea",
    "chocolate",
    "hat",
    "teapot",
    "tray",
    "lamp",
    "pillow",
    "shawl",
    "apron",
    "wallet",
    "belt",
    "poncho",
    "hammock",
    "quilt",
    "socks",
    "jam",
    "salsa",
    "print",
    "planter",
    "pitcher",
    "tote",
    "journal",
    "balm",
];
const MATERIALS: &[&str] = &[
    "stoneware",
    "ceramic",
    "cotton",
    "wool",
    "clay",
    "leather",
    "silver",
    "oak",
    "linen",
    "glass",
    "porcelain",
    "alpaca",
    "copper",
    "walnut",
    "bamboo",
    "beeswax",
    "brass",
    "hemp",
    "silk",
    "cork",
    "terracotta",
];
const ADJECTIVES: &[&str] = &[
    "handmade",
    "blue",
    "small",
    "large",
    "red",
    "green",
    "natural",
    "organic",
    "vintage",
    "rustic",
    "hand-thrown",
    "handwoven",
    "embroidered",
    "glazed",
    "striped",
    "painted",
    "carved",
    "speckled",
    "matte",
    "bright",
];
const PLACES: &[&str] = &[
    "Oaxaca",
    "Chiapas",
    "Puebla",
    "Lisbon",
    "Porto",
    "Granada",
    "Kyoto",
    "Accra",
    "Cusco",
    "Quito",
    "Marrakech",
    "Hanoi",
    "Jaipur",
    "Tbilisi",
];
const CATEGORIES: &[&str] = &[
    "handmade",
    "pottery",
    "textiles",
    "kitchen",
    "home",
    "jewellery",
    "food",
    "gifts",
    "art",
    "clothing",
    "accessories",
    "garden",
    "vintage",
    "local",
    "organic",
    "fairtrade",
];
const SENTENCES: &[&str] = &[
    "Each piece is a little different; colours may vary.",
    "Ships in recycled packaging.",
    "Made in small batches by our **co-operative** of makers.",
    "Care: wipe clean and keep dry.",
    "Care: hand wash only, dry flat.",
    "Dishwasher and microwave safe.",
    "A lovely gift for a birthday, a wedding or for yourself.",
    "Every sale pays a fair wage to the maker.",
    "Ready to ship in two working days.",
    "Made to order: please allow *three weeks*.",
];
const CURRENCIES: &[(&str, u64)] = &[
    ("EUR", 3_000),
    ("USD", 3_500),
    ("MXN", 60_000),
    ("GBP", 2_500),
];

/// Listing `n`: a realistic title, a Markdown description of 2–4 sentences, a price, a stock
/// (one in eight sold out) and 2–4 tags.
fn draft(n: usize, rng: &mut Rng) -> ListingDraft {
    let noun = rng.pick(NOUNS);
    let material = rng.pick(MATERIALS);
    let adjective = rng.pick(ADJECTIVES);
    let place = rng.pick(PLACES);
    let title = match rng.below(4) {
        0 => format!("{adjective} {material} {noun}"),
        1 => format!("{adjective} {noun} from {place}"),
        2 => format!("{material} {noun}, set of {}", 2 + rng.below(4)),
        _ => format!("{noun} in {material} no. {n}"),
    };
    let mut description = format!("A {adjective} {noun} made by hand in {place} from {material}.");
    for _ in 0..1 + rng.below(3) {
        description.push(' ');
        description.push_str(rng.pick(SENTENCES));
    }
    let (currency, typical) = CURRENCIES[rng.below(CURRENCIES.len())];
    let minor = typical / 4 + rng.next() % (typical * 3);
    let price = format!("{}.{:02}", minor / 100, minor % 100);
    let stock = if rng.below(8) == 0 {
        0
    } else {
        1 + rng.below(30) as i64
    };
    let mut tags = vec![
        rng.pick(CATEGORIES).to_string(),
        noun.to_string(),
        material.to_string(),
    ];
    if rng.below(2) == 0 {
        tags.push(rng.pick(CATEGORIES).to_string());
    }
    tags.dedup();
    tags.sort();
    tags.dedup();
    ListingDraft::parse(&title, Some(&description), &price, currency, stock, &tags).unwrap()
}

/// Fill `node` with `n` listings in [`SHOPS`] shops of one member.
async fn fill(node: &TestNode, n: usize) {
    let owner = accounts::create_user(
        &node.ctx,
        &Username::parse("bea").unwrap(),
        &Password::parse(harness::PASSWORD).unwrap(),
        false,
    )
    .await
    .unwrap();
    for s in 0..SHOPS {
        let shop = NewShop::parse(
            &format!("shop{s:02}"),
            &format!("{} workshop {s}", PLACES[s % PLACES.len()]),
            Some("A co-op shop."),
        )
        .unwrap();
        shops::create_shop(&node.ctx, &owner, shop).await.unwrap();
    }
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let drafts: Vec<(usize, ListingDraft)> = (0..n).map(|i| (i, draft(i, &mut rng))).collect();
    let ctx = &node.ctx;
    futures::stream::iter(drafts)
        .map(|(i, draft)| async move {
            let shop = format!("shop{:02}", i % SHOPS);
            listings::create_listing(ctx, Authority::Operator, &shop, draft, vec![])
                .await
                .unwrap();
        })
        .buffer_unordered(FILL_CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
}

/// What reading a whole catalog gave.
struct Read {
    pages: u64,
    items: Vec<Value>,
    seconds: f64,
    cpu: f64,
}

fn first_page(root: &Value) -> Url {
    Url::parse(
        root["first"]
            .as_str()
            .expect("the catalog has a first page"),
    )
    .unwrap()
}

fn page_items(page: &Value) -> Vec<Value> {
    page["orderedItems"].as_array().cloned().unwrap_or_default()
}

fn next_page(page: &Value, items: &[Value]) -> Option<Url> {
    if items.is_empty() {
        return None;
    }
    page["next"].as_str().map(|n| Url::parse(n).unwrap())
}

/// Read every page of `catalog` with a plain, unsigned GET.
async fn read_unsigned(catalog: &str) -> Read {
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let bytes = client
                .get(url)
                .header("accept", "application/activity+json")
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .bytes()
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let cpu = cpu_seconds("self");
    let started = Instant::now();
    let mut cursor = Some(first_page(&get(catalog.to_string()).await));
    let (mut pages, mut all) = (0, Vec::new());
    while let Some(url) = cursor {
        let page = get(url.to_string()).await;
        let items = page_items(&page);
        pages += 1;
        cursor = next_page(&page, &items);
        all.extend(items);
    }
    Read {
        pages,
        items: all,
        seconds: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds("self") - cpu,
    }
}

/// Read every page of `catalog` as the copy does: signed fetches through `data`.
async fn read_signed(data: &activitypub_federation::config::Data<Context>, catalog: &str) -> Read {
    let fetch = |url: Url| async move {
        fetch_object_http::<Context, Value>(&url, &data.reset_request_count())
            .await
            .unwrap()
            .object
    };
    let cpu = cpu_seconds("self");
    let started = Instant::now();
    let mut cursor = Some(first_page(&fetch(Url::parse(catalog).unwrap()).await));
    let (mut pages, mut count) = (0, 0);
    while let Some(url) = cursor {
        let page = fetch(url).await;
        let items = page_items(&page);
        pages += 1;
        count += items.len();
        cursor = next_page(&page, &items);
    }
    assert!(count > 0);
    Read {
        pages,
        items: Vec::new(),
        seconds: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds("self") - cpu,
    }
}

/// One line of the results.
struct Figure {
    what: &'static str,
    pages: u64,
    seconds: f64,
    cpu: f64,
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.replace(['_', ','], "").parse().ok())
        .unwrap_or(10_000);
    let postgres = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    let database = if postgres {
        "PostgreSQL"
    } else {
        "SQLite file"
    };
    let (a, b, c) = tokio::join!(
        TestNode::spawn_with(Storage::Durable, |_| {}),
        TestNode::spawn_with(Storage::Durable, |_| {}),
        TestNode::spawn_with(Storage::Durable, |_| {}),
    );
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("backfill benchmark: {n} listings on node B, {database}, {cores} cores");

    let started = Instant::now();
    fill(&b, n).await;
    let fill_seconds = started.elapsed().as_secs_f64();
    println!(
        "fill B:              {fill_seconds:.1} s ({:.0} listings/s, create_listing × {FILL_CONCURRENCY} at a time)",
        n as f64 / fill_seconds
    );
    let catalog = b.url("/catalog");
    let a_data = a.federation.to_request_data();

    // 1. Read only, unsigned.
    let unsigned = read_unsigned(&catalog).await;
    assert_eq!(unsigned.items.len(), n, "B's catalog serves every listing");

    // 2. Read only, signed as the copy fetches.
    let signed = read_signed(&a_data, &catalog).await;

    // 3. Backfill: add the peer, wait for its row to be backfilled.
    let cpu = cpu_seconds("self");
    let started = Instant::now();
    let added = peering::add(&a_data, &b.base).await.unwrap();
    assert!(added.follow_sent);
    let add_returned = started.elapsed().as_secs_f64();
    let mut accepted_at = None;
    let row = loop {
        let row = peers::find(&a.ctx, &b.domain).await.unwrap().unwrap();
        if accepted_at.is_none() && row.outgoing == peer::outgoing::ACCEPTED {
            accepted_at = Some(started.elapsed().as_secs_f64());
        }
        if row.backfilled {
            break row;
        }
        if let Some(error) = &row.last_error {
            panic!("the copy failed: {error}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the copy took over 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let backfill = Figure {
        what: "backfill (peer add → backfilled)",
        pages: row.pages_read as u64,
        seconds: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds("self") - cpu,
    };
    let accepted_at = accepted_at.unwrap_or(backfill.seconds);
    let copied = catalog::count_by_origin(&a.ctx)
        .await
        .unwrap()
        .get(&b.domain)
        .copied()
        .unwrap_or(0);
    assert_eq!(copied, n as u64, "A holds every listing of B");

    // 4. A second full copy of the unchanged catalog.
    let mut reset: peer::ActiveModel = row.clone().into();
    reset.cursor = Set(None);
    reset.update(&a.ctx.db).await.unwrap();
    let cpu = cpu_seconds("self");
    let started = Instant::now();
    let report = peering::sync(&a_data, row.id, &mut |_| {}).await.unwrap();
    let resync = Figure {
        what: "re-copy, unchanged (cursor reset, sync)",
        pages: report.pages,
        seconds: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds("self") - cpu,
    };
    assert!(!report.busy && report.reached_end, "{report:?}");
    assert_eq!(report.unchanged, n as u64, "{report:?}");

    // 5. Catching up when nothing changed: the stored cursor's page only.
    let started = Instant::now();
    let caught_up = peering::sync(&a_data, row.id, &mut |_| {}).await.unwrap();
    let catch_up_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(caught_up.pages, 1, "{caught_up:?}");

    // 6. Storing the items alone, on node C, without HTTP for the pages.
    let c_data = c.federation.to_request_data();
    let mut shops = HashMap::new();
    let cpu = cpu_seconds("self");
    let started = Instant::now();
    let mut inserted = 0;
    for item in &unsigned.items {
        if let peering::Ingested::Stored(Stored::Inserted) =
            peering::ingest(&c_data, &b.domain, item, &mut shops)
                .await
                .unwrap()
        {
            inserted += 1;
        }
    }
    let ingest = Figure {
        what: "ingest alone (on C, no page fetches)",
        pages: 0,
        seconds: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds("self") - cpu,
    };
    assert_eq!(inserted, n);

    // 7. What a statement costs on C's database: `SELECT 1` round trips, and write
    // transactions of one row (on SQLite `BEGIN IMMEDIATE`, INSERT, `COMMIT`), one at a time.
    const PROBES: u32 = 1000;
    let db = &c.ctx.db;
    let started = Instant::now();
    for _ in 0..PROBES {
        db.execute_unprepared("SELECT 1").await.unwrap();
    }
    let round_trip = started.elapsed() / PROBES;
    db.execute_unprepared("CREATE TABLE bench_probe (n INTEGER)")
        .await
        .unwrap();
    let started = Instant::now();
    for n in 0..PROBES {
        let txn = market::db::begin_write(db).await.unwrap();
        txn.execute_unprepared(&format!("INSERT INTO bench_probe VALUES ({n})"))
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    let one_row_write = started.elapsed() / PROBES;

    let figures = [
        Figure {
            what: "read only, unsigned GETs",
            pages: unsigned.pages,
            seconds: unsigned.seconds,
            cpu: unsigned.cpu,
        },
        Figure {
            what: "read only, signed fetches",
            pages: signed.pages,
            seconds: signed.seconds,
            cpu: signed.cpu,
        },
        backfill,
        resync,
        ingest,
    ];
    println!(
        "{:<42} {:>6} {:>9} {:>12} {:>8}",
        "phase", "pages", "seconds", "listings/s", "CPU s"
    );
    for f in &figures {
        println!(
            "{:<42} {:>6} {:>9.3} {:>12.0} {:>8.2}",
            f.what,
            if f.pages == 0 {
                "-".to_string()
            } else {
                f.pages.to_string()
            },
            f.seconds,
            n as f64 / f.seconds,
            f.cpu
        );
    }
    let [unsigned, signed, backfill, resync, ingest] = &figures;
    println!(
        "backfill steps:      peer add returned at {:.0} ms, accepted at {:.0} ms, backfilled at {:.3} s",
        add_returned * 1e3,
        accepted_at * 1e3,
        backfill.seconds
    );
    println!("catch-up, unchanged: {catch_up_ms:.1} ms (1 page)");
    println!(
        "ratios:              backfill / read unsigned = {:.2}, backfill / read signed = {:.2}",
        backfill.seconds / unsigned.seconds,
        backfill.seconds / signed.seconds
    );
    println!(
        "                     re-copy / read signed = {:.2}, ingest alone / backfill = {:.2}",
        resync.seconds / signed.seconds,
        ingest.seconds / backfill.seconds
    );
    println!(
        "per listing:         read {:.0} µs, backfill {:.0} µs, re-copy {:.0} µs, ingest alone {:.0} µs",
        unsigned.seconds * 1e6 / n as f64,
        backfill.seconds * 1e6 / n as f64,
        resync.seconds * 1e6 / n as f64,
        ingest.seconds * 1e6 / n as f64
    );
    println!(
        "database probes:     SELECT 1 round trip {:.0} µs, one-row write transaction {:.0} µs",
        round_trip.as_secs_f64() * 1e6,
        one_row_write.as_secs_f64() * 1e6
    );
    println!(
        "peak RSS:            {} (this process: three nodes and the client)",
        peak_rss(std::process::id())
    );

    a.shutdown().await;
    b.shutdown().await;
    c.shutdown().await;
}
