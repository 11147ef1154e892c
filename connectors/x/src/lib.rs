//! The x connector of enrichd (being written).
