//! A stateful property test of orders, stock and the ledger on one node: random sequences of
//! place, accept, reject, cancel, pay, ship, deliver, complete, refund, restock, the shop
//! switching to accepting by hand and back, and restarts, driven through the JSON API against a
//! model written here from the rules in the README (not from the node's code). After every step:
//!
//! - each answer is the one the model expects (a step the order's state does not allow is 409,
//!   more than the stock is 409, nothing half-done);
//! - the listing's stock is the model's, and stock is conserved: `stock + quantity held by open
//!   orders = stock set by the seller − quantity shipped` (a cancelled or declined order's items
//!   went back, none twice);
//! - every ledger entry balances, and each completed order is booked exactly once, others never.
//!
//! Runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set. `PROPTEST_CASES` changes the
//! number of sequences (default 12 here); a failure prints the shrunk sequence.

use std::collections::BTreeMap;

use harness::{Member, Storage, TestNode, sample_listing};
use market::entities::{ledger_entry, ledger_line, listing, order};
use proptest::prelude::*;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Offered,
    Accepted,
    Rejected,
    Paid,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
    Refunded,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Offered => "offered",
            State::Accepted => "accepted",
            State::Rejected => "rejected",
            State::Paid => "paid",
            State::Shipped => "shipped",
            State::Delivered => "delivered",
            State::Completed => "completed",
            State::Cancelled => "cancelled",
            State::Refunded => "refunded",
        }
    }

    /// Whether an order in this state holds its items (taken from stock, not yet shipped).
    fn holds_stock(self) -> bool {
        matches!(self, State::Offered | State::Accepted | State::Paid)
    }
}

#[derive(Debug, Clone, Copy)]
enum Who {
    Buyer,
    Seller,
}

#[derive(Debug, Clone)]
enum Op {
    Place(i64),
    /// A step on the order at this index (modulo the orders placed), by this party.
    Step(usize, State, Who),
    Restock(i64),
    ByHand(bool),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let step = prop_oneof![
        Just((State::Accepted, Who::Seller)),
        Just((State::Rejected, Who::Seller)),
        Just((State::Cancelled, Who::Buyer)),
        Just((State::Cancelled, Who::Seller)),
        Just((State::Paid, Who::Seller)),
        Just((State::Shipped, Who::Seller)),
        Just((State::Delivered, Who::Buyer)),
        Just((State::Completed, Who::Seller)),
        Just((State::Refunded, Who::Seller)),
    ];
    prop_oneof![
        4 => (1i64..=4).prop_map(Op::Place),
        8 => (any::<usize>(), step).prop_map(|(i, (to, who))| Op::Step(i, to, who)),
        1 => (0i64..=8).prop_map(Op::Restock),
        1 => any::<bool>().prop_map(Op::ByHand),
        1 => Just(Op::Restart),
    ]
}

/// The rules, as the README states them: who may take which step from where.
fn allowed(from: State, to: State, who: Who, paid: bool) -> bool {
    use State::*;
    let seller = matches!(who, Who::Seller);
    match (from, to) {
        (Offered, Accepted | Rejected) => seller,
        // A buyer may call off an order the shop has not answered yet.
        (Offered, Cancelled) => !seller,
        (Accepted | Paid, Cancelled) => true,
        (Accepted, Paid) | (Paid, Shipped) => seller,
        (Shipped, Delivered) => true,
        (Delivered, Completed) => seller,
        (Shipped | Delivered, Refunded) => seller,
        // Money paid for an order called off goes back.
        (Cancelled, Refunded) => seller && paid,
        _ => false,
    }
}

struct Order {
    id: String,
    quantity: i64,
    state: State,
    paid: bool,
    /// Its items left the shop (it reached `shipped`).
    shipped: bool,
}

#[derive(Default)]
struct Model {
    stock: i64,
    by_hand: bool,
    orders: Vec<Order>,
    /// Stock the seller set, summed over every change they made.
    set_by_seller: i64,
}

struct World {
    node: TestNode,
    seller: Member,
    buyer: Member,
    listing: String,
    entry: i64,
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn world() -> World {
    let node = TestNode::spawn_with(Storage::Durable, |_| {}).await;
    let seller = node.member("bea").await;
    node.create_shop(&seller, "pottery", "Bea's Pottery").await;
    let mut body = sample_listing();
    body["stock"] = json!(6);
    let (status, created) = json_of(node.create_listing(&seller, "pottery", &body).await).await;
    assert_eq!(status, 201, "{created}");
    let response = node
        .http
        .put(node.url("/api/v1/shops/pottery/checkout"))
        .bearer_auth(&seller.token)
        .json(&json!({
            "payment_instructions": "Pay the co-op, reference: your order.",
            "shipping_options": [{"name": "Post", "price": "5.50", "currency": "EUR", "regions": ["MX"]}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let buyer = node.member("ana").await;
    let (_, found) = json_of(node.get("/api/v1/catalog?q=mug", None).await).await;
    World {
        listing: created["id"].as_str().unwrap().to_string(),
        entry: found["items"][0]["id"].as_i64().unwrap(),
        node,
        seller,
        buyer,
    }
}

impl World {
    /// Quote, then place, as a buyer's client does: the status and the order.
    async fn place(&self, quantity: i64) -> (u16, Value) {
        let (_, quote) = json_of(
            self.node
                .post_json(
                    "/api/v1/orders/quote",
                    Some(&self.buyer.token),
                    &json!({"listing": self.entry, "quantity": quantity}),
                )
                .await,
        )
        .await;
        let option = quote["shipping_options"][0]["id"].clone();
        let (status2, priced) = json_of(
            self.node
                .post_json(
                    "/api/v1/orders/quote",
                    Some(&self.buyer.token),
                    &json!({"listing": self.entry, "quantity": quantity,
                            "shipping_option": option, "country": "MX"}),
                )
                .await,
        )
        .await;
        if status2 != 200 {
            // Not enough stock is refused at the quote already.
            return (status2, priced);
        }
        let address = json!({"name": "Ana López", "street": "Calle Alcalá 5", "city": "Oaxaca",
                             "postal_code": "68000", "country": "mx"});
        json_of(
            self.node
                .post_json(
                    "/api/v1/orders",
                    Some(&self.buyer.token),
                    &json!({"listing": self.entry, "quantity": quantity,
                            "shipping_option": option, "address": address,
                            "total": priced["total"]}),
                )
                .await,
        )
        .await
    }

    async fn step(&self, id: &str, to: State, who: Who) -> (u16, Value) {
        let token = match who {
            Who::Buyer => &self.buyer.token,
            Who::Seller => &self.seller.token,
        };
        json_of(
            self.node
                .post_json(
                    &format!("/api/v1/orders/{id}/state"),
                    Some(token),
                    &if matches!(to, State::Cancelled | State::Rejected) {
                        json!({"state": to.name(), "reason": "plans changed"})
                    } else {
                        json!({"state": to.name()})
                    },
                )
                .await,
        )
        .await
    }
}

async fn check(world: &World, model: &Model, after: &Op) {
    let db = &world.node.ctx.db;
    let row = listing::Entity::find_by_id(world.listing.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let stock = i64::from(row.stock);
    assert_eq!(stock, model.stock, "stock after {after:?}");
    let rows: BTreeMap<String, order::Model> = order::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    assert_eq!(rows.len(), model.orders.len(), "orders after {after:?}");
    let mut held = 0;
    let mut shipped = 0;
    for o in &model.orders {
        let row = &rows[&o.id];
        assert_eq!(row.state, o.state.name(), "order {} after {after:?}", o.id);
        assert_eq!(i64::from(row.quantity), o.quantity);
        if o.state.holds_stock() {
            held += o.quantity;
        } else if o.shipped {
            shipped += o.quantity;
        }
    }
    assert_eq!(
        stock + held,
        model.set_by_seller - shipped,
        "stock + held = set by the seller − shipped, after {after:?}"
    );
    // The books: every entry balances; each completed order booked once, no other order.
    let entries = ledger_entry::Entity::find().all(db).await.unwrap();
    let lines = ledger_line::Entity::find().all(db).await.unwrap();
    for entry in &entries {
        let (debit, credit) = lines
            .iter()
            .filter(|l| l.entry_id == entry.id)
            .fold((0, 0), |(d, c), l| (d + l.debit_minor, c + l.credit_minor));
        assert_eq!(debit, credit, "entry {} balances", entry.id);
    }
    for o in &model.orders {
        let booked = entries
            .iter()
            .filter(|e| e.order_id.as_deref() == Some(&o.id) && e.kind == "sale")
            .count();
        let expected = usize::from(o.state == State::Completed);
        assert_eq!(booked, expected, "sale entries of {} ({:?})", o.id, o.state);
    }
}

async fn run(ops: Vec<Op>) {
    let mut world = world().await;
    let mut model = Model {
        stock: 6,
        set_by_seller: 6,
        ..Model::default()
    };
    for op in &ops {
        match op {
            Op::Place(quantity) => {
                let (status, body) = world.place(*quantity).await;
                if *quantity > model.stock {
                    assert_eq!(status, 409, "more than the stock: {body}");
                } else {
                    assert_eq!(status, 201, "placing {quantity}: {body}");
                    let state = if model.by_hand {
                        State::Offered
                    } else {
                        State::Accepted
                    };
                    assert_eq!(body["state"], state.name(), "{body}");
                    model.stock -= quantity;
                    model.orders.push(Order {
                        id: body["id"].as_str().unwrap().to_string(),
                        quantity: *quantity,
                        state,
                        paid: false,
                        shipped: false,
                    });
                }
            }
            Op::Step(index, to, who) => {
                if model.orders.is_empty() {
                    continue;
                }
                let i = index % model.orders.len();
                let (id, from) = (model.orders[i].id.clone(), model.orders[i].state);
                let (status, body) = world.step(&id, *to, *who).await;
                if allowed(from, *to, *who, model.orders[i].paid) {
                    assert_eq!(status, 200, "{from:?} → {to:?} by {who:?}: {body}");
                    let o = &mut model.orders[i];
                    if matches!(to, State::Cancelled | State::Rejected) {
                        model.stock += o.quantity;
                    }
                    o.paid |= *to == State::Paid;
                    o.shipped |= *to == State::Shipped;
                    o.state = *to;
                } else {
                    assert!(
                        status == 409 || status == 403,
                        "{from:?} → {to:?} by {who:?} must be refused: {status} {body}"
                    );
                }
            }
            Op::Restock(stock) => {
                let (status, body) = json_of(
                    world
                        .node
                        .patch_json(
                            &format!("/api/v1/listings/{}", world.listing),
                            Some(&world.seller.token),
                            &json!({"stock": stock}),
                        )
                        .await,
                )
                .await;
                assert_eq!(status, 200, "restock: {body}");
                model.set_by_seller += stock - model.stock;
                model.stock = *stock;
            }
            Op::ByHand(on) => {
                let (status, body) = json_of(
                    world
                        .node
                        .patch_json(
                            "/api/v1/shops/pottery",
                            Some(&world.seller.token),
                            &json!({"accepts_orders_by_hand": on}),
                        )
                        .await,
                )
                .await;
                assert_eq!(status, 200, "by hand: {body}");
                model.by_hand = *on;
            }
            Op::Restart => world.node = world.node.restart().await,
        }
        check(&world, &model, op).await;
    }
    world.node.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12),
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn orders_stock_and_ledger_stay_exact(ops in proptest::collection::vec(op(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(ops));
    }
}
