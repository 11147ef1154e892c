//! The gravatar connector of enrichd (being written).
