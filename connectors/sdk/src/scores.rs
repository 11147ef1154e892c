//! Scores on a 0..=1 scale derived from counts, so that connectors measuring the same thing
//! (an audience, say) give values that compare across sources and merge sensibly.
//!
//! Reach grows with the order of magnitude of an audience, not with its size: ten followers
//! are to a hundred what a hundred thousand are to a million. Each connector picks how many
//! orders of magnitude make its whole scale (GitHub and Mastodon: six, a million followers; X:
//! seven) and documents it in its crate documentation.

/// How much of a scale of `orders` orders of magnitude `count` covers: `log10(1 + count) /
/// orders`. Not capped: a count of `10^orders` or more gives 1 or more.
pub fn orders_of_magnitude(count: u64, orders: f64) -> f64 {
    (1.0 + count as f64).log10() / orders
}

/// `score` rounded to three decimals, as profiles carry scores.
pub fn round_score(score: f64) -> f64 {
    (score * 1000.0).round() / 1000.0
}

/// Reach on a 0..=1 scale from an audience of `followers`: `min(1, log10(1 + followers) /
/// orders)`, rounded to three decimals. Each order of magnitude adds `1 / orders`;
/// `10^orders` followers is the top of the scale.
///
/// ```
/// use enrichd_sdk::scores::influence;
///
/// // A million followers is the top of a six-order scale; a thousand is half way.
/// assert_eq!(influence(999_999, 6.0), 1.0);
/// assert_eq!(influence(999, 6.0), 0.5);
/// assert_eq!(influence(20, 6.0), 0.22);
/// ```
pub fn influence(followers: u64, orders: f64) -> f64 {
    round_score(orders_of_magnitude(followers, orders).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn influence_grows_with_the_order_of_magnitude_and_is_capped() {
        assert_eq!(influence(0, 6.0), 0.0);
        assert_eq!(influence(9, 6.0), 0.167);
        assert_eq!(influence(999, 6.0), 0.5);
        assert_eq!(influence(99_999, 6.0), 0.833);
        assert_eq!(influence(999_999, 6.0), 1.0);
        assert_eq!(influence(u64::MAX, 6.0), 1.0);
    }

    #[test]
    fn the_number_of_orders_sets_the_top_of_the_scale() {
        assert_eq!(influence(999_999, 7.0), 0.857);
        assert_eq!(influence(9_999_999, 7.0), 1.0);
        assert_eq!(influence(9, 1.0), 1.0);
    }

    #[test]
    fn orders_of_magnitude_are_not_capped_nor_rounded() {
        assert_eq!(orders_of_magnitude(0, 6.0), 0.0);
        assert_eq!(orders_of_magnitude(99, 1.0), 2.0);
        assert_eq!(orders_of_magnitude(9, 3.0), 1.0 / 3.0);
    }

    #[test]
    fn scores_are_rounded_to_three_decimals() {
        assert_eq!(round_score(0.12345), 0.123);
        assert_eq!(round_score(0.9996), 1.0);
        assert_eq!(round_score(0.0), 0.0);
    }
}
