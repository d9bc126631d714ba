//! The Ledoit–Wolf covariance against scikit-learn's `LedoitWolf` on the committed fixture
//! (`scripts/ledoit-wolf-fixture` wrote it once): every entry and the shrinkage to 1e-10.

use prometheus::engines::covariance::ledoit_wolf;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    days: usize,
    assets: usize,
    returns: Vec<f64>,
    covariance: Vec<f64>,
    shrinkage: f64,
}

#[derive(Deserialize)]
struct Fixture {
    generator: String,
    cases: Vec<Case>,
}

#[test]
fn ledoit_wolf_matches_scikit_learn_to_1e_10() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ledoit_wolf/cases.json"
    ))
    .unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap();
    assert!(fixture.generator.contains("scikit-learn"));
    assert_eq!(fixture.cases.len(), 4);
    for case in &fixture.cases {
        let ours = ledoit_wolf(&case.returns, case.days, case.assets).unwrap();
        assert!(
            (ours.shrinkage - case.shrinkage).abs() < 1e-10,
            "{}: shrinkage {} vs scikit-learn {}",
            case.name,
            ours.shrinkage,
            case.shrinkage
        );
        assert_eq!(ours.matrix.len(), case.covariance.len(), "{}", case.name);
        let worst = ours
            .matrix
            .iter()
            .zip(&case.covariance)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-10, "{}: largest difference {worst:e}", case.name);
        if case.assets > 1 {
            assert!(case.shrinkage > 0.0, "{}: a case that shrinks", case.name);
        }
    }
}
