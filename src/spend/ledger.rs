//! What each tenant spends per UTC day (PRODUCT.md §11): reserved before a call, settled
//! after it, counted cluster-wide in Redis (in process without it).
//!
//! A call of a tenant with a budget first reserves the most it may cost, atomically: a Lua
//! script adds it to the day's `total` only if the total stays within the budget, so that
//! replicas spending together cannot overspend. Once the call is over, what it really cost
//! (and the call itself, per connector) is settled: those counts are gathered in process and
//! written every second in one pipeline per tenant (the miss path does not wait for them; a
//! refund reaching Redis a second late only makes the budget stricter for that second).
//! When Redis cannot be asked, a budgeted call is refused: a budget is never overspent.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, SystemTime},
};

use serde::Serialize;

use crate::{
    domain::{Tenant, credits},
    keys::Keys,
    redis_link::RedisLink,
    tasks::Tasks,
};

/// How often settled counts are written to Redis.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How long a day's counts are kept in Redis (yesterday's stay readable for a day).
const DAY_KEY_TTL_SECONDS: u64 = 2 * 86_400;

/// The most tenant-days counted in process at once (tenants an admin names are not
/// configured, so they are not bounded otherwise); budgeted tenants are always counted.
const MAX_TENANT_DAYS: usize = 10_000;

/// Adds `ARGV[1]` to the day's total unless that passes the budget `ARGV[2]`: 1 if added.
const RESERVE: &str = r"
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if total + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'total', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Why a call may not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The tenant's budget for today would be passed.
    Exhausted,
    /// The budget could not be checked (Redis failed): the call is refused rather than risk
    /// overspending.
    Unchecked(String),
}

/// Credits set aside for one call, to settle once it is over.
#[derive(Debug)]
pub struct Reservation {
    tenant: Tenant,
    /// Days since the Unix epoch (UTC).
    day: u64,
    /// What was added to the day's total when reserving (0 without a budget).
    in_total: u64,
}

/// One tenant's counts of one day, in micro-credits.
#[derive(Debug, Clone, Default, PartialEq)]
struct Day {
    /// Spent and reserved (in Redis mode: the change not written yet).
    total: i64,
    /// Calls and cost by connector.
    connectors: BTreeMap<String, (u64, u64)>,
}

impl Day {
    fn add(&mut self, other: &Day) {
        self.total += other.total;
        for (name, (calls, cost)) in &other.connectors {
            let entry = self.connectors.entry(name.clone()).or_default();
            entry.0 += calls;
            entry.1 += cost;
        }
    }
}

/// Today's spend of one tenant, as `GET /v1/usage` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub tenant: String,
    /// The UTC day counted (`YYYY-MM-DD`).
    pub day: String,
    /// Credits spent today, calls still running included (their most).
    pub spent: f64,
    /// The tenant's daily budget; absent when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub budget: Option<f64>,
    /// What is left of it today.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub remaining: Option<f64>,
    /// Calls and credits by connector.
    pub connectors: BTreeMap<String, ConnectorUsage>,
}

/// One connector's calls and cost today.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConnectorUsage {
    pub calls: u64,
    pub cost: f64,
}

/// The spend of every tenant.
pub struct Ledger {
    link: Option<RedisLink>,
    keys: Keys,
    /// Daily budgets in micro-credits (replaced by a configuration reload).
    budgets: RwLock<Arc<BTreeMap<Tenant, u64>>>,
    reserve: redis::Script,
    /// Without Redis, the days' counts; with it, the counts not written yet.
    book: Mutex<HashMap<(Tenant, u64), Day>>,
}

impl Ledger {
    pub fn new(link: Option<RedisLink>, keys: Keys, budgets: BTreeMap<Tenant, u64>) -> Ledger {
        Ledger {
            link,
            keys,
            budgets: RwLock::new(Arc::new(budgets)),
            reserve: redis::Script::new(RESERVE),
            book: Mutex::new(HashMap::new()),
        }
    }

    /// The daily budget of `tenant`, in micro-credits.
    pub fn budget(&self, tenant: &Tenant) -> Option<u64> {
        self.budgets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .copied()
    }

    /// Replace the daily budgets (a configuration reload); today's spend stays counted.
    pub fn set_budgets(&self, budgets: BTreeMap<Tenant, u64>) {
        *self.budgets.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(budgets);
    }

    /// Set `amount` aside for a call of `tenant` today.
    pub async fn reserve(&self, tenant: &Tenant, amount: u64) -> Result<Reservation, Refusal> {
        let mut reservation = Reservation {
            tenant: tenant.clone(),
            day: day_number(SystemTime::now()),
            in_total: 0,
        };
        let Some(budget) = self.budget(tenant) else {
            return Ok(reservation);
        };
        if amount == 0 {
            return Ok(reservation);
        }
        match &self.link {
            Some(link) => {
                let key = self.keys.spend(tenant, &date(reservation.day));
                let mut invocation = self.reserve.key(key);
                invocation.arg(amount).arg(budget).arg(DAY_KEY_TTL_SECONDS);
                match link.script::<i64>(invocation).await {
                    Ok(1) => {}
                    Ok(_) => return Err(Refusal::Exhausted),
                    Err(err) => return Err(Refusal::Unchecked(err.to_string())),
                }
            }
            None => {
                let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
                let day = book.entry((tenant.clone(), reservation.day)).or_default();
                if day.total.saturating_add(amount as i64) > budget as i64 {
                    return Err(Refusal::Exhausted);
                }
                day.total += amount as i64;
            }
        }
        reservation.in_total = amount;
        Ok(reservation)
    }

    /// Record a call of `connector` that cost `charged`, against what was reserved for it.
    pub fn settle(&self, reservation: Reservation, connector: &str, charged: u64) {
        let Reservation {
            tenant,
            day,
            in_total,
        } = reservation;
        let budgeted = self.budget(&tenant).is_some();
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant, day);
        if !book.contains_key(&key) && book.len() >= MAX_TENANT_DAYS && !budgeted {
            tracing::warn!(
                tenant = %key.0,
                "Spend not counted: too many tenants counted at once."
            );
            return;
        }
        let day = book.entry(key).or_default();
        day.total += charged as i64 - in_total as i64;
        match day.connectors.get_mut(connector) {
            Some(entry) => {
                entry.0 += 1;
                entry.1 += charged;
            }
            None => {
                day.connectors.insert(connector.to_owned(), (1, charged));
            }
        }
    }

    /// Today's spend of `tenant`: from Redis (with what this replica has not written yet),
    /// else from this process.
    pub async fn usage(&self, tenant: &Tenant) -> Result<Usage, crate::redis_link::RedisError> {
        let number = day_number(SystemTime::now());
        let day = date(number);
        let key = (tenant.clone(), number);
        let mut counted = match &self.link {
            Some(link) => {
                let mut command = redis::cmd("HGETALL");
                command.arg(self.keys.spend(tenant, &day));
                let fields: Vec<(String, i64)> = link.run(&command).await?;
                day_of(fields)
            }
            None => Day::default(),
        };
        if let Some(local) = self
            .book
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            counted.add(local);
        }
        let spent = counted.total.max(0) as u64;
        let budget = self.budget(tenant);
        Ok(Usage {
            tenant: tenant.to_string(),
            day,
            spent: credits(spent),
            budget: budget.map(credits),
            remaining: budget.map(|b| credits(b.saturating_sub(spent))),
            connectors: counted
                .connectors
                .into_iter()
                .map(|(name, (calls, cost))| {
                    (
                        name,
                        ConnectorUsage {
                            calls,
                            cost: credits(cost),
                        },
                    )
                })
                .collect(),
        })
    }

    /// Write the settled counts to Redis (nothing to do without Redis: the book is the
    /// count). Counts that could not be written are kept for the next time.
    pub async fn flush(&self) {
        let Some(link) = &self.link else {
            return;
        };
        let pending: Vec<((Tenant, u64), Day)> = {
            let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
            book.drain().collect()
        };
        for ((tenant, day), counts) in pending {
            let key = self.keys.spend(&tenant, &date(day));
            let mut pipe = redis::pipe();
            if counts.total != 0 {
                pipe.cmd("HINCRBY")
                    .arg(&key)
                    .arg("total")
                    .arg(counts.total)
                    .ignore();
            }
            for (name, (calls, cost)) in &counts.connectors {
                pipe.cmd("HINCRBY")
                    .arg(&key)
                    .arg(format!("calls:{name}"))
                    .arg(*calls)
                    .ignore();
                pipe.cmd("HINCRBY")
                    .arg(&key)
                    .arg(format!("cost:{name}"))
                    .arg(*cost)
                    .ignore();
            }
            pipe.cmd("EXPIRE")
                .arg(&key)
                .arg(DAY_KEY_TTL_SECONDS)
                .ignore();
            if let Err(err) = link.run::<()>(&pipe).await {
                tracing::warn!(error = %err, "Could not write spend counts; kept for the next try.");
                let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
                book.entry((tenant, day)).or_default().add(&counts);
            }
        }
    }

    /// Write settled counts every second, until shutdown (which flushes once more itself).
    pub fn spawn_flusher(self: &Arc<Self>, tasks: &Tasks) {
        if self.link.is_none() {
            return;
        }
        let this = self.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                this.flush().await;
            }
        });
    }
}

/// A day's counts from the fields of its Redis hash (unknown fields ignored).
fn day_of(fields: Vec<(String, i64)>) -> Day {
    let mut day = Day::default();
    for (field, value) in fields {
        let count = value.max(0) as u64;
        if field == "total" {
            day.total = value;
        } else if let Some(name) = field.strip_prefix("calls:") {
            day.connectors.entry(name.to_owned()).or_default().0 = count;
        } else if let Some(name) = field.strip_prefix("cost:") {
            day.connectors.entry(name.to_owned()).or_default().1 = count;
        }
    }
    day
}

/// Days since the Unix epoch of `at` (UTC): what a day's counts are kept under in process.
fn day_number(at: SystemTime) -> u64 {
    crate::clock::unix_ms(at) / 86_400_000
}

/// The date of day `number`, as `YYYY-MM-DD`.
fn date(number: u64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(number * 86_400);
    humantime::format_rfc3339_seconds(at).to_string()[..10].to_owned()
}

/// Today's date, UTC, as `YYYY-MM-DD`.
pub fn today() -> String {
    date(day_number(SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> Tenant {
        Tenant::parse(name).unwrap()
    }

    fn ledger(budgets: &[(&str, u64)]) -> Ledger {
        Ledger::new(
            None,
            Keys::new("t:"),
            budgets.iter().map(|(t, b)| (tenant(t), *b)).collect(),
        )
    }

    #[tokio::test]
    async fn in_process_a_budget_is_never_passed_and_refunds_come_back() {
        let ledger = ledger(&[("acme", 10)]);
        let acme = tenant("acme");
        let first = ledger.reserve(&acme, 6).await.unwrap();
        assert_eq!(
            ledger.reserve(&acme, 5).await.unwrap_err(),
            Refusal::Exhausted
        );
        // The call cost less than its most: the rest can be spent again.
        ledger.settle(first, "pdl", 2);
        let second = ledger.reserve(&acme, 8).await.unwrap();
        assert_eq!(
            ledger.reserve(&acme, 1).await.unwrap_err(),
            Refusal::Exhausted
        );
        ledger.settle(second, "pdl", 8);
        let usage = ledger.usage(&acme).await.unwrap();
        assert_eq!(usage.spent, credits(10));
        assert_eq!(usage.remaining, Some(0.0));
        assert_eq!(usage.budget, Some(credits(10)));
        assert_eq!(
            usage.connectors["pdl"],
            ConnectorUsage {
                calls: 2,
                cost: credits(10)
            }
        );
        assert_eq!(usage.day, today());
        // A reload that lifts the budget lets the day go on from what was spent.
        ledger.set_budgets([(acme.clone(), 12)].into_iter().collect());
        let third = ledger.reserve(&acme, 2).await.unwrap();
        assert_eq!(
            ledger.reserve(&acme, 1).await.unwrap_err(),
            Refusal::Exhausted
        );
        ledger.settle(third, "pdl", 2);
        ledger.set_budgets(BTreeMap::new());
        assert!(ledger.reserve(&acme, 100).await.is_ok());
        assert_eq!(ledger.usage(&acme).await.unwrap().budget, None);
    }

    #[tokio::test]
    async fn tenants_without_a_budget_are_counted_but_never_refused() {
        let ledger = ledger(&[("acme", 1)]);
        let other = tenant("other");
        for _ in 0..3 {
            let reservation = ledger.reserve(&other, 1_000_000).await.unwrap();
            ledger.settle(reservation, "hubspot", 1_000_000);
        }
        let free = ledger.reserve(&other, 0).await.unwrap();
        ledger.settle(free, "github", 0);
        let usage = ledger.usage(&other).await.unwrap();
        assert_eq!(usage.spent, 3.0);
        assert_eq!(usage.budget, None);
        assert_eq!(usage.remaining, None);
        assert_eq!(usage.connectors["hubspot"].calls, 3);
        assert_eq!(
            usage.connectors["github"],
            ConnectorUsage {
                calls: 1,
                cost: 0.0
            }
        );
        // A free call of a budgeted tenant needs no room in the budget.
        let acme = tenant("acme");
        let paid = ledger.reserve(&acme, 1).await.unwrap();
        assert!(ledger.reserve(&acme, 0).await.is_ok());
        ledger.settle(paid, "x", 1);
        assert_eq!(ledger.usage(&acme).await.unwrap().remaining, Some(0.0));
    }

    #[tokio::test]
    async fn at_most_so_many_tenant_days_are_counted_but_budgeted_tenants_always_are() {
        let ledger = ledger(&[("acme", 10)]);
        for index in 0..MAX_TENANT_DAYS {
            let reservation = ledger
                .reserve(&tenant(&format!("t{index}")), 0)
                .await
                .unwrap();
            ledger.settle(reservation, "github", 0);
        }
        let stranger = tenant("stranger");
        let reservation = ledger.reserve(&stranger, 0).await.unwrap();
        ledger.settle(reservation, "github", 0);
        assert!(ledger.usage(&stranger).await.unwrap().connectors.is_empty());
        // Tenants already counted go on being counted.
        let known = tenant("t7");
        let reservation = ledger.reserve(&known, 0).await.unwrap();
        ledger.settle(reservation, "github", 0);
        assert_eq!(
            ledger.usage(&known).await.unwrap().connectors["github"].calls,
            2
        );
        let acme = tenant("acme");
        let reservation = ledger.reserve(&acme, 4).await.unwrap();
        ledger.settle(reservation, "pdl", 4);
        assert_eq!(
            ledger.usage(&acme).await.unwrap().connectors["pdl"].calls,
            1
        );
    }

    #[test]
    fn redis_hash_fields_read_back_into_a_day() {
        let day = day_of(vec![
            ("total".into(), 7),
            ("calls:pdl".into(), 2),
            ("cost:pdl".into(), 5),
            ("calls:github".into(), 1),
            ("other".into(), 9),
        ]);
        assert_eq!(day.total, 7);
        assert_eq!(day.connectors["pdl"], (2, 5));
        assert_eq!(day.connectors["github"], (1, 0));
        assert_eq!(day.connectors.len(), 2);
    }

    #[test]
    fn days_are_utc_dates() {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(1_795_000_000_500);
        assert_eq!(date(day_number(at)), "2026-11-18");
        let midnight = std::time::UNIX_EPOCH + Duration::from_secs(20_775 * 86_400);
        assert_eq!(day_number(midnight), 20_775);
        assert_eq!(day_number(midnight - Duration::from_millis(1)), 20_774);
        assert_eq!(date(20_775), "2026-11-18");
    }

    #[test]
    fn today_is_a_utc_date() {
        let day = today();
        assert_eq!(day.len(), 10);
        assert_eq!(&day[4..5], "-");
        assert!(day.starts_with("20"));
    }
}
