//! The http connector of enrichd (being written).
