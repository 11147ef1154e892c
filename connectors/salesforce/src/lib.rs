//! The salesforce connector of enrichd (being written).
