//! The pipedrive connector of enrichd (being written).
