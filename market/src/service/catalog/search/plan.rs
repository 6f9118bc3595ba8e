//! The SQL of a search, one function per backend. Values are always bound, never written into
//! the text; the text is put together from fixed pieces only.

use sea_orm::{DatabaseBackend, Statement, Value};

use super::{Criteria, ShopFilter};

/// A last word shorter than this is matched whole: a short prefix matches a large part of the
/// catalog (`ea` matches every description with "each"), and ranking that many is slow.
const MIN_PREFIX_CHARS: usize = 3;
/// FTS5 `bm25` column weights, in the index's column order (title, description, tags): the
/// proportions of PostgreSQL's default `ts_rank` weights for A (title), C (description) and B
/// (tags).
const SQLITE_RANK: &str = "bm25(catalog_search, 5.0, 1.0, 2.0)";
/// A tag on at least 1/64 of the catalog is common: its newest entries are found sooner by
/// reading all entries newest first than by sorting all of the tag's.
const COMMON_TAG_SHARE: i64 = 64;

fn prefix_last(terms: &[String]) -> bool {
    terms
        .last()
        .is_some_and(|t| t.chars().count() >= MIN_PREFIX_CHARS)
}

/// An FTS5 query: every word a quoted string (so it is never an operator), implicitly ANDed.
pub(super) fn fts5_query(terms: &[String]) -> String {
    let mut out = String::new();
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        // Terms hold only letters and digits, so they cannot contain a `"` to escape.
        out.push('"');
        out.push_str(term);
        out.push('"');
    }
    if prefix_last(terms) {
        out.push('*');
    }
    out
}

/// A PostgreSQL `tsquery` in `to_tsquery` syntax: quoted operands joined by `&`.
pub(super) fn tsquery(terms: &[String]) -> String {
    let mut out = terms
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(" & ");
    if prefix_last(terms) {
        out.push_str(":*");
    }
    out
}

/// SQL with bound values, written for one backend's placeholders.
#[derive(Clone)]
pub(super) struct Sql {
    backend: DatabaseBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(super) fn new(backend: DatabaseBackend, text: &str) -> Sql {
        Sql {
            backend,
            text: text.to_string(),
            values: Vec::new(),
        }
    }

    /// Append `sql`, then a placeholder for `value`.
    pub(super) fn push_bound(&mut self, sql: &str, value: impl Into<Value>) {
        self.values.push(value.into());
        self.text.push_str(sql);
        if self.backend == DatabaseBackend::Postgres {
            self.text.push_str(&format!("${}", self.values.len()));
        } else {
            self.text.push('?');
        }
    }

    /// Append fixed SQL.
    pub(super) fn push(&mut self, sql: &str) {
        self.text.push_str(sql);
    }

    /// The same values after `prefix` and before `suffix`.
    pub(super) fn wrap(&self, prefix: &str, suffix: &str) -> Sql {
        Sql {
            backend: self.backend,
            text: format!("{prefix}{}{suffix}", self.text),
            values: self.values.clone(),
        }
    }

    pub(super) fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// How to find the entries: `SELECT {id} AS id {from_where} ORDER BY {order}`, and their
/// number, unless it is already known.
pub(super) struct Plan {
    pub(super) id: &'static str,
    pub(super) from_where: Sql,
    pub(super) order: String,
    pub(super) total: Option<u64>,
    /// Count the matches in the same query (`count(*) OVER ()`), where finding them costs more
    /// than sorting them.
    pub(super) count_with_page: bool,
    /// How to count the matches, where a query cheaper than `SELECT count(*) {from_where}`
    /// gives the same number; it answers `n`.
    pub(super) count: Option<Sql>,
}

/// How many entries have a tag, for SQLite to choose a plan (see [`tag_stats_sql`]).
pub(super) struct TagStats {
    /// Entries with the tag, tombstones included.
    pub(super) tagged: i64,
    /// Tombstones with the tag.
    pub(super) gone: i64,
    /// The highest entry id: about the size of the catalog.
    pub(super) top: i64,
}

/// Answers `tagged`, `gone` and `top` for [`TagStats`]: a read of the tag's rows in their index,
/// and a look-up of each tombstone's tag, cheap even for a tag on every entry.
pub(super) fn tag_stats_sql(tag: &str) -> Sql {
    let mut sql = Sql::new(DatabaseBackend::Sqlite, "");
    sql.push_bound(
        "SELECT (SELECT count(*) FROM catalog_entry_tags WHERE tag = ",
        tag.to_string(),
    );
    sql.push_bound(
        ") AS tagged, (SELECT count(*) FROM catalog_entries d \
         INDEXED BY idx_catalog_entries_tombstones CROSS JOIN catalog_entry_tags t \
         ON t.entry_id = d.id WHERE d.deleted AND t.tag = ",
        tag.to_string(),
    );
    sql.push(") AS gone, (SELECT coalesce(max(id), 0) FROM catalog_entries) AS top");
    sql
}

/// The filters a row of `catalog_entries e` (or an index covering them) can check.
fn push_facets(sql: &mut Sql, c: &Criteria) {
    if c.in_stock {
        sql.push(" AND e.stock > 0");
    }
    if let Some(currency) = c.currency {
        sql.push_bound(" AND e.currency = ", currency);
    }
    if let Some(min) = c.min_minor {
        sql.push_bound(" AND e.price_minor >= ", min);
    }
    if let Some(max) = c.max_minor {
        sql.push_bound(" AND e.price_minor <= ", max);
    }
    if let Some(node) = &c.node {
        sql.push_bound(" AND e.origin = ", node.clone());
    }
}

/// `{column} IN (the ids of the entries with the tag)`.
fn push_tag(sql: &mut Sql, column: &str, tag: &str) {
    sql.push_bound(
        &format!(" AND {column} IN (SELECT entry_id FROM catalog_entry_tags WHERE tag = "),
        tag.to_string(),
    );
    sql.push(")");
}

/// `{column} IN (the ids of the shop's live entries)`, or without a column, a condition on the
/// shop's columns of `e`.
fn push_shop(sql: &mut Sql, column: Option<&str>, shop: &ShopFilter) {
    let table = match column {
        Some(column) => {
            sql.push(&format!(
                " AND {column} IN (SELECT s.id FROM catalog_entries s WHERE NOT s.deleted"
            ));
            "s"
        }
        None => "e",
    };
    match shop {
        ShopFilter::Id(id) => sql.push_bound(&format!(" AND {table}.shop_id = "), id.clone()),
        ShopFilter::Handle { handle, node } => {
            sql.push_bound(&format!(" AND {table}.origin = "), node.clone());
            sql.push_bound(&format!(" AND {table}.shop_handle = "), handle.clone());
        }
    }
    if column.is_some() {
        sql.push(")");
    }
}

/// SQLite. The index to read is chosen here (`INDEXED BY`; `CROSS JOIN` for the join order;
/// a unary `+` keeps a term from being used as an index constraint), because without
/// `ANALYZE` statistics the planner cannot know that a tag or a currency is common. Rows of
/// `catalog_entries` are large (descriptions, images), so every plan reads narrow indexes and
/// the table only for the page it returns. `tag` is given for a search by tag without words
/// or shop.
pub(super) fn sqlite_plan(c: &Criteria, tag: Option<&TagStats>) -> Plan {
    let mut sql = Sql::new(DatabaseBackend::Sqlite, " FROM ");
    if !c.terms.is_empty() {
        // The full-text index drives (it holds live entries only). A node's entries, or a price
        // range's, are gathered once from their covering index (one short range of it), and
        // each match is looked up in that set; likewise a tag's and a shop's entries, and the
        // sold-out entries (usually fewer than those in stock) for `in_stock`. A currency alone
        // (a third of the catalog, say) is checked per match in the covering index by id.
        sql.push("catalog_search");
        let gathered = if c.node.is_some() {
            Some("idx_catalog_entries_live_origin")
        } else if c.min_minor.is_some() || c.max_minor.is_some() {
            Some("idx_catalog_entries_live_price")
        } else {
            None
        };
        let per_match = gathered.is_none() && c.currency.is_some();
        if per_match {
            sql.push(
                " CROSS JOIN catalog_entries e INDEXED BY idx_catalog_entries_live_facets \
                 ON e.id = catalog_search.rowid",
            );
        }
        sql.push_bound(" WHERE catalog_search MATCH ", fts5_query(&c.terms));
        if let Some(index) = gathered {
            sql.push(&format!(
                " AND +catalog_search.rowid IN (SELECT e.id FROM catalog_entries e \
                 INDEXED BY {index} WHERE NOT e.deleted"
            ));
            push_facets(&mut sql, c);
            sql.push(")");
        } else {
            if c.in_stock {
                sql.push(
                    " AND +catalog_search.rowid NOT IN (SELECT s.id FROM catalog_entries s \
                     INDEXED BY idx_catalog_entries_sold_out WHERE s.stock <= 0 AND NOT s.deleted)",
                );
            }
            if per_match {
                sql.push(" AND NOT e.deleted");
                push_facets(
                    &mut sql,
                    &Criteria {
                        currency: c.currency,
                        ..Default::default()
                    },
                );
            }
        }
        if let Some(tag) = &c.tag {
            push_tag(&mut sql, "+catalog_search.rowid", tag);
        }
        if let Some(shop) = &c.shop {
            push_shop(&mut sql, Some("+catalog_search.rowid"), shop);
        }
        return Plan {
            id: "catalog_search.rowid",
            from_where: sql,
            order: format!("{SQLITE_RANK}, catalog_search.rowid"),
            total: None,
            count_with_page: false,
            count: None,
        };
    }
    let only_stock = c.currency.is_none() && c.node.is_none();
    let scan_for_tag =
        c.shop.is_none() && only_stock && tag.is_some_and(|t| t.tagged * COMMON_TAG_SHARE >= t.top);
    // A shop has few entries: its index. A common tag: every entry newest first, until a page
    // has the tag. Another tag: its entries, sorted by the covering index keyed by id. Else the
    // covering index for the node, the price or the date.
    let index = if c.shop.is_some() {
        None
    } else if c.tag.is_some() && !scan_for_tag {
        Some("idx_catalog_entries_live_facets")
    } else if c.node.is_some() {
        Some("idx_catalog_entries_live_origin")
    } else if c.currency.is_some() {
        Some("idx_catalog_entries_live_price")
    } else {
        Some("idx_catalog_entries_live_updated")
    };
    sql.push("catalog_entries e");
    if let Some(index) = index {
        sql.push(&format!(" INDEXED BY {index}"));
    }
    sql.push(" WHERE NOT e.deleted");
    if let Some(shop) = &c.shop {
        push_shop(&mut sql, Some("e.id"), shop);
    }
    match &c.tag {
        Some(tag) if scan_for_tag => {
            sql.push_bound(
                " AND EXISTS (SELECT 1 FROM catalog_entry_tags t \
                 WHERE t.entry_id = e.id AND t.tag = ",
                tag.clone(),
            );
            sql.push(")");
        }
        Some(tag) => push_tag(
            &mut sql,
            if c.shop.is_some() { "+e.id" } else { "e.id" },
            tag,
        ),
        None => {}
    }
    push_facets(&mut sql, c);
    // By tag alone: the tag's rows less its tombstones.
    let tag_only = only_stock && !c.in_stock && c.shop.is_none();
    Plan {
        id: "e.id",
        from_where: sql,
        order: "e.updated DESC, e.id DESC".into(),
        total: tag
            .filter(|_| tag_only)
            .map(|t| (t.tagged - t.gone).max(0) as u64),
        count_with_page: false,
        count: None,
    }
}

/// PostgreSQL: the narrow `catalog_search` table (id and `tsvector` of each live entry) and its
/// GIN index, with the `tianguis_search` configuration (`simple` with accents folded), see
/// migration `m20261122_000010_fold_accents_in_search`; the planner has statistics. A text
/// search ranks every match, so it counts them in the same pass. The rank is computed inside a
/// fenced subquery (`OFFSET 0`): otherwise it is computed above `count(*) OVER ()`, which then
/// keeps each match's whole vector and spills them to disk. Filters on `catalog_entries` are
/// sets of ids gathered from its narrow partial indexes, never a look-up of each match's row.
pub(super) fn postgres_plan(c: &Criteria) -> Plan {
    if c.terms.is_empty() {
        return postgres_browse(c);
    }
    let mut sql = Sql::new(
        DatabaseBackend::Postgres,
        " FROM (SELECT s.id, ts_rank(s.vector, query) AS rank FROM catalog_search s",
    );
    sql.push_bound(
        " CROSS JOIN to_tsquery('tianguis_search'::regconfig, ",
        tsquery(&c.terms),
    );
    sql.push(") AS query WHERE s.vector @@ query");
    let gathered =
        c.currency.is_some() || c.min_minor.is_some() || c.max_minor.is_some() || c.node.is_some();
    if gathered {
        sql.push(" AND s.id IN (SELECT e.id FROM catalog_entries e WHERE NOT e.deleted");
        push_facets(&mut sql, c);
        sql.push(")");
    } else if c.in_stock {
        sql.push(
            " AND s.id NOT IN (SELECT d.id FROM catalog_entries d \
             WHERE d.stock <= 0 AND NOT d.deleted)",
        );
    }
    if let Some(tag) = &c.tag {
        push_tag(&mut sql, "s.id", tag);
    }
    if let Some(shop) = &c.shop {
        push_shop(&mut sql, Some("s.id"), shop);
    }
    sql.push(" OFFSET 0) AS m");
    Plan {
        id: "m.id",
        from_where: sql,
        order: "m.rank DESC, m.id".into(),
        total: None,
        count_with_page: true,
        count: None,
    }
}

/// PostgreSQL without words: newest first. A tag alone is counted from the tag's index less
/// its tombstones, not by joining a third of the catalog to the live entries.
fn postgres_browse(c: &Criteria) -> Plan {
    let mut sql = Sql::new(
        DatabaseBackend::Postgres,
        " FROM catalog_entries e WHERE NOT e.deleted",
    );
    if let Some(tag) = &c.tag {
        push_tag(&mut sql, "e.id", tag);
    }
    if let Some(shop) = &c.shop {
        push_shop(&mut sql, None, shop);
    }
    push_facets(&mut sql, c);
    let tag_only = c.shop.is_none()
        && !c.in_stock
        && c.currency.is_none()
        && c.min_minor.is_none()
        && c.max_minor.is_none()
        && c.node.is_none();
    let count = c.tag.as_ref().filter(|_| tag_only).map(|tag| {
        let mut count = Sql::new(DatabaseBackend::Postgres, "");
        count.push_bound(
            "SELECT count(*) AS n FROM catalog_entry_tags t WHERE t.tag = ",
            tag.clone(),
        );
        count.push(
            " AND NOT EXISTS (SELECT 1 FROM catalog_entries d \
             WHERE d.deleted AND d.id = t.entry_id)",
        );
        count
    });
    Plan {
        id: "e.id",
        from_where: sql,
        order: "e.updated DESC, e.id DESC".into(),
        total: None,
        count_with_page: false,
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::super::terms;
    use super::*;

    #[test]
    fn words_become_quoted_operands() {
        assert_eq!(fts5_query(&terms("blue mug")), r#""blue" "mug"*"#);
        assert_eq!(fts5_query(&terms("blue mu")), r#""blue" "mu""#);
        assert_eq!(
            fts5_query(&terms(r#"a"b NEAR(c) d*"#)),
            r#""a" "b" "near" "c" "d""#
        );
        assert_eq!(tsquery(&terms("Blue mug's")), "'blue' & 'mug' & 's'");
        assert_eq!(tsquery(&terms("blue mug")), "'blue' & 'mug':*");
        assert_eq!(tsquery(&terms("x & !y | 'z':*")), "'x' & 'y' & 'z'");
    }

    #[test]
    fn user_values_are_bound_not_written() {
        let c = Criteria {
            terms: terms("mug"),
            tag: Some("x' OR 1=1 --".into()),
            node: Some("evil\"".into()),
            ..Default::default()
        };
        for plan in [sqlite_plan(&c, None), postgres_plan(&c)] {
            assert!(!plan.from_where.text.contains("OR 1=1"));
            assert!(!plan.from_where.text.contains("evil"));
            assert!(!plan.from_where.text.contains("mug"));
            assert_eq!(plan.from_where.values.len(), 3);
        }
    }
}
