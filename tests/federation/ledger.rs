//! The co-op's ledger: every completed order of our shops is booked once, balanced, with the
//! commission configured; orders cancelled or refunded before completion book nothing; after a
//! pseudo-random run of orders the books balance and the accounts equal the orders' figures.

use market::service::ledger::{self, Balance};
use serde_json::Value;

use crate::orders::{buyer, json_ok, order_mugs, pottery, seller_orders, step};
use harness::TestNode;

/// xorshift64*: a fixed stream (seed below), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn eur(balances: &std::collections::BTreeMap<(String, String), Balance>, account: &str) -> Balance {
    balances
        .get(&("EUR".to_string(), account.to_string()))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_books_balance_after_a_random_run_of_orders_cancellations_and_refunds() {
    let node = TestNode::spawn_with(harness::Storage::Default, |c| {
        c.coop.payment_cost_percent = 1.4;
    })
    .await;
    let (bea, _) = pottery(&node, 1_000).await;
    let ana = buyer(&node, "ana").await;
    let found = json_ok(node.get("/api/v1/catalog?q=mug", None).await, 200).await;
    let entry = found["items"][0]["id"].as_i64().unwrap();
    let mut rng = Rng(0x5eed_0f7a_9a15);
    let (mut completed_totals, mut completed) = (Vec::new(), 0);
    for _ in 0..16 {
        let quantity = 1 + rng.below(3) as i64;
        let placed: Value = json_ok(order_mugs(&node, &ana, entry, quantity).await, 201).await;
        assert_eq!(placed["state"], "accepted");
        let id = placed["id"].as_str().unwrap().to_string();
        let total =
            (placed["total"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
        let path: &[(&str, bool)] = match rng.below(5) {
            0 => &[],
            1 => &[("cancelled", false)],
            2 => &[("paid", true), ("shipped", true), ("refunded", true)],
            3 => &[("paid", true), ("shipped", true), ("delivered", false)],
            _ => &[
                ("paid", true),
                ("shipped", true),
                ("delivered", false),
                ("completed", true),
            ],
        };
        for (state, by_seller) in path {
            let who = if *by_seller { &bea } else { &ana };
            assert_eq!(
                step(&node, &who.token, &id, state).await.status(),
                200,
                "{state}"
            );
        }
        let booked = ledger::entries_for_order(&node.ctx, &id).await.unwrap();
        if path.last().is_some_and(|(s, _)| *s == "completed") {
            assert_eq!(booked.len(), 1, "a completed order is booked once");
            completed_totals.push(total);
            completed += 1;
        } else {
            assert!(booked.is_empty(), "only completed orders are booked");
        }
    }
    assert!(completed > 0, "the run completed some orders");
    // An operating cost, through the service the CLI uses.
    let hosting =
        market::types::Money::parse("12.00", market::types::Currency::parse("EUR").unwrap())
            .unwrap();
    ledger::record_cost(&node.ctx, hosting, "hosting, November")
        .await
        .unwrap();
    assert!(
        ledger::record_cost(&node.ctx, hosting, " ").await.is_err(),
        "a cost says what for"
    );

    let balances = ledger::trial_balance(&node.ctx).await.unwrap();
    let debits: i64 = balances.values().map(|b| b.debit).sum();
    let credits: i64 = balances.values().map(|b| b.credit).sum();
    assert_eq!(debits, credits, "the books balance: {balances:?}");
    let collected: i64 = completed_totals.iter().sum();
    let commission: i64 = completed_totals
        .iter()
        .map(|t| ledger::share(*t, 500))
        .sum();
    let payment: i64 = completed_totals
        .iter()
        .map(|t| ledger::share(*t, 140))
        .sum();
    assert_eq!(eur(&balances, "revenue:commission").credit, commission);
    assert_eq!(
        eur(&balances, "liabilities:seller_payable:pottery").credit,
        collected - commission
    );
    assert_eq!(eur(&balances, "expenses:payment_costs").debit, payment);
    assert_eq!(eur(&balances, "expenses:operating").debit, 1200);
    // Each founding member paid their 20.00 share into the co-op's cash.
    let shares: Vec<i64> = balances
        .iter()
        .filter(|((c, a), _)| c == "EUR" && a.starts_with("equity:member_shares:"))
        .map(|(_, b)| b.credit - b.debit)
        .collect();
    assert!(
        !shares.is_empty() && shares.iter().all(|s| *s == 2000),
        "{shares:?}"
    );
    let cash = eur(&balances, "assets:cash");
    assert_eq!(
        cash.debit - cash.credit,
        collected - payment - 1200 + shares.iter().sum::<i64>()
    );
    // The seller's inbox agrees: completed orders are the booked ones.
    let done = seller_orders(&node, &bea)
        .await
        .into_iter()
        .filter(|o| o["state"] == "completed")
        .count();
    assert_eq!(done, completed);

    // The CSV has a header and one row per line, and balances too.
    let csv = ledger::export_csv(&node.ctx).await.unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(
        csv.lines().next().unwrap(),
        "entry,booked_at,kind,order,currency,account,debit,credit,memo"
    );
    // Five lines a sale, two for the cost, two for each member share.
    let lines_expected = completed * 5 + 2 + shares.len() * 2;
    assert_eq!(rows.len(), lines_expected);
    let sum = |column: usize| -> i64 {
        rows.iter()
            .map(|r| {
                let f: Vec<&str> = r.split(',').collect();
                (f[column].parse::<f64>().unwrap() * 100.0).round() as i64
            })
            .sum()
    };
    assert_eq!(sum(6), sum(7));
}
