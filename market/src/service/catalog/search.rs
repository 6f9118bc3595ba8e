//! Full-text search over the catalog, with filters, on either backend.
//!
//! The user's text never reaches a query language as typed: it is cut into words (runs of
//! letters and digits), and each word is quoted for FTS5 or becomes one operand of a
//! PostgreSQL `tsquery`, so quotes, `-`, `*`, `NEAR`, `:` or parentheses cannot cause a syntax
//! error or change the query's meaning. Every word must match (in the title, the tags or the
//! description); the last one also matches as a prefix (`mug` finds `mugs`). Results are ranked
//! by relevance (title above tags above description), or newest first without text; ties go to
//! the lower id, so paging is stable. Tombstones never match.
//!
//! Accents are folded on both backends ("ceramica" finds "Cerámica"): by FTS5's tokenizer on
//! SQLite, by the `unaccent` dictionary in the text search configuration on PostgreSQL, the
//! same for the index and the query. The index itself (FTS5 table, `tsvector` table, covering
//! indexes) is described in the migrations `m20261122_000009_create_catalog_search` and
//! `m20261122_000010_fold_accents_in_search`; the SQL for each backend is in `plan`.

mod plan;

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter};

use super::EntryView;
use crate::{
    Context, Error, Result,
    entities::catalog_entry,
    service::{Page, PageRequest},
    types::{Currency, Money},
};

/// The longest text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Words past this many are ignored (each further word could only narrow the result).
const MAX_TERMS: usize = 16;

/// A catalog search as a client asks for it; every field is optional and they combine with AND.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Words to find in the title, tags or description.
    pub q: Option<String>,
    /// Only entries with this tag (a leading `#` is dropped).
    pub tag: Option<String>,
    /// Only entries priced in this ISO 4217 currency.
    pub currency: Option<String>,
    /// Lowest price, a decimal string in `currency` (which is then required).
    pub min_price: Option<String>,
    /// Highest price, a decimal string in `currency` (which is then required).
    pub max_price: Option<String>,
    /// Only one shop's entries: its actor id, or `handle@node`.
    pub shop: Option<String>,
    /// Only entries from one node (`host` or `host:port`).
    pub node: Option<String>,
    /// Only entries with stock left.
    pub in_stock: bool,
    /// Which page.
    pub page: PageRequest,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            q: None,
            tag: None,
            currency: None,
            min_price: None,
            max_price: None,
            shop: None,
            node: None,
            in_stock: false,
            page: PageRequest {
                page: 1,
                per_page: 20,
            },
        }
    }
}

impl SearchQuery {
    /// Read a search from query parameters (`q`, `tag`, `currency`, `min_price`, `max_price`,
    /// `shop`, `node`, `in_stock`, `page`, `per_page`), as the API and the search page get them.
    /// Empty values count as absent, as an HTML form sends its empty fields; `in_stock` is
    /// `true`/`false` (or `1`, `on`, as a checkbox sends it).
    pub fn from_params(params: &HashMap<String, String>) -> Result<SearchQuery> {
        let text = |name: &str| params.get(name).filter(|v| !v.trim().is_empty()).cloned();
        let number = |name: &str| -> Result<Option<u64>> {
            text(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| Error::invalid(name, "must be a positive whole number"))
                })
                .transpose()
        };
        let in_stock = match text("in_stock").as_deref().map(str::trim) {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(_) => return Err(Error::invalid("in_stock", "must be true or false")),
        };
        Ok(SearchQuery {
            q: text("q"),
            tag: text("tag"),
            currency: text("currency"),
            min_price: text("min_price"),
            max_price: text("max_price"),
            shop: text("shop"),
            node: text("node"),
            in_stock,
            page: PageRequest::parse(number("page")?, number("per_page")?)?,
        })
    }
}

/// How a search names a shop.
#[derive(Debug, PartialEq)]
enum ShopFilter {
    /// The actor id.
    Id(String),
    /// `handle@node`, the handle in lower case.
    Handle { handle: String, node: String },
}

/// A [`SearchQuery`] once checked: the words to find and the filters, all valid.
#[derive(Debug, Default, PartialEq)]
struct Criteria {
    terms: Vec<String>,
    tag: Option<String>,
    currency: Option<&'static str>,
    min_minor: Option<i64>,
    max_minor: Option<i64>,
    shop: Option<ShopFilter>,
    node: Option<String>,
    in_stock: bool,
}

/// A value given as an empty string (an empty form field) counts as not given.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A filter value, which is compared as it is: no control characters (PostgreSQL refuses a
/// NUL in text outright), at most `max` characters.
fn filter_value<'a>(field: &str, value: &'a Option<String>, max: usize) -> Result<Option<&'a str>> {
    let Some(value) = given(value) else {
        return Ok(None);
    };
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(field, format!("at most {max} characters")));
    }
    Ok(Some(value))
}

impl Criteria {
    fn parse(query: &SearchQuery) -> Result<Criteria> {
        let mut criteria = Criteria {
            in_stock: query.in_stock,
            ..Default::default()
        };
        if let Some(q) = given(&query.q) {
            if q.chars().count() > MAX_QUERY_CHARS {
                return Err(Error::invalid(
                    "q",
                    format!("at most {MAX_QUERY_CHARS} characters"),
                ));
            }
            criteria.terms = terms(q);
        }
        if let Some(tag) = filter_value("tag", &query.tag, 100)? {
            let tag = tag.trim_start_matches('#').to_lowercase();
            criteria.tag = Some(tag).filter(|t| !t.is_empty());
        }
        let currency = filter_value("currency", &query.currency, 16)?
            .map(Currency::parse)
            .transpose()?;
        criteria.currency = currency.map(|c| c.code());
        for (field, value, bound) in [
            ("min_price", &query.min_price, &mut criteria.min_minor),
            ("max_price", &query.max_price, &mut criteria.max_minor),
        ] {
            let Some(value) = given(value) else { continue };
            let currency = currency.ok_or_else(|| {
                Error::invalid(
                    "currency",
                    format!("{field} needs a currency: prices in two currencies do not compare"),
                )
            })?;
            let money = Money::parse(value, currency).map_err(|e| match e {
                Error::Invalid { reason, .. } => Error::invalid(field, reason),
                other => other,
            })?;
            *bound = Some(money.minor());
        }
        if let (Some(min), Some(max)) = (criteria.min_minor, criteria.max_minor)
            && min > max
        {
            return Err(Error::invalid("min_price", "must not be above max_price"));
        }
        if let Some(shop) = filter_value("shop", &query.shop, 300)? {
            criteria.shop = Some(parse_shop(shop)?);
        }
        if let Some(node) = filter_value("node", &query.node, 255)? {
            if node.contains(char::is_whitespace) {
                return Err(Error::invalid("node", "a host name, or host:port"));
            }
            criteria.node = Some(node.to_lowercase());
        }
        Ok(criteria)
    }
}

fn parse_shop(shop: &str) -> Result<ShopFilter> {
    if shop.starts_with("https://") || shop.starts_with("http://") {
        return Ok(ShopFilter::Id(shop.to_string()));
    }
    let bad = || Error::invalid("shop", "a shop's id (its URL) or its handle as handle@node");
    let (handle, node) = shop
        .trim_start_matches('@')
        .rsplit_once('@')
        .ok_or_else(bad)?;
    if handle.is_empty() || node.is_empty() {
        return Err(bad());
    }
    Ok(ShopFilter::Handle {
        handle: handle.to_lowercase(),
        node: node.to_lowercase(),
    })
}

/// The words of a query: runs of letters and digits, lower case, first occurrence of each,
/// at most [`MAX_TERMS`]. Everything else separates words, as FTS5's `unicode61` tokenizer
/// does, so no quote or operator survives.
fn terms(q: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in q.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if !word.is_empty() && !terms.contains(&word) {
            terms.push(word);
            if terms.len() == MAX_TERMS {
                break;
            }
        }
    }
    terms
}

/// SQLite: how common a tag is, to choose how to read its entries.
async fn tag_stats(ctx: &Context, tag: &str) -> Result<plan::TagStats> {
    let row = ctx
        .db
        .query_one_raw(plan::tag_stats_sql(tag).statement())
        .await?
        .ok_or_else(|| Error::Internal("tag statistics returned no row".into()))?;
    Ok(plan::TagStats {
        tagged: row.try_get("", "tagged")?,
        gone: row.try_get("", "gone")?,
        top: row.try_get("", "top")?,
    })
}

/// Search the catalog: a page of live entries, best match (or newest) first, and the total.
pub async fn search(ctx: &Context, query: &SearchQuery) -> Result<Page<EntryView>> {
    let criteria = Criteria::parse(query)?;
    let backend = ctx.db.get_database_backend();
    let PageRequest { page, per_page } = query.page;
    let offset = (page - 1) * per_page;

    let plan = if backend == DatabaseBackend::Postgres {
        plan::postgres_plan(&criteria)
    } else {
        let stats = match &criteria.tag {
            Some(tag) if criteria.terms.is_empty() && criteria.shop.is_none() => {
                Some(tag_stats(ctx, tag).await?)
            }
            _ => None,
        };
        plan::sqlite_plan(&criteria, stats.as_ref())
    };
    let window = if plan.count_with_page {
        ", count(*) OVER () AS total"
    } else {
        ""
    };
    let mut select = plan.from_where.wrap(
        &format!("SELECT {} AS id{window}", plan.id),
        &format!(" ORDER BY {}", plan.order),
    );
    select.push_bound(" LIMIT ", per_page as i64);
    select.push_bound(" OFFSET ", offset as i64);
    let found = ctx.db.query_all_raw(select.statement()).await?;
    let ids: Vec<i32> = found
        .iter()
        .map(|row| row.try_get::<i32>("", "id"))
        .collect::<std::result::Result<_, _>>()?;
    let counted = match found.first() {
        Some(row) if plan.count_with_page => Some(row.try_get::<i64>("", "total")?.max(0) as u64),
        _ => None,
    };

    let total = match plan.total.or(counted) {
        Some(total) => total,
        // A short page that is not empty ends the results: no need to count them.
        None if !ids.is_empty() && (ids.len() as u64) < per_page => offset + ids.len() as u64,
        None => {
            let count = plan
                .count
                .unwrap_or_else(|| plan.from_where.wrap("SELECT count(*) AS n", ""));
            let row = ctx
                .db
                .query_one_raw(count.statement())
                .await?
                .ok_or_else(|| Error::Internal("count returned no row".into()))?;
            row.try_get::<i64>("", "n")?.max(0) as u64
        }
    };

    let mut rows = if ids.is_empty() {
        Vec::new()
    } else {
        catalog_entry::Entity::find()
            .filter(catalog_entry::Column::Id.is_in(ids.clone()))
            .all(&ctx.db)
            .await?
    };
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(Page {
        items: rows
            .into_iter()
            .map(|row| EntryView::from_row(ctx, row))
            .collect(),
        page,
        per_page,
        total,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(edit: impl FnOnce(&mut SearchQuery)) -> Result<Criteria> {
        let mut query = SearchQuery::default();
        edit(&mut query);
        Criteria::parse(&query)
    }

    #[test]
    fn words_are_quoted_and_operators_dropped() {
        let t = terms(r#"  Blue "mug" -red NEAR(a b) title:x * (( 日本 Cerámica"#);
        assert_eq!(
            t,
            [
                "blue",
                "mug",
                "red",
                "near",
                "a",
                "b",
                "title",
                "x",
                "日本",
                "cerámica"
            ]
        );
        assert!(terms(r#""*-:()"#).is_empty());
        assert_eq!(terms(&"ab ".repeat(100)), ["ab"]);
        assert_eq!(
            terms(&(0..40).map(|n| format!("w{n} ")).collect::<String>()).len(),
            16
        );
    }

    #[test]
    fn filters_are_checked() {
        let c = parse(|q| {
            q.q = Some(" ".into());
            q.tag = Some("#Pottery".into());
            q.currency = Some("eur".into());
            q.min_price = Some("10".into());
            q.max_price = Some("20.50".into());
            q.shop = Some("@Pottery@Coop.Example".into());
            q.node = Some("".into());
        })
        .unwrap();
        assert_eq!(
            c,
            Criteria {
                tag: Some("pottery".into()),
                currency: Some("EUR"),
                min_minor: Some(1000),
                max_minor: Some(2050),
                shop: Some(ShopFilter::Handle {
                    handle: "pottery".into(),
                    node: "coop.example".into()
                }),
                ..Default::default()
            }
        );
        let field = |r: Result<Criteria>| match r.unwrap_err() {
            Error::Invalid { field, .. } => field,
            other => panic!("{other}"),
        };
        assert_eq!(field(parse(|q| q.min_price = Some("5".into()))), "currency");
        assert_eq!(
            field(parse(|q| q.currency = Some("EURO".into()))),
            "currency"
        );
        let eur = |q: &mut SearchQuery| q.currency = Some("EUR".into());
        assert_eq!(
            field(parse(|q| {
                eur(q);
                q.max_price = Some("1.234".into())
            })),
            "max_price"
        );
        assert_eq!(
            field(parse(|q| {
                eur(q);
                q.min_price = Some("3".into());
                q.max_price = Some("2".into())
            })),
            "min_price"
        );
        assert_eq!(field(parse(|q| q.shop = Some("pottery".into()))), "shop");
        assert_eq!(field(parse(|q| q.q = Some("x".repeat(501)))), "q");
        assert!(parse(|q| q.shop = Some("https://coop.example/shops/a".into())).is_ok());
    }
}
