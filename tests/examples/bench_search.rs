//! Catalog search benchmark: 100,000 entries from 20 peer nodes, a fixed mix of searches, and
//! the latency percentiles of `market::service::catalog::search::search` on each backend.
//!
//! ```sh
//! cargo run --release -p tianguis-tests --example bench_search -- [ENTRIES] [--rounds N]
//! ```
//!
//! Defaults 100000 entries and 3 rounds. The database is a fresh SQLite file in a temporary
//! directory (opened with `market::db::connect` and migrated, as the node does), then, if
//! `TEST_DATABASE_URL` names a PostgreSQL server, a fresh database there (dropped afterwards).
//! The entries are written with multi-row INSERTs into `catalog_entries` and
//! `catalog_entry_tags`, so the search index is filled by the same triggers as in production
//! (FTS5 on SQLite, the `catalog_search` table on PostgreSQL); the text is what
//! `upsert_remote` stores (sanitised HTML and its plain text). Origins are `peer01.example` …
//! `peer20.example`, 5,000 entries each from 50 shops; 1 % are tombstones, 14 % sold out.
//! Words, tags and currencies are drawn with a skew, so a few are common and most are rare (the
//! tag `handmade` is on a third of the entries, the word "mug" in 14 %, EUR prices a third),
//! and the searches are drawn the same way.
//!
//! The mix is 300 searches of 7 kinds (see [`mix`]) from a fixed seed. One untimed pass warms
//! the caches; then each round runs every search once, one at a time, in a shuffled order, each
//! timed from the call to the returned page (ids, total, rows, views). `BENCH_SQLITE_FILE=PATH`
//! keeps the SQLite database there (and reuses it if it is already loaded),
//! `BENCH_KEEP_DATABASE=1` keeps the PostgreSQL one and `BENCH_POSTGRES_URL=URL` uses (and
//! migrates, and fills if empty) that database instead of a fresh one; `BENCH_VERBOSE=1`
//! prints every search slower than 10 ms. `BENCH_ONLY=postgres` (or `sqlite`) runs one backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeMap, time::Instant};

use market::{
    Context, Instance,
    entities::{catalog_entry, catalog_entry_tag},
    markdown,
    service::{
        PageRequest,
        catalog::search::{SearchQuery, search},
    },
};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, Set, TransactionTrait,
};

const ORIGINS: usize = 20;
const SHOPS_PER_ORIGIN: usize = 50;
const BATCH: usize = 500;

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
    /// Skewed towards the front of `items` (about 1/(rank+1)), as real vocabularies are.
    fn zipf<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let n = items.len() as f64;
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        items[((n + 1.0).powf(u) - 1.0).floor().min(n - 1.0) as usize]
    }
}

/// Multi-word entries are joined by `_` (and become one tag).
const NOUNS: &str = "mug bowl scarf blanket basket candle soap plate vase rug honey coffee \
    necklace earrings notebook bag tea chocolate hat cup jug teapot tray lamp pillow shawl apron \
    wallet belt bracelet ring sandals poncho comb spoon cutting_board tortilla_press comal \
    molcajete hammock quilt socks mittens beanie jam salsa mezcal print poster card sketchbook \
    planter pot platter pitcher bottle carafe coaster table_runner napkins tote backpack purse \
    keychain bookmark journal calendar puzzle doll kite ornament wreath garland incense \
    diffuser balm lotion shampoo brush broom ladle whisk grater colander skillet kettle thermos \
    tumbler goblet decanter jar canister crock butter_dish salt_cellar sugar_bowl cake_stand \
    serving_board trivet oven_mitt tea_towel dishcloth placemat tablecloth curtain cushion \
    throw bedspread duvet_cover sheet towel bath_mat robe slippers pyjamas dress skirt blouse \
    shirt tunic kimono jacket vest sweater cardigan gloves cap headband hair_clip brooch \
    pendant anklet cufflinks watch_strap sunglasses_case phone_case laptop_sleeve pouch \
    clutch satchel briefcase suitcase tag passport_cover coin_purse lanyard leash collar \
    bird_feeder watering_can trowel seed_kit terrarium bonsai sculpture figurine mask \
    painting photograph zine postcard stationery envelope stamp pen pencil_case ink quill";
const MATERIALS: &str = "stoneware ceramic cotton wool clay leather silver wood linen glass \
    porcelain alpaca copper oak walnut bamboo beeswax brass palm agave hemp silk paper cork \
    terracotta barro_negro maple cherry ash pine olive_wood horn bone shell pewter tin iron \
    steel gold jade turquoise amber obsidian felt denim canvas jute sisal rattan wicker \
    recycled_plastic";
const ADJECTIVES: &str = "handmade blue small large red green black white natural organic \
    vintage rustic hand_thrown handwoven embroidered glazed striped painted carved recycled \
    artisan traditional modern tiny sturdy soft warm speckled matte bright yellow pink purple \
    orange brown grey golden pastel floral geometric minimalist boho colourful dark light \
    heavy lightweight waterproof reversible adjustable personalised unique rare antique \
    upcycled fairtrade vegan refillable compostable";
const PLACES: &str = "Oaxaca Chiapas Puebla Michoacán Yucatán Jalisco Guerrero Veracruz \
    Lisbon Porto Sevilla Granada Valencia Kyoto Osaka Accra Kumasi Lima Cusco Arequipa Bogotá \
    Medellín Quito Cuenca Valparaíso Santiago Montréal Québec Nairobi Mombasa Marrakech Fez \
    Hanoi Hoi_An Jaipur Varanasi Istanbul Tbilisi Yerevan Chiang_Mai";
const CATEGORIES: &str = "handmade pottery textiles kitchen home jewellery food gifts art \
    clothing accessories drinks paper garden vintage local organic fairtrade zerowaste vegan \
    kids baby pets bath beauty wellness stationery books music toys games outdoor travel \
    wedding christmas decor furniture lighting tools crafts sewing knitting";
const SENTENCES: &[&str] = &[
    "A {adjective} {noun} made by hand in {place} from {material}.",
    "Each piece is a little different; colours may vary.",
    "Pairs well with our {other}.",
    "Ships in recycled packaging, wrapped in {material2}.",
    "Made in small batches by our co-operative of {count} makers.",
    "The {material} comes from a supplier near {place}.",
    "Care: wipe clean and keep dry.",
    "Care: hand wash only, dry flat.",
    "Dishwasher and microwave safe.",
    "Oil once a year to keep the {material} supple.",
    "Measures about {count} cm across.",
    "A lovely gift for a birthday, a wedding or for yourself.",
    "Inspired by the markets of {place}.",
    "Finished with a {adjective} glaze.",
    "Every sale pays a fair wage to the maker.",
    "Ready to ship in two working days.",
    "Made to order: please allow three weeks.",
    "Slight marks are part of its {adjective} character.",
    "Part of our {adjective} collection, with a matching {other}.",
];
const CURRENCIES: &[(&str, i64, i64)] = &[
    // code, weight, typical price in minor units
    ("EUR", 35, 3_000),
    ("USD", 20, 3_500),
    ("MXN", 15, 60_000),
    ("GBP", 8, 2_500),
    ("CAD", 6, 4_000),
    ("JPY", 6, 4_000),
    ("BRL", 5, 15_000),
    ("COP", 5, 12_000_000),
];

struct Vocabulary {
    nouns: Vec<&'static str>,
    materials: Vec<&'static str>,
    adjectives: Vec<&'static str>,
    places: Vec<&'static str>,
    categories: Vec<&'static str>,
}

impl Vocabulary {
    fn new() -> Self {
        let words = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
        Vocabulary {
            nouns: words(NOUNS),
            materials: words(MATERIALS),
            adjectives: words(ADJECTIVES),
            places: words(PLACES),
            categories: words(CATEGORIES),
        }
    }
}

fn spaced(word: &str) -> String {
    word.replace('_', " ")
}

fn currency(rng: &mut Rng) -> (&'static str, i64) {
    let total: i64 = CURRENCIES.iter().map(|c| c.1).sum();
    let mut roll = (rng.next() % total as u64) as i64;
    for &(code, weight, typical) in CURRENCIES {
        if roll < weight {
            return (code, typical);
        }
        roll -= weight;
    }
    ("EUR", 3_000)
}

fn price_string(minor: i64, code: &str) -> String {
    match code {
        "JPY" => minor.to_string(),
        _ => format!("{}.{:02}", minor / 100, minor % 100),
    }
}

/// Entry `n` (id `n + 1`) and its tags.
fn entry(
    n: usize,
    v: &Vocabulary,
    rng: &mut Rng,
    now: chrono::DateTime<chrono::Utc>,
) -> (catalog_entry::ActiveModel, Vec<String>) {
    let origin = format!("peer{:02}.example", n % ORIGINS + 1);
    let shop_n = rng.below(SHOPS_PER_ORIGIN) + 1;
    let shop = format!("shop{shop_n:02}");
    let noun = spaced(rng.zipf(&v.nouns));
    let material = spaced(rng.zipf(&v.materials));
    let adjective = spaced(rng.zipf(&v.adjectives));
    let place = spaced(rng.pick(&v.places));
    let title = match rng.below(5) {
        0 => format!("{adjective} {material} {noun}"),
        1 => format!("{adjective} {noun} from {place}"),
        2 => format!("{material} {noun}, set of {}", 2 + rng.below(5)),
        3 => format!("{noun} in {material}"),
        _ => format!("{adjective} {noun}"),
    };
    let mut sentences = vec![SENTENCES[0]];
    for _ in 0..2 + rng.below(4) {
        sentences.push(SENTENCES[1 + rng.below(SENTENCES.len() - 1)]);
    }
    let text = sentences
        .join(" ")
        .replace("{adjective}", &adjective)
        .replace("{noun}", &noun)
        .replace("{place}", &place)
        .replace("{material2}", &spaced(rng.pick(&v.materials)))
        .replace("{material}", &material)
        .replace("{other}", &spaced(rng.pick(&v.nouns)))
        .replace("{count}", &(3 + rng.below(40)).to_string());
    let description_html = markdown::sanitize(&format!("<p>{text}</p>"));
    let mut tags: Vec<String> = vec![
        rng.zipf(&v.categories).to_string(),
        noun.replace(' ', "_"),
        material.replace(' ', "_"),
    ];
    for _ in 0..rng.below(3) {
        tags.push(rng.zipf(&v.categories).to_string());
    }
    let mut unique = Vec::new();
    for tag in tags {
        if !unique.contains(&tag) {
            unique.push(tag);
        }
    }
    let (code, typical) = currency(rng);
    let minor = (typical / 4 + (rng.next() % (typical as u64 * 3)) as i64).max(1);
    let minor = if code == "JPY" || code == "COP" {
        minor / 100 * 100
    } else {
        minor
    };
    let stock = if rng.below(7) == 0 {
        0
    } else {
        1 + rng.below(40) as i32
    };
    let updated = now - chrono::Duration::seconds(rng.below(365 * 86_400) as i64);
    let images: Vec<serde_json::Value> = (0..rng.below(3))
        .map(|i| {
            serde_json::json!({"url": format!("https://{origin}/media/{n}-{i}.jpg"),
                "media_type": "image/jpeg", "alt": format!("{title}, photo {}", i + 1),
                "width": 1200, "height": 900, "thumbnail": format!("thumb-{n}-{i}.webp")})
        })
        .collect();
    let base = format!("https://{origin}");
    let listing = format!("{base}/listings/{n:08x}");
    let model = catalog_entry::ActiveModel {
        id: Set(n as i32 + 1),
        object_id: Set(format!("{listing}/proposal")),
        url: Set(listing),
        listing_id: Set(None),
        origin: Set(origin.clone()),
        shop_id: Set(format!("{base}/shops/{shop}")),
        shop_name: Set(format!("{place} works {shop_n}")),
        shop_handle: Set(shop),
        title: Set(title),
        description_text: Set(markdown::to_text(&description_html)),
        description_html: Set(description_html),
        tags: Set(serde_json::to_string(&unique).unwrap()),
        tags_text: Set(unique.join(" ")),
        price: Set(price_string(minor, code)),
        price_minor: Set(minor),
        currency: Set(code.to_string()),
        stock: Set(stock),
        images: Set(serde_json::to_string(&images).unwrap()),
        thumbs_pending: Set(false),
        published: Set(updated - chrono::Duration::days(3)),
        updated: Set(updated),
        deleted: Set(rng.below(100) == 0),
        received_at: Set(updated),
    };
    (model, unique)
}

async fn load(ctx: &Context, entries: usize) {
    let vocabulary = Vocabulary::new();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let now = chrono::Utc::now();
    for start in (0..entries).step_by(BATCH) {
        let (rows, tags): (Vec<_>, Vec<_>) = (start..(start + BATCH).min(entries))
            .map(|n| entry(n, &vocabulary, &mut rng, now))
            .unzip();
        let tag_rows: Vec<catalog_entry_tag::ActiveModel> = tags
            .iter()
            .enumerate()
            .flat_map(|(i, tags)| {
                tags.iter().map(move |tag| catalog_entry_tag::ActiveModel {
                    entry_id: Set((start + i) as i32 + 1),
                    tag: Set(tag.clone()),
                })
            })
            .collect();
        let txn = ctx.db.begin().await.unwrap();
        catalog_entry::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .unwrap();
        for chunk in tag_rows.chunks(2_000) {
            catalog_entry_tag::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await
                .unwrap();
        }
        txn.commit().await.unwrap();
    }
    if ctx.db.get_database_backend() == DatabaseBackend::Postgres {
        // What autovacuum would soon do on a live node; ids were given explicitly.
        for sql in [
            "SELECT setval(pg_get_serial_sequence('catalog_entries', 'id'), \
             (SELECT max(id) FROM catalog_entries))",
            "VACUUM ANALYZE catalog_entries",
            "VACUUM ANALYZE catalog_entry_tags",
        ] {
            ctx.db.execute_unprepared(sql).await.unwrap();
        }
    }
}

/// The fixed mix: 300 (kind, search) pairs. Words, tags and filters are drawn with the same
/// skew as the entries, so popular words are searched more often.
fn mix() -> Vec<(&'static str, SearchQuery)> {
    let v = Vocabulary::new();
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    let mut out = Vec::new();
    let text = |q: String| SearchQuery {
        q: Some(q),
        ..Default::default()
    };
    let node = |rng: &mut Rng| format!("peer{:02}.example", 1 + rng.below(ORIGINS));
    let all_words: Vec<&str> = [&v.nouns, &v.materials, &v.places, &v.adjectives]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    for _ in 0..60 {
        let word = if rng.below(2) == 0 {
            rng.zipf(&v.nouns)
        } else {
            rng.pick(&all_words)
        };
        out.push(("one word", text(spaced(word))));
    }
    for _ in 0..50 {
        let q = format!("{} {}", rng.zipf(&v.adjectives), rng.zipf(&v.nouns));
        out.push(("two words", text(spaced(&q))));
    }
    for _ in 0..40 {
        let word = rng.pick(&all_words);
        let cut: String = word.chars().take(3 + rng.below(3)).collect();
        out.push(("prefix", text(cut)));
    }
    for _ in 0..50 {
        let (code, typical) = currency(&mut rng);
        let mut q = text(spaced(rng.zipf(&v.nouns)));
        match rng.below(5) {
            0 => {
                q.currency = Some(code.into());
                q.max_price = Some(price_string(typical, code));
            }
            1 => q.in_stock = true,
            2 => q.node = Some(node(&mut rng)),
            3 => {
                q.shop = Some(format!(
                    "shop{:02}@{}",
                    1 + rng.below(SHOPS_PER_ORIGIN),
                    node(&mut rng)
                ))
            }
            _ => q.tag = Some(rng.zipf(&v.categories).into()),
        }
        out.push(("text + filter", q));
    }
    for _ in 0..30 {
        let tag = if rng.below(2) == 0 {
            rng.zipf(&v.categories)
        } else {
            rng.zipf(&v.nouns)
        };
        let q = SearchQuery {
            tag: Some(tag.into()),
            ..Default::default()
        };
        out.push(("tag only", q));
    }
    for _ in 0..40 {
        let (code, typical) = currency(&mut rng);
        let mut q = SearchQuery::default();
        match rng.below(5) {
            0 => {
                q.currency = Some(code.into());
                q.min_price = Some(price_string(typical / 2, code));
                q.max_price = Some(price_string(typical, code));
            }
            1 => {
                q.node = Some(node(&mut rng));
                q.in_stock = true;
            }
            2 => {
                q.shop = Some(format!(
                    "shop{:02}@{}",
                    1 + rng.below(SHOPS_PER_ORIGIN),
                    node(&mut rng)
                ))
            }
            3 => q.in_stock = true,
            _ => {}
        }
        out.push(("no text + filters", q));
    }
    for _ in 0..30 {
        let mut q = if rng.below(2) == 0 {
            text(spaced(rng.zipf(&v.nouns)))
        } else {
            SearchQuery::default()
        };
        q.page = PageRequest::parse(Some(5), Some(20)).unwrap();
        out.push(("page 5", q));
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn run(label: &str, ctx: &Context, entries: usize, rounds: usize) {
    let started = Instant::now();
    if catalog_entry::Entity::find().count(&ctx.db).await.unwrap() == 0 {
        load(ctx, entries).await;
        println!(
            "{label}: loaded {entries} entries in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let verbose = std::env::var_os("BENCH_VERBOSE").is_some();
    let mix = mix();
    let mut hits = 0;
    for (_, query) in &mix {
        hits += search(ctx, query).await.unwrap().total; // warm-up, untimed
    }
    let mut order: Vec<usize> = (0..mix.len()).collect();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut by_kind: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut all = Vec::new();
    for _ in 0..rounds {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &i in &order {
            let (kind, query) = &mix[i];
            let t = Instant::now();
            let page = search(ctx, query).await.unwrap();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert!(page.items.len() as u64 <= page.per_page);
            if verbose && ms > 10.0 {
                println!("slow {ms:7.2} ms, {} found: {kind}: {query:?}", page.total);
            }
            by_kind.entry(kind).or_default().push(ms);
            all.push(ms);
        }
    }
    println!(
        "{label}: {} searches ({rounds} rounds of {} in {} kinds), {:.0} matches a search \
         on average",
        all.len(),
        mix.len(),
        by_kind.len(),
        hits as f64 / mix.len() as f64
    );
    println!(
        "  {:<18} {:>5} {:>8} {:>8} {:>8} {:>8}",
        "kind", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (kind, mut times) in by_kind.into_iter().chain([("all", all)]) {
        times.sort_by(f64::total_cmp);
        println!(
            "  {kind:<18} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            times.len(),
            percentile(&times, 0.50),
            percentile(&times, 0.95),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
    }
}

async fn context(url: &str, dir: &std::path::Path) -> Context {
    let db = market::db::connect(url).await.unwrap();
    market::db::migrate(&db).await.unwrap();
    let instance =
        Instance::new("bench.example", "Bench", false, dir.join("media"), 1 << 20).unwrap();
    Context::new(db, instance)
}

#[tokio::main]
async fn main() {
    let mut entries = 100_000;
    let mut rounds = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--rounds" {
            rounds = args.next().and_then(|n| n.parse().ok()).unwrap_or(rounds);
        } else if let Ok(n) = arg.parse() {
            entries = n;
        }
    }
    println!(
        "catalog search benchmark: {entries} entries from {ORIGINS} nodes, {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let dir = tempfile::tempdir().unwrap();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only != "postgres" {
        let file = std::env::var("BENCH_SQLITE_FILE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| dir.path().join("bench.db"));
        let ctx = context(&format!("sqlite://{}?mode=rwc", file.display()), dir.path()).await;
        run("SQLite", &ctx, entries, rounds).await;
        ctx.db.close().await.unwrap();
    }
    if only == "sqlite" {
        return;
    }

    if let Ok(admin) = std::env::var("TEST_DATABASE_URL")
        && !admin.trim().is_empty()
    {
        if let Ok(url) = std::env::var("BENCH_POSTGRES_URL") {
            let ctx = context(&url, dir.path()).await;
            run("PostgreSQL", &ctx, entries, rounds).await;
            ctx.db.close().await.unwrap();
            return;
        }
        let (url, name) = harness::create_pg_database(admin.trim()).await;
        let ctx = context(&url, dir.path()).await;
        run("PostgreSQL", &ctx, entries, rounds).await;
        ctx.db.close().await.unwrap();
        if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
            println!("kept PostgreSQL database {name}");
            return;
        }
        let admin = sea_orm::Database::connect(admin.trim()).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }
}
