//! Credits, the unit of spend control (PRODUCT.md §11): configured and sent as decimal
//! numbers, counted as whole micro-credits so that reserving and settling add up exactly, in
//! Redis as in process.

/// The most credits a cost, a budget or a request's `max_cost` may be: micro-credits of it
/// stay exact in a Lua number (a double), as Redis scripts count them.
pub const MAX_CREDITS: f64 = 1e9;

/// Micro-credits per credit.
const MICROS: f64 = 1_000_000.0;

/// Whether `credits` is a usable amount: finite, not negative, at most [`MAX_CREDITS`].
pub fn valid_credits(credits: f64) -> bool {
    credits.is_finite() && (0.0..=MAX_CREDITS).contains(&credits)
}

/// Credits as micro-credits (of a checked amount; anything below 0 counts as 0).
pub fn micros(credits: f64) -> u64 {
    (credits.max(0.0) * MICROS).round() as u64
}

/// Micro-credits as credits.
pub fn credits(micros: u64) -> f64 {
    micros as f64 / MICROS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_convert_exactly_at_micro_credit_precision() {
        assert_eq!(micros(1.0), 1_000_000);
        assert_eq!(micros(0.000_001), 1);
        assert_eq!(micros(0.1) * 3, micros(0.3));
        assert_eq!(micros(-1.0), 0);
        assert_eq!(credits(2_500_000), 2.5);
        assert_eq!(micros(MAX_CREDITS), 1_000_000_000_000_000);
    }

    #[test]
    fn usable_amounts_are_finite_and_within_bounds() {
        for good in [0.0, 0.25, MAX_CREDITS] {
            assert!(valid_credits(good), "{good}");
        }
        for bad in [-0.01, MAX_CREDITS * 1.01, f64::NAN, f64::INFINITY] {
            assert!(!valid_credits(bad), "{bad}");
        }
    }
}
