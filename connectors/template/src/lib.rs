//! The template connector of enrichd (being written).
