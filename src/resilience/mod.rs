//! What keeps enrichd polite to upstreams and predictable under failure: a circuit breaker, a
//! rate limiter and a "do not call before" mark per connector, checked before every call.

mod circuit;
mod guard;
mod limiter;

pub use circuit::{CircuitBreaker, CircuitState};
pub use guard::{Admission, ConnectorGuard};
pub use limiter::Limiter;
