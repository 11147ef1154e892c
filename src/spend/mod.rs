//! Spend control (PRODUCT.md §11): what connector calls cost ([`Price`]), what each tenant
//! spends per day against its budget ([`Ledger`]), and what one request may spend
//! ([`Spend`], its `max_cost`).

mod ledger;
mod price;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

pub use self::{
    ledger::{ConnectorUsage, Ledger, Refusal, Reservation, Usage, today},
    price::Price,
};
use crate::domain::Tenant;

/// What one enrichment may spend, and has: the tenant's budget through the ledger, and the
/// request's own `max_cost`.
pub struct Spend {
    ledger: Arc<Ledger>,
    tenant: Tenant,
    /// The request's `max_cost`, in micro-credits.
    max_cost: Option<u64>,
    /// Reserved and spent by this request so far.
    committed: AtomicU64,
}

/// Credits set aside for one call.
#[derive(Debug)]
pub struct Ticket {
    reservation: Reservation,
    amount: u64,
}

impl Spend {
    pub fn new(ledger: Arc<Ledger>, tenant: Tenant, max_cost: Option<u64>) -> Spend {
        Spend {
            ledger,
            tenant,
            max_cost,
            committed: AtomicU64::new(0),
        }
    }

    /// Set aside the most a call at `price` may cost, within the request's `max_cost` and
    /// the tenant's budget.
    pub async fn reserve(&self, price: Price) -> Result<Ticket, Refusal> {
        let amount = price.most();
        if let Some(max) = self.max_cost {
            self.committed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |committed| {
                    committed.checked_add(amount).filter(|total| *total <= max)
                })
                .map_err(|_| Refusal::Exhausted)?;
        }
        match self.ledger.reserve(&self.tenant, amount).await {
            Ok(reservation) => Ok(Ticket {
                reservation,
                amount,
            }),
            Err(refusal) => {
                if self.max_cost.is_some() {
                    self.committed.fetch_sub(amount, Ordering::AcqRel);
                }
                Err(refusal)
            }
        }
    }

    /// Record that the call `ticket` was reserved for cost `charged` (at most its amount).
    pub fn settle(&self, ticket: Ticket, connector: &str, charged: u64) {
        let charged = charged.min(ticket.amount);
        if self.max_cost.is_some() {
            self.committed
                .fetch_sub(ticket.amount - charged, Ordering::AcqRel);
        }
        self.ledger.settle(ticket.reservation, connector, charged);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::keys::Keys;

    fn spend(max_cost: Option<u64>, budget: Option<u64>) -> Spend {
        let tenant = Tenant::default_tenant();
        let budgets: BTreeMap<Tenant, u64> =
            budget.map(|b| (tenant.clone(), b)).into_iter().collect();
        let ledger = Arc::new(Ledger::new(None, Keys::new("t:"), budgets));
        Spend::new(ledger, tenant, max_cost)
    }

    fn price(per_call: u64, per_not_found: u64) -> Price {
        Price {
            per_call,
            per_not_found,
        }
    }

    #[tokio::test]
    async fn a_max_cost_of_zero_lets_only_free_calls_through() {
        let spend = spend(Some(0), None);
        assert!(spend.reserve(price(0, 0)).await.is_ok());
        assert_eq!(
            spend.reserve(price(1, 0)).await.unwrap_err(),
            Refusal::Exhausted
        );
        assert_eq!(
            spend.reserve(price(0, 1)).await.unwrap_err(),
            Refusal::Exhausted
        );
    }

    #[tokio::test]
    async fn a_request_spends_up_to_its_max_cost_with_refunds_counted() {
        let spend = spend(Some(10), None);
        let first = spend.reserve(price(6, 2)).await.unwrap();
        assert_eq!(
            spend.reserve(price(5, 0)).await.unwrap_err(),
            Refusal::Exhausted
        );
        spend.settle(first, "a", 2);
        let second = spend.reserve(price(8, 0)).await.unwrap();
        assert_eq!(
            spend.reserve(price(1, 0)).await.unwrap_err(),
            Refusal::Exhausted
        );
        // A charge above the reservation is capped at it.
        spend.settle(second, "b", 100);
        assert_eq!(spend.committed.load(Ordering::Acquire), 10);
    }

    #[tokio::test]
    async fn a_refusal_by_the_budget_gives_back_the_requests_share() {
        let spend = spend(Some(10), Some(3));
        assert_eq!(
            spend.reserve(price(4, 0)).await.unwrap_err(),
            Refusal::Exhausted
        );
        assert_eq!(spend.committed.load(Ordering::Acquire), 0);
        let ticket = spend.reserve(price(3, 0)).await.unwrap();
        spend.settle(ticket, "a", 3);
        let usage = spend.ledger.usage(&spend.tenant).await.unwrap();
        assert_eq!(usage.spent, crate::domain::credits(3));
    }
}
