//! Full-text search over the catalog (to be written).
