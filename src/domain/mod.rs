//! Validated request values: handlers receive these, never raw strings.

mod enrich_request;
mod identifiers;

pub use enrich_request::{EnrichRequest, EnrichRequestBody};
pub use identifiers::{UserId, parse_email, parse_handle, parse_phone};

/// A request field that failed validation, named as the caller wrote it (`handles.github`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}
