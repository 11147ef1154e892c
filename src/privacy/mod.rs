//! Privacy (PRODUCT.md §9): keyed hashes of identifiers, the suppression list, and the audit
//! trail. Tenancy itself lives in `domain::tenant` (every key enrichd holds about a user is
//! per tenant); encryption at rest in `sealing`.

pub mod audit;
pub mod hashing;
pub mod suppressions;

pub use self::{
    audit::{Action, Audit, AuditEntry},
    hashing::KeyedHasher,
    suppressions::{SuppressError, Suppressions, Verdict},
};
