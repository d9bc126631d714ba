//! Deterministic names for synthetic issuers and instruments.

/// The sectors instruments are spread over (first `sectors` of them are used).
pub(crate) const SECTORS: [&str; 10] = [
    "Technology",
    "Financials",
    "Health Care",
    "Energy",
    "Industrials",
    "Consumer Discretionary",
    "Consumer Staples",
    "Utilities",
    "Materials",
    "Communication Services",
];

const STEMS: [&str; 16] = [
    "Aster", "Boreal", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Helix", "Ion", "Juniper",
    "Kestrel", "Lumen", "Meridian", "Nimbus", "Orion", "Pioneer",
];
const TAILS: [&str; 8] = [
    "Systems",
    "Holdings",
    "Labs",
    "Industries",
    "Group",
    "Partners",
    "Works",
    "Dynamics",
];

/// A four-letter ticker unique for every index below 26⁴ (456,976); longer beyond.
pub(crate) fn symbol(index: usize) -> String {
    let mut n = index;
    let mut letters = Vec::new();
    for _ in 0..4 {
        letters.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    let mut s: String = letters.iter().rev().map(|b| char::from(*b)).collect();
    if n > 0 {
        s.push_str(&n.to_string());
    }
    s
}

/// A company name for the issuer with this index.
pub(crate) fn company(index: usize) -> String {
    format!(
        "{} {} {}",
        STEMS[index % STEMS.len()],
        TAILS[(index / STEMS.len()) % TAILS.len()],
        symbol(index)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_unique_and_short() {
        let set: std::collections::BTreeSet<String> = (0..20_000).map(symbol).collect();
        assert_eq!(set.len(), 20_000);
        assert_eq!(symbol(0), "AAAA");
        assert_eq!(symbol(27), "AABB");
    }
}
