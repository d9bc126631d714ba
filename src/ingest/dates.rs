//! Date and timestamp formats accepted in input files.

use chrono::{DateTime, NaiveDate, Utc};

/// Parses `YYYY-MM-DD` or `M/D/YYYY` (US order, as Yahoo exports in some locales).
/// Surrounding whitespace is ignored.
///
/// # Errors
/// A message naming the text and the accepted formats.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim();
    let parsed = if t.contains('/') {
        NaiveDate::parse_from_str(t, "%m/%d/%Y")
    } else {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
    };
    match parsed {
        Ok(d) if (1900..=2200).contains(&chrono::Datelike::year(&d)) => Ok(d),
        Ok(d) => Err(format!("date `{t}` ({d}) is outside 1900..2200")),
        Err(_) => Err(format!(
            "`{t}` is not a date (expected YYYY-MM-DD or M/D/YYYY)"
        )),
    }
}

/// Parses an RFC 3339 timestamp with an explicit offset (`2024-03-01T14:30:00Z`,
/// `2024-03-01T09:30:00-05:00`) into UTC. Timestamps without an offset are refused: their
/// instant is ambiguous, and point-in-time reads depend on it.
///
/// # Errors
/// A message naming the text and the accepted format.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "`{}` is not an RFC 3339 timestamp with offset (e.g. 2024-03-01T14:30:00Z)",
                text.trim()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_and_us_dates_parse_to_the_same_day() {
        assert_eq!(
            parse_date("2024-03-01").unwrap(),
            parse_date("3/1/2024").unwrap()
        );
        assert_eq!(
            parse_date(" 12/31/1999 ").unwrap(),
            NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()
        );
    }

    #[test]
    fn impossible_dates_are_errors() {
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("13/1/2024").is_err());
        assert!(parse_date("20240301").is_err());
        assert!(parse_date("").is_err());
    }

    #[test]
    fn timestamps_need_an_offset() {
        assert!(parse_timestamp("2024-03-01T14:30:00Z").is_ok());
        assert_eq!(
            parse_timestamp("2024-03-01T09:30:00-05:00").unwrap(),
            parse_timestamp("2024-03-01T14:30:00Z").unwrap()
        );
        assert!(parse_timestamp("2024-03-01T14:30:00").is_err());
    }
}
