//! The gates a candidate must pass before a person is asked to approve it.
//!
//! Each gate compares the candidate with the active config (the baseline) evaluated by the
//! same experiment — same market, same periods, same broker — or judges the search itself
//! (deflated Sharpe ratio, probability of backtest overfitting). A gate reports its value,
//! its threshold and whether it passed; a candidate passes when every gate does.

use super::stats::{ReturnMoments, deflated_sharpe, probability_of_overfitting};
use serde::{Deserialize, Serialize};

/// How strict the gates are (`[gates]` of Kronos's config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// Largest fall of the annualised Sharpe ratio below the baseline's, in the holdout and
    /// in sample.
    pub max_sharpe_drop: f64,
    /// Largest rise of the maximum drawdown above the baseline's (absolute).
    pub max_drawdown_rise: f64,
    /// Largest annualised turnover as a multiple of the baseline's (plus 0.1 so a baseline
    /// that barely trades leaves room).
    pub max_turnover_ratio: f64,
    /// Largest yearly cost drag (commission and slippage over mean equity).
    pub max_cost_drag: f64,
    /// Largest extra loss over the crisis-replay windows compared with the baseline.
    pub max_crisis_loss_rise: f64,
    /// A regime slice with at least this many sessions is judged…
    pub regime_min_days: usize,
    /// …and fails when its annualised Sharpe ratio falls this far below the baseline's.
    pub max_regime_sharpe_drop: f64,
    /// Smallest deflated Sharpe ratio of the candidate's in-sample returns, given every
    /// candidate tried.
    pub min_deflated_sharpe: f64,
    /// Largest probability of backtest overfitting of the search (CSCV).
    pub max_pbo: f64,
    /// Blocks of the CSCV (even).
    pub pbo_blocks: usize,
    /// Gates switched off (by name), e.g. `crisis_replay` for a market without a crisis in
    /// its history. A switched-off gate passes with that said; if a negative control then
    /// passes every gate, promotion freezes — which is the point of the controls.
    pub disabled: Vec<String>,
}

/// Every gate's name, in the order [`evaluate`] reports them.
pub const GATES: [&str; 12] = [
    "bounds",
    "hard_limits",
    "point_in_time",
    "holdout_sharpe",
    "in_sample_sharpe",
    "drawdown",
    "turnover",
    "costs",
    "crisis_replay",
    "regime_slices",
    "deflated_sharpe",
    "pbo",
];

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            max_sharpe_drop: 0.1,
            max_drawdown_rise: 0.03,
            max_turnover_ratio: 1.5,
            max_cost_drag: 0.02,
            max_crisis_loss_rise: 0.03,
            regime_min_days: 63,
            max_regime_sharpe_drop: 1.0,
            min_deflated_sharpe: 0.5,
            max_pbo: 0.5,
            pbo_blocks: 10,
            disabled: Vec::new(),
        }
    }
}

impl GateConfig {
    /// Checks every field and records each violation in `issues`.
    pub fn validate(&self, prefix: &str, issues: &mut crate::config::Issues) {
        let key = |k: &str| format!("{prefix}{k}");
        for (k, v) in [
            ("max_sharpe_drop", self.max_sharpe_drop),
            ("max_drawdown_rise", self.max_drawdown_rise),
            ("max_turnover_ratio", self.max_turnover_ratio),
            ("max_cost_drag", self.max_cost_drag),
            ("max_crisis_loss_rise", self.max_crisis_loss_rise),
            ("max_regime_sharpe_drop", self.max_regime_sharpe_drop),
        ] {
            issues.check(!(v.is_finite() && v >= 0.0), &key(k), || {
                format!("{v} must be a finite number ≥ 0")
            });
        }
        for (k, v) in [
            ("min_deflated_sharpe", self.min_deflated_sharpe),
            ("max_pbo", self.max_pbo),
        ] {
            issues.check(!(0.0..=1.0).contains(&v), &key(k), || {
                format!("{v} must be a probability in [0, 1]")
            });
        }
        issues.check(
            self.pbo_blocks < 2 || self.pbo_blocks % 2 == 1 || self.pbo_blocks > 16,
            &key("pbo_blocks"),
            || format!("{} must be even, from 2 to 16", self.pbo_blocks),
        );
        for g in &self.disabled {
            issues.check(!GATES.contains(&g.as_str()), &key("disabled"), || {
                format!("unknown gate `{g}`; gates: {}", GATES.join(", "))
            });
        }
    }
}

/// What an experiment measured for one config over one period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodMetrics {
    /// Sessions.
    pub days: usize,
    /// Annualised Sharpe ratio.
    pub sharpe: f64,
    /// Largest drawdown (positive).
    pub max_drawdown: f64,
    /// Annualised one-way turnover.
    pub turnover: f64,
    /// Yearly cost drag.
    pub cost_drag: f64,
    /// Compound return.
    pub total_return: f64,
}

/// One regime's slice of a config's evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegimeSlice {
    /// The label.
    pub regime: String,
    /// Sessions in it.
    pub days: usize,
    /// Annualised Sharpe ratio over them.
    pub sharpe: f64,
}

/// A config's evaluation by one experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The walk-forward period the sweep was judged on.
    pub in_sample: PeriodMetrics,
    /// The holdout the sweep never saw.
    pub holdout: PeriodMetrics,
    /// By regime, over both periods.
    pub regimes: Vec<RegimeSlice>,
    /// Compound return over each crisis-replay window (the same windows for every config).
    pub crisis_returns: Vec<f64>,
    /// Daily returns in sample (for the deflated Sharpe ratio and CSCV).
    pub in_sample_returns: Vec<f64>,
    /// Price panels the experiment's engines were given that broke the point-in-time
    /// bound (its backtest's read audit).
    #[serde(default)]
    pub future_reads: u64,
}

/// One gate's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate.
    pub gate: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was measured.
    pub value: f64,
    /// The bound it was held to.
    pub threshold: f64,
    /// One line a person can act on.
    pub detail: String,
}

/// Everything the gates judge one candidate by.
pub struct GateInputs<'a> {
    /// The candidate's evaluation.
    pub candidate: &'a Evaluation,
    /// The active config's evaluation by the same experiment.
    pub baseline: &'a Evaluation,
    /// Every config of the search (the baseline included) in sample, one daily return
    /// series each (for CSCV), aligned by session (cut to the shortest).
    pub search: &'a [Vec<f64>],
    /// Keys of the candidate outside the engine's declared bounds.
    pub out_of_bounds: &'a [String],
    /// Hard limits the candidate loosens.
    pub loosened: &'a [String],
}

fn gate(gate: &str, passed: bool, value: f64, threshold: f64, detail: String) -> GateResult {
    GateResult {
        gate: gate.to_owned(),
        passed,
        value,
        threshold,
        detail,
    }
}

/// Annualised Sharpe ratios across the search, as per-period variance for the DSR.
fn sharpe_variance(search: &[Vec<f64>]) -> f64 {
    let srs: Vec<f64> = search
        .iter()
        .filter_map(|r| ReturnMoments::of(r).map(|m| m.sharpe))
        .collect();
    if srs.len() < 2 {
        return 0.0;
    }
    let n = srs.len() as f64;
    let m = srs.iter().sum::<f64>() / n;
    srs.iter().map(|s| (s - m).powi(2)).sum::<f64>() / (n - 1.0)
}

/// Every gate's verdict on one candidate, in [`GATES`] order; switched-off gates pass and
/// say so.
pub fn evaluate(cfg: &GateConfig, x: &GateInputs<'_>) -> Vec<GateResult> {
    let mut out = measure(cfg, x);
    for g in &mut out {
        if cfg.disabled.contains(&g.gate) && !g.passed {
            g.passed = true;
            g.detail = format!(
                "switched off by [gates] disabled (would fail: {})",
                g.detail
            );
        }
    }
    out
}

fn measure(cfg: &GateConfig, x: &GateInputs<'_>) -> Vec<GateResult> {
    let (c, b) = (x.candidate, x.baseline);
    let mut out = Vec::new();
    out.push(gate(
        "bounds",
        x.out_of_bounds.is_empty(),
        x.out_of_bounds.len() as f64,
        0.0,
        if x.out_of_bounds.is_empty() {
            "every changed key is tunable and inside its bounds".into()
        } else {
            format!(
                "outside the declared bounds: {}",
                x.out_of_bounds.join(", ")
            )
        },
    ));
    out.push(gate(
        "hard_limits",
        x.loosened.is_empty(),
        x.loosened.len() as f64,
        0.0,
        if x.loosened.is_empty() {
            "no hard limit loosened".into()
        } else {
            x.loosened.join("; ")
        },
    ));
    out.push(gate(
        "point_in_time",
        c.future_reads == 0,
        c.future_reads as f64,
        0.0,
        if c.future_reads == 0 {
            "every audited price read ended on its job's date".into()
        } else {
            format!(
                "{} price panel(s) held data the store did not have on the job's date: the config reads the future",
                c.future_reads
            )
        },
    ));
    for (name, cp, bp) in [
        ("holdout_sharpe", &c.holdout, &b.holdout),
        ("in_sample_sharpe", &c.in_sample, &b.in_sample),
    ] {
        let drop = bp.sharpe - cp.sharpe;
        out.push(gate(
            name,
            drop <= cfg.max_sharpe_drop,
            drop,
            cfg.max_sharpe_drop,
            format!(
                "Sharpe {:.3} against the active config's {:.3}",
                cp.sharpe, bp.sharpe
            ),
        ));
    }
    let rise = c.holdout.max_drawdown.max(c.in_sample.max_drawdown)
        - b.holdout.max_drawdown.max(b.in_sample.max_drawdown);
    out.push(gate(
        "drawdown",
        rise <= cfg.max_drawdown_rise,
        rise,
        cfg.max_drawdown_rise,
        format!(
            "max drawdown {:.1}% against {:.1}%",
            100.0 * c.holdout.max_drawdown.max(c.in_sample.max_drawdown),
            100.0 * b.holdout.max_drawdown.max(b.in_sample.max_drawdown)
        ),
    ));
    let turnover_bound = cfg.max_turnover_ratio * b.in_sample.turnover + 0.1;
    out.push(gate(
        "turnover",
        c.in_sample.turnover <= turnover_bound,
        c.in_sample.turnover,
        turnover_bound,
        format!(
            "turnover {:.2}/year against {:.2}",
            c.in_sample.turnover, b.in_sample.turnover
        ),
    ));
    let cost = c.in_sample.cost_drag.max(c.holdout.cost_drag);
    out.push(gate(
        "costs",
        cost <= cfg.max_cost_drag,
        cost,
        cfg.max_cost_drag,
        format!("cost drag {:.2}%/year", 100.0 * cost),
    ));
    let crisis_rise = c
        .crisis_returns
        .iter()
        .zip(&b.crisis_returns)
        .map(|(c, b)| b - c)
        .fold(f64::NEG_INFINITY, f64::max);
    let crisis_rise = if crisis_rise.is_finite() {
        crisis_rise
    } else {
        0.0
    };
    out.push(gate(
        "crisis_replay",
        crisis_rise <= cfg.max_crisis_loss_rise,
        crisis_rise,
        cfg.max_crisis_loss_rise,
        format!(
            "worst extra loss over {} crisis window(s): {:.1}%",
            c.crisis_returns.len(),
            100.0 * crisis_rise
        ),
    ));
    let worst = c
        .regimes
        .iter()
        .filter(|s| s.days >= cfg.regime_min_days)
        .filter_map(|s| {
            let base = b.regimes.iter().find(|r| r.regime == s.regime)?;
            Some((s.regime.clone(), base.sharpe - s.sharpe))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let (slice, drop) = worst.unwrap_or_else(|| ("none".into(), 0.0));
    out.push(gate(
        "regime_slices",
        drop <= cfg.max_regime_sharpe_drop,
        drop,
        cfg.max_regime_sharpe_drop,
        format!("worst slice {slice}: Sharpe {drop:.2} below the active config's"),
    ));
    let trials = x.search.len().max(1);
    let dsr = ReturnMoments::of(&c.in_sample_returns)
        .map(|m| deflated_sharpe(&m, trials, sharpe_variance(x.search)))
        .unwrap_or(0.0);
    let dsr = if dsr.is_finite() { dsr } else { 0.0 };
    out.push(gate(
        "deflated_sharpe",
        dsr >= cfg.min_deflated_sharpe,
        dsr,
        cfg.min_deflated_sharpe,
        format!("deflated Sharpe ratio {dsr:.3} given {trials} configs tried"),
    ));
    let sessions = x.search.iter().map(Vec::len).min().unwrap_or(0);
    let matrix: Vec<Vec<f64>> = (0..sessions)
        .map(|t| x.search.iter().map(|r| r[t]).collect())
        .collect();
    match probability_of_overfitting(&matrix, cfg.pbo_blocks) {
        Ok(p) => out.push(gate(
            "pbo",
            p.pbo <= cfg.max_pbo,
            p.pbo,
            cfg.max_pbo,
            format!(
                "probability of backtest overfitting {:.2} over {} splits",
                p.pbo, p.splits
            ),
        )),
        Err(e) => out.push(gate(
            "pbo",
            false,
            f64::NAN,
            cfg.max_pbo,
            format!("cannot be judged: {e}"),
        )),
    }
    out
}

/// Whether every gate passed.
pub fn all_passed(results: &[GateResult]) -> bool {
    results.iter().all(|g| g.passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(sharpe: f64, dd: f64) -> PeriodMetrics {
        PeriodMetrics {
            days: 500,
            sharpe,
            max_drawdown: dd,
            turnover: 2.0,
            cost_drag: 0.004,
            total_return: 0.2,
        }
    }

    fn returns(edge: f64, seed: u64) -> Vec<f64> {
        // A deterministic wiggle around `edge`.
        (0..1_000)
            .map(|i| {
                edge + 0.01 * (((i as u64 * 2_654_435_761 + seed) % 1_000) as f64 / 500.0 - 1.0)
            })
            .collect()
    }

    fn eval(sharpe: f64, dd: f64, edge: f64, seed: u64) -> Evaluation {
        Evaluation {
            in_sample: period(sharpe, dd),
            holdout: period(sharpe, dd),
            regimes: vec![RegimeSlice {
                regime: "RISK_OFF".into(),
                days: 100,
                sharpe: sharpe - 1.0,
            }],
            crisis_returns: vec![-0.1, -0.05],
            in_sample_returns: returns(edge, seed),
            future_reads: 0,
        }
    }

    #[test]
    fn a_better_candidate_passes_every_gate() {
        let base = eval(0.8, 0.2, 0.0005, 1);
        let cand = eval(1.0, 0.18, 0.0012, 2);
        let search = vec![
            base.in_sample_returns.clone(),
            cand.in_sample_returns.clone(),
        ];
        let r = evaluate(
            &GateConfig::default(),
            &GateInputs {
                candidate: &cand,
                baseline: &base,
                search: &search,
                out_of_bounds: &[],
                loosened: &[],
            },
        );
        assert!(all_passed(&r), "{r:#?}");
        assert_eq!(
            r.iter().map(|g| g.gate.as_str()).collect::<Vec<_>>(),
            GATES.to_vec()
        );
    }

    #[test]
    fn each_gate_fails_for_its_own_reason() {
        let base = eval(0.8, 0.2, 0.0005, 1);
        let mut cand = eval(0.5, 0.3, -0.0005, 2);
        cand.in_sample.turnover = 10.0;
        cand.holdout.cost_drag = 0.05;
        cand.crisis_returns = vec![-0.2, -0.05];
        cand.regimes[0].sharpe = -3.0;
        cand.future_reads = 7;
        let search = vec![
            base.in_sample_returns.clone(),
            cand.in_sample_returns.clone(),
        ];
        let r = evaluate(
            &GateConfig::default(),
            &GateInputs {
                candidate: &cand,
                baseline: &base,
                search: &search,
                out_of_bounds: &["max_weight".into()],
                loosened: &["limits.max_ex_ante_vol: 0.6 → unlimited".into()],
            },
        );
        // Switched off, every gate passes and says what it would have said.
        let rigged = GateConfig {
            disabled: GATES.iter().map(|g| (*g).to_owned()).collect(),
            ..GateConfig::default()
        };
        let r2 = evaluate(
            &rigged,
            &GateInputs {
                candidate: &cand,
                baseline: &base,
                search: &search,
                out_of_bounds: &["max_weight".into()],
                loosened: &[],
            },
        );
        assert!(all_passed(&r2));
        assert!(r2[0].detail.starts_with("switched off"), "{}", r2[0].detail);
        // The search's winner in sample is the baseline, and it holds out of sample: the
        // search itself did not overfit (PBO judges the search, not the candidate).
        let failed: Vec<&str> = r
            .iter()
            .filter(|g| !g.passed)
            .map(|g| g.gate.as_str())
            .collect();
        assert_eq!(
            failed,
            vec![
                "bounds",
                "hard_limits",
                "point_in_time",
                "holdout_sharpe",
                "in_sample_sharpe",
                "drawdown",
                "turnover",
                "costs",
                "crisis_replay",
                "regime_slices",
                "deflated_sharpe",
            ],
            "{r:#?}"
        );
    }

    #[test]
    fn gate_settings_are_validated() {
        let mut issues = crate::config::Issues::new();
        GateConfig {
            max_pbo: 1.5,
            pbo_blocks: 3,
            max_sharpe_drop: f64::NAN,
            disabled: vec!["sharpe".into()],
            ..GateConfig::default()
        }
        .validate("gates.", &mut issues);
        let keys: Vec<String> = issues.into_pairs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            vec![
                "gates.max_sharpe_drop",
                "gates.max_pbo",
                "gates.pbo_blocks",
                "gates.disabled"
            ]
        );
    }
}
