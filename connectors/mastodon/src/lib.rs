//! The mastodon connector of enrichd (being written).
