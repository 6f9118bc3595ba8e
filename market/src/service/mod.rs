//! Services: the operations on the marketplace, each an async fn over the [`crate::Context`].

pub mod accounts;
pub mod catalog;
pub mod checkout;
pub mod deliveries;
pub mod domains;
pub mod followers;
pub mod governance;
pub mod images;
pub mod instance;
pub mod ledger;
pub mod listings;
pub mod membership;
pub mod orders;
pub mod outbox;
pub mod peers;
pub mod periods;
pub mod shops;
pub mod transparency;

/// A page of results plus what is needed to fetch the next one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: u64,
    /// Items per page.
    pub per_page: u64,
    /// Total number of items across all pages.
    pub total: u64,
}

impl<T> Page<T> {
    /// Whether a further page exists.
    pub fn has_next(&self) -> bool {
        self.page * self.per_page < self.total
    }
}

/// A validated page request: page ≥ 1, 1 ≤ per_page ≤ 100.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u64,
    /// Items per page.
    pub per_page: u64,
}

impl PageRequest {
    /// Check client-supplied paging values; absent values take the defaults (page 1, 20 items).
    pub fn parse(page: Option<u64>, per_page: Option<u64>) -> crate::Result<Self> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(20);
        if page == 0 || page > 1_000_000 {
            return Err(crate::Error::invalid(
                "page",
                "must be between 1 and 1000000",
            ));
        }
        if per_page == 0 || per_page > 100 {
            return Err(crate::Error::invalid(
                "per_page",
                "must be between 1 and 100",
            ));
        }
        Ok(PageRequest { page, per_page })
    }
}
