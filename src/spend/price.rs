//! What a connector's calls cost (`connectors.<name>.cost`), in micro-credits (see
//! [`crate::domain::micros`]).

use crate::{config::CostConfig, domain::micros};

/// The price list of one connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    pub per_call: u64,
    pub per_not_found: u64,
}

impl Price {
    pub fn of(cost: &CostConfig) -> Price {
        Price {
            per_call: micros(cost.per_call),
            per_not_found: micros(cost.per_not_found),
        }
    }

    /// Whether calls cost nothing whatever their outcome.
    pub fn is_free(&self) -> bool {
        self.most() == 0
    }

    /// The most one call may cost: what is reserved before it.
    pub fn most(&self) -> u64 {
        self.per_call.max(self.per_not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_a_call_may_cost_is_reserved() {
        let price = Price::of(&CostConfig {
            per_call: 1.0,
            per_not_found: 0.25,
        });
        assert_eq!(price.most(), 1_000_000);
        assert_eq!(price.per_not_found, 250_000);
        assert!(!price.is_free());
        let dearer_misses = Price {
            per_call: 1,
            per_not_found: 3,
        };
        assert_eq!(dearer_misses.most(), 3);
        assert!(Price::default().is_free());
    }
}
