//! The portfolio engine's core on seeded return panels: optimality (KKT conditions read
//! back from the solver's multipliers), every method inside every constraint, and hard
//! limits that fail closed.

use prometheus::engines::covariance::ledoit_wolf;
use prometheus::engines::portfolio::qp::{Constraints, solve};
use prometheus::engines::portfolio::{
    Method, PortfolioConfig, PortfolioError, PortfolioInputs, PortfolioName, WeightCap, feasible,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

const SECTORS: [&str; 3] = ["Energy", "Tech", "Health"];

/// `days × n` daily returns: a market factor, a sector factor and noise.
fn panel(days: usize, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(days * n);
    for _ in 0..days {
        let m: f64 = rng.random_range(-0.02..0.02);
        let s: Vec<f64> = (0..SECTORS.len())
            .map(|_| rng.random_range(-0.01..0.01))
            .collect();
        for i in 0..n {
            let beta = 0.5 + (i % 7) as f64 * 0.15;
            let noise = rng.random_range(-0.015..0.015) * (1.0 + (i % 5) as f64 * 0.3);
            out.push(beta * m + s[i % SECTORS.len()] + noise);
        }
    }
    out
}

fn names(n: usize) -> Vec<PortfolioName> {
    (0..n)
        .map(|i| PortfolioName {
            id: format!("US_EQ:N{i:03}"),
            sector: SECTORS[i % SECTORS.len()].to_owned(),
            expected_return: Some(0.02 + 0.01 * ((i * 37) % 11) as f64),
            fragility: Some(((i * 13) % 10) as f64 / 10.0),
            fragile: false,
            previous: 0.0,
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn mean_variance_solution_satisfies_its_kkt_conditions() {
    let (days, n) = (252, 30);
    let r = panel(days, n, 1);
    let cov = ledoit_wolf(&r, days, n).unwrap();
    let lambda = 4.0;
    let q: Vec<f64> = cov.matrix.iter().map(|v| v * 252.0 * lambda).collect();
    let mu: Vec<f64> = names(n)
        .iter()
        .map(|x| x.expected_return.unwrap())
        .collect();
    let c: Vec<f64> = mu.iter().map(|v| -v).collect();
    let sector_of = |i: usize| i % SECTORS.len();
    let cons = Constraints {
        budget: 1.0,
        long_only: true,
        max_weight: 0.10,
        gross: 1.0,
        sectors: (0..SECTORS.len())
            .map(|s| ((0..n).filter(|i| sector_of(*i) == s).collect(), 0.40))
            .collect(),
        extra_groups: Vec::new(),
        previous: None,
        turnover_limit: None,
        turnover_penalty: 0.0,
    };
    let sol = solve(&q, &c, &cons).unwrap();
    let w = &sol.x[..n];
    // Multipliers by row block: budget (free), w ≥ 0, w ≤ cap, sector caps.
    let nu = sol.z[0];
    let eta = &sol.z[sol.rows.lower.clone()];
    let zeta = &sol.z[sol.rows.upper.clone()];
    let xi = &sol.z[sol.rows.sectors.clone()];
    assert_eq!(xi.len(), SECTORS.len());
    // Stationarity: Qw + c + ν·1 − η + ζ + Σ_s ξ_s·1_s = 0, from the economics, not from
    // the assembled matrices.
    for i in 0..n {
        let qw = dot(&q[i * n..(i + 1) * n], w);
        let g = qw + c[i] + nu - eta[i] + zeta[i] + xi[sector_of(i)];
        assert!(g.abs() < 1e-7, "stationarity of name {i}: {g:e}");
    }
    // Primal feasibility.
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-8);
    for (i, wi) in w.iter().enumerate() {
        assert!(*wi > -1e-8 && *wi < 0.10 + 1e-8, "bounds of {i}: {wi}");
    }
    for s in 0..SECTORS.len() {
        let sw: f64 = (0..n).filter(|i| sector_of(*i) == s).map(|i| w[i]).sum();
        assert!(sw < 0.40 + 1e-8, "sector {s}: {sw}");
    }
    // Dual feasibility and complementary slackness.
    for i in 0..n {
        assert!(eta[i] > -1e-9 && zeta[i] > -1e-9);
        assert!((eta[i] * w[i]).abs() < 1e-7, "η·w of {i}");
        assert!((zeta[i] * (0.10 - w[i])).abs() < 1e-7, "ζ·(cap − w) of {i}");
    }
    // The constraints bind somewhere and the multipliers say so.
    assert!(zeta.iter().any(|z| *z > 1e-6), "some name sits at its cap");
    assert!(
        w.iter().filter(|v| **v > 1e-6).count() < n,
        "some names are left out"
    );
    // Optimality against feasible perturbations: moving weight between two interior names
    // never improves the objective.
    let obj = |w: &[f64]| {
        0.5 * (0..n)
            .map(|i| w[i] * dot(&q[i * n..(i + 1) * n], w))
            .sum::<f64>()
            + dot(&c, w)
    };
    let base = obj(&sol.weights);
    let interior: Vec<usize> = (0..n)
        .filter(|&i| sol.weights[i] > 1e-4 && sol.weights[i] < 0.1 - 1e-4)
        .collect();
    for pair in interior.windows(2) {
        if sector_of(pair[0]) != sector_of(pair[1]) {
            continue;
        }
        let mut v = sol.weights.clone();
        v[pair[0]] += 1e-5;
        v[pair[1]] -= 1e-5;
        assert!(obj(&v) >= base - 1e-12);
    }
}

#[test]
fn long_short_turnover_solution_satisfies_its_kkt_conditions() {
    let (days, n) = (200, 12);
    let r = panel(days, n, 2);
    let cov = ledoit_wolf(&r, days, n).unwrap();
    let q: Vec<f64> = cov.matrix.iter().map(|v| v * 252.0 * 2.0).collect();
    let c: Vec<f64> = (0..n).map(|i| -0.2 + 0.04 * i as f64).collect();
    let previous: Vec<f64> = vec![0.0; n];
    let cons = Constraints {
        budget: 0.0,
        long_only: false,
        max_weight: 0.3,
        gross: 1.5,
        sectors: Vec::new(),
        extra_groups: Vec::new(),
        previous: Some(previous.clone()),
        turnover_limit: Some(1.2),
        turnover_penalty: 0.01,
    };
    let sol = solve(&q, &c, &cons).unwrap();
    let w = &sol.x[..n];
    let u = &sol.x[n..2 * n];
    let d = &sol.x[2 * n..3 * n];
    let z = &sol.z;
    let lower = &z[sol.rows.lower.clone()];
    let upper = &z[sol.rows.upper.clone()];
    let g = &z[sol.rows.gross.clone()];
    let t = &z[sol.rows.turnover.clone()];
    let (pos_g, neg_g, sum_g) = (|i: usize| g[2 * i], |i: usize| g[2 * i + 1], g[2 * n]);
    let (pos_t, neg_t, sum_t) = (|i: usize| t[2 * i], |i: usize| t[2 * i + 1], t[2 * n]);
    for i in 0..n {
        // ∂/∂w_i
        let gw = dot(&q[i * n..(i + 1) * n], w) + c[i] + z[0] - lower[i] + upper[i] + pos_g(i)
            - neg_g(i)
            + pos_t(i)
            - neg_t(i);
        assert!(gw.abs() < 1e-7, "∂w_{i} = {gw:e}");
        // ∂/∂u_i: −(pos + neg) + Σ-row
        let gu = -pos_g(i) - neg_g(i) + sum_g;
        assert!(gu.abs() < 1e-7, "∂u_{i} = {gu:e}");
        // ∂/∂d_i: κ − (pos + neg) + Σ-row
        let gd = 0.01 - pos_t(i) - neg_t(i) + sum_t;
        assert!(gd.abs() < 1e-7, "∂d_{i} = {gd:e}");
        assert!(u[i] + 1e-8 >= w[i].abs() && d[i] + 1e-8 >= (w[i] - previous[i]).abs());
    }
    assert!(w.iter().sum::<f64>().abs() < 1e-8, "market neutral");
    assert!(w.iter().map(|v| v.abs()).sum::<f64>() <= 1.5 + 1e-8);
    assert!(
        w.iter().map(|v| v.abs()).sum::<f64>() <= 1.2 + 1e-8,
        "turnover from flat"
    );
    assert!(z[1..].iter().all(|v| *v > -1e-9), "dual feasibility");
    let sz: f64 = sol.s.iter().zip(z).map(|(a, b)| a * b).sum();
    assert!(sz.abs() < 1e-7, "complementarity {sz:e}");
}

fn inputs<'a>(names: &'a [PortfolioName], r: &'a [f64], days: usize) -> PortfolioInputs<'a> {
    PortfolioInputs {
        names,
        returns: r,
        days,
        has_previous: names.iter().any(|x| x.previous != 0.0),
        forced_exits: 0.0,
        scenarios: None,
    }
}

#[test]
fn every_method_stays_inside_every_constraint() {
    let (days, n) = (252, 40);
    let r = panel(days, n, 3);
    let mut xs = names(n);
    // A previous portfolio concentrated in the first ten names.
    for x in xs.iter_mut().take(10) {
        x.previous = 0.1;
    }
    let mut caps = BTreeMap::new();
    caps.insert("Tech".to_owned(), 0.25);
    for method in [
        Method::MeanVariance,
        Method::MinVariance,
        Method::RiskParity,
        Method::Hrp,
        Method::EqualWeight,
    ] {
        let cfg = PortfolioConfig {
            method,
            max_weight: WeightCap::Fixed(0.06),
            sector_cap: 0.4,
            sector_caps: caps.clone(),
            turnover_limit: Some(1.0),
            ..PortfolioConfig::default()
        };
        let t = cfg
            .construct(&inputs(&xs, &r, days))
            .unwrap_or_else(|e| panic!("{}: {e}", method.as_str()));
        let sum: f64 = t.weights.iter().map(|(_, w)| w).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{}: Σw = {sum}", method.as_str());
        assert!(
            t.weights
                .iter()
                .all(|(_, w)| *w >= 0.0 && *w <= 0.06 + 1e-9)
        );
        assert!(
            t.report.sectors["Tech"] <= 0.25 + 1e-9,
            "{:?}",
            t.report.sectors
        );
        assert!(t.report.turnover <= 1.0 + 1e-9, "{}", t.report.turnover);
        assert!(t.report.ex_ante_vol > 0.0 && t.report.historical.is_some());
    }
}

#[test]
fn minimum_variance_has_the_lowest_ex_ante_volatility() {
    let (days, n) = (252, 25);
    let r = panel(days, n, 4);
    let xs = names(n);
    let vol = |method| {
        PortfolioConfig {
            method,
            max_weight: WeightCap::Fixed(0.2),
            ..PortfolioConfig::default()
        }
        .construct(&inputs(&xs, &r, days))
        .unwrap()
        .report
        .ex_ante_vol
    };
    let mv = vol(Method::MinVariance);
    for other in [
        Method::EqualWeight,
        Method::Hrp,
        Method::RiskParity,
        Method::MeanVariance,
    ] {
        assert!(mv <= vol(other) + 1e-9, "{}", other.as_str());
    }
}

#[test]
fn heuristic_weights_over_a_cap_are_projected_not_renormalised() {
    let cons = Constraints {
        budget: 1.0,
        long_only: true,
        max_weight: 0.4,
        gross: 1.0,
        sectors: Vec::new(),
        extra_groups: Vec::new(),
        previous: None,
        turnover_limit: None,
        turnover_penalty: 0.0,
    };
    let raw = [0.6, 0.2, 0.15, 0.05];
    assert!(!feasible(&raw, &cons));
    let w = prometheus::engines::portfolio::project(&raw, &cons).unwrap();
    assert!(feasible(&w, &cons), "{w:?}");
    // The closest feasible point: the cap on the first, the excess shared equally (a
    // renormalisation would have kept the proportions and broken the cap again).
    let third = 0.2 / 3.0;
    let expected = [0.4, 0.2 + third, 0.15 + third, 0.05 + third];
    for (a, b) in w.iter().zip(expected) {
        assert!((a - b).abs() < 1e-7, "{w:?}");
    }
}

#[test]
fn impossible_caps_and_breached_limits_fail_closed_with_reasons() {
    let (days, n) = (120, 10);
    let r = panel(days, n, 5);
    let xs = names(n);
    let mut cfg = PortfolioConfig {
        method: Method::EqualWeight,
        max_weight: WeightCap::Fixed(0.2),
        ..PortfolioConfig::default()
    };
    cfg.limits.max_ex_ante_vol = Some(0.01);
    cfg.limits.max_historical_es_99 = Some(0.001);
    match cfg.construct(&inputs(&xs, &r, days)) {
        Err(PortfolioError::LimitBreach(list)) => {
            assert_eq!(list.len(), 2, "{list:?}");
            assert!(list[0].starts_with("ex-ante volatility"));
            assert!(list[1].starts_with("historical 99% ES"));
        }
        other => panic!("expected a breach, got {other:?}"),
    }
    let err = PortfolioConfig::default()
        .construct(&inputs(&xs, &r[..30 * n], 30))
        .unwrap_err();
    assert!(matches!(
        err,
        PortfolioError::ShortHistory { days: 30, min: 60 }
    ));
}

#[test]
fn the_fragile_weight_limit_holds_by_construction() {
    let (days, n) = (200, 30);
    let r = panel(days, n, 6);
    let mut xs = names(n);
    for x in xs.iter_mut().step_by(2) {
        x.fragile = true;
    }
    for method in [Method::EqualWeight, Method::Hrp, Method::MeanVariance] {
        let mut cfg = PortfolioConfig {
            method,
            max_weight: WeightCap::Fixed(0.1),
            ..PortfolioConfig::default()
        };
        cfg.limits.max_fragile_weight = Some(0.2);
        let t = cfg
            .construct(&inputs(&xs, &r, days))
            .unwrap_or_else(|e| panic!("{}: {e}", method.as_str()));
        assert!(
            t.report.fragile_weight <= 0.2 + 1e-9,
            "{}",
            t.report.fragile_weight
        );
    }
}

#[test]
fn budget_the_caps_cannot_place_is_held_in_cash_and_said() {
    let (days, n) = (120, 10);
    let r = panel(days, n, 5);
    let xs = names(n);
    for method in [
        Method::EqualWeight,
        Method::MinVariance,
        Method::MeanVariance,
    ] {
        // 10 names under a 5% cap place half the budget: all at the cap, half in cash.
        let t = PortfolioConfig {
            method,
            max_weight: WeightCap::Fixed(0.05),
            ..PortfolioConfig::default()
        }
        .construct(&inputs(&xs, &r, days))
        .unwrap();
        assert!(
            t.weights.iter().all(|(_, w)| (w - 0.05).abs() < 1e-9),
            "{method:?}"
        );
        assert!((t.report.cash - 0.5).abs() < 1e-9, "{:?}", t.report);
        assert_eq!(t.report.names_at_cap, 10);
        assert!(t.report.cap_bound_most());
        assert!(
            t.report.notes[0].contains("0.5000 is held in cash"),
            "{:?}",
            t.report.notes
        );
        assert!(
            t.report.notes[1].contains("the cap, not risk"),
            "{:?}",
            t.report.notes
        );
    }
    // Sector caps that bind: three sectors at 20% each place 60%.
    let t = PortfolioConfig {
        method: Method::MinVariance,
        max_weight: WeightCap::Fixed(0.5),
        sector_cap: 0.2,
        ..PortfolioConfig::default()
    }
    .construct(&inputs(&xs, &r, days))
    .unwrap();
    assert!((t.report.cash - 0.4).abs() < 1e-6, "{:?}", t.report);
    for (sector, w) in &t.report.sectors {
        assert!(*w <= 0.2 + 1e-9, "{sector} {w}");
    }
    // A group cap no per-name bound reveals: 8 of 10 names fragile, at most 25% in them,
    // 10% a name: 2 × 10% + 25% = 45% can be placed (a linear programme finds it).
    let mut fragile = names(n);
    for x in fragile.iter_mut().take(8) {
        x.fragile = true;
    }
    let t = PortfolioConfig {
        method: Method::MinVariance,
        max_weight: WeightCap::Fixed(0.1),
        sector_cap: 1.0,
        ..PortfolioConfig::default()
    }
    .construct(&inputs(&fragile, &r, days))
    .unwrap();
    assert!((t.report.cash - 0.55).abs() < 1e-6, "{:?}", t.report);
    assert!(t.report.fragile_weight <= 0.25 + 1e-9);
    assert!(
        t.report.notes[0].contains("held in cash"),
        "{:?}",
        t.report.notes
    );
}

#[test]
fn a_cap_relative_to_n_frees_a_small_universe_and_keeps_a_large_one_diversified() {
    let cap: WeightCap = "max(0.05, 3/N)".parse().unwrap();
    for (n, expected_cap) in [(20, 0.15), (100, 0.05)] {
        let days = 252;
        let r = panel(days, n, 9);
        let xs = names(n);
        let cfg = PortfolioConfig {
            method: Method::MinVariance,
            max_weight: cap,
            sector_cap: 1.0,
            ..PortfolioConfig::default()
        };
        let t = cfg.construct(&inputs(&xs, &r, days)).unwrap();
        assert!((t.report.max_weight_cap - expected_cap).abs() < 1e-12);
        assert!(t.report.max_weight <= expected_cap + 1e-9);
        assert_eq!(t.report.cash, 0.0);
        // A fixed 5% on 20 names forces every weight to 1/N, and the report says so.
        if n == 20 {
            assert!(!t.report.cap_bound_most(), "{:?}", t.report);
            let fixed = PortfolioConfig {
                max_weight: WeightCap::Fixed(0.05),
                ..cfg.clone()
            }
            .construct(&inputs(&xs, &r, days))
            .unwrap();
            assert!(fixed.report.cap_bound_most());
            assert!(fixed.report.ex_ante_vol > t.report.ex_ante_vol);
        }
    }
}

#[test]
fn with_no_trading_cost_minimum_variance_ignores_the_previous_weights() {
    let (days, n) = (252, 15);
    let r = panel(days, n, 11);
    let fresh = names(n);
    let mut held = names(n);
    for (i, x) in held.iter_mut().enumerate() {
        x.previous = if i < 5 { 0.2 } else { 0.0 };
    }
    let cfg = PortfolioConfig {
        method: Method::MinVariance,
        max_weight: WeightCap::Fixed(1.0),
        sector_cap: 1.0,
        turnover_limit: None,
        turnover_cost: prometheus::engines::portfolio::TurnoverCost::PerUnit(0.0),
        ..PortfolioConfig::default()
    };
    let a = cfg.construct(&inputs(&fresh, &r, days)).unwrap();
    let b = cfg.construct(&inputs(&held, &r, days)).unwrap();
    let wa: BTreeMap<_, _> = a.weights.into_iter().collect();
    for (id, w) in &b.weights {
        assert!(
            (wa.get(id).copied().unwrap_or(0.0) - w).abs() < 1e-6,
            "{id}"
        );
    }
    // With a monthly horizon and the broker's 6 bp, the previous weights pull, but risk
    // still decides: the weights move most of the way.
    let costly = PortfolioConfig {
        rebalance_days: 21,
        turnover_cost: prometheus::engines::portfolio::TurnoverCost::Broker,
        ..cfg
    }
    .construct(&inputs(&held, &r, days))
    .unwrap();
    assert!(
        costly.report.turnover > 0.5 * b.report.turnover,
        "{:?} vs {:?}",
        costly.report.turnover,
        b.report.turnover
    );
}
