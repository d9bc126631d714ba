//! Fractions printed as percentages, the one way every report of the CLI prints them.
//!
//! A solver's weights carry rounding dust (a weight of `-1e-18` in a long-only book), and
//! Rust prints such a value as `-0.00%`: a reader would take it for a short position. Any
//! value that rounds to zero at two decimals is printed as `0.00%`.

/// `fraction` as a percentage with two decimals (`0.1234` → `12.34%`), never `-0.00%`.
pub(crate) fn pct(fraction: f64) -> String {
    let percent = 100.0 * fraction;
    if percent.abs() < 0.005 {
        // Rounds to zero; drop the sign the dust carries.
        return "0.00%".to_owned();
    }
    format!("{percent:.2}%")
}

#[cfg(test)]
mod tests {
    use super::pct;

    #[test]
    fn fractions_print_as_percentages_with_two_decimals() {
        assert_eq!(pct(0.1234), "12.34%");
        assert_eq!(pct(-0.0346), "-3.46%");
        assert_eq!(pct(1.0), "100.00%");
        assert_eq!(pct(0.0), "0.00%");
    }

    #[test]
    fn rounding_dust_never_prints_as_a_negative_zero() {
        assert_eq!(pct(-1e-18), "0.00%");
        assert_eq!(pct(-0.0), "0.00%");
        assert_eq!(pct(-0.000_049), "0.00%");
        // Just past the rounding boundary the sign is real and kept.
        assert_eq!(pct(-0.000_051), "-0.01%");
    }
}
