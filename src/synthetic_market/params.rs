//! Generator parameters and their checks.

use crate::domain::MarketId;

/// Per-regime dynamics, indexed calm, stressed, crisis.
#[derive(Clone, Debug, PartialEq)]
pub struct RegimeDynamics {
    /// Row-stochastic daily transition matrix.
    pub transition: [[f64; 3]; 3],
    /// Mean daily log return of the market factor.
    pub market_drift: [f64; 3],
    /// Daily volatility of the market factor.
    pub market_vol: [f64; 3],
    /// Daily volatility of each sector factor.
    pub sector_vol: [f64; 3],
    /// Multiplier of idiosyncratic volatility.
    pub idio_scale: [f64; 3],
    /// Daily jump probability of an instrument with zero fragility.
    pub jump_probability: [f64; 3],
    /// Extra log-volume in the regime.
    pub volume_boost: [f64; 3],
    /// Multiplier of the news arrival rate.
    pub news_scale: [f64; 3],
}

impl Default for RegimeDynamics {
    fn default() -> Self {
        Self {
            transition: [
                [0.993, 0.006, 0.001],
                [0.02, 0.97, 0.01],
                [0.005, 0.025, 0.97],
            ],
            market_drift: [0.0005, -0.0004, -0.0025],
            market_vol: [0.007, 0.014, 0.030],
            sector_vol: [0.004, 0.007, 0.012],
            idio_scale: [1.0, 1.3, 1.8],
            jump_probability: [0.002, 0.005, 0.012],
            volume_boost: [0.0, 0.2, 0.5],
            news_scale: [1.0, 1.5, 2.5],
        }
    }
}

/// Unchecked parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticMarketParams {
    /// Number of instruments (one issuer each).
    pub instruments: usize,
    /// Number of sectors (at most 10 named ones).
    pub sectors: usize,
    /// The seed of every random stream.
    pub seed: u64,
    /// The market the instruments are listed on.
    pub market: MarketId,
    /// Regime dynamics.
    pub dynamics: RegimeDynamics,
    /// Degrees of freedom of the Student-t shocks (> 2 so the variance exists).
    pub tail_dof: f64,
    /// Expected articles per instrument per calm session before shock amplification
    /// (0 disables news).
    pub news_rate: f64,
}

impl SyntheticMarketParams {
    /// Defaults with the given size, seed and market.
    pub fn new(instruments: usize, seed: u64, market: MarketId) -> Self {
        Self {
            instruments,
            sectors: 10,
            seed,
            market,
            dynamics: RegimeDynamics::default(),
            tail_dof: 5.0,
            news_rate: 0.01,
        }
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`SyntheticParamsError`] listing every invalid parameter.
    pub fn check(self) -> Result<ValidParams, SyntheticParamsError> {
        let mut bad = Vec::new();
        if self.instruments == 0 || self.instruments > 1_000_000 {
            bad.push(format!(
                "instruments = {} (use 1..=1000000)",
                self.instruments
            ));
        }
        if self.sectors == 0 || self.sectors > super::names::SECTORS.len() {
            bad.push(format!(
                "sectors = {} (use 1..={})",
                self.sectors,
                super::names::SECTORS.len()
            ));
        }
        if !(self.tail_dof > 2.0 && self.tail_dof.is_finite()) {
            bad.push(format!("tail_dof = {} (must be > 2)", self.tail_dof));
        }
        if !(0.0..=10.0).contains(&self.news_rate) {
            bad.push(format!("news_rate = {} (use 0..=10)", self.news_rate));
        }
        let d = &self.dynamics;
        for (i, row) in d.transition.iter().enumerate() {
            let sum: f64 = row.iter().sum();
            if row.iter().any(|p| !(0.0..=1.0).contains(p)) || (sum - 1.0).abs() > 1e-9 {
                bad.push(format!(
                    "transition row {i} = {row:?} (probabilities summing to 1)"
                ));
            }
        }
        let non_negative = [
            ("market_vol", d.market_vol),
            ("sector_vol", d.sector_vol),
            ("idio_scale", d.idio_scale),
            ("jump_probability", d.jump_probability),
            ("news_scale", d.news_scale),
        ];
        for (name, v) in non_negative {
            if v.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
                bad.push(format!("{name} = {v:?} (finite, ≥ 0)"));
            }
        }
        if d.jump_probability.iter().any(|p| *p > 0.3) {
            bad.push(format!(
                "jump_probability = {:?} (at most 0.3 so fragility can scale it)",
                d.jump_probability
            ));
        }
        if bad.is_empty() {
            Ok(ValidParams(self))
        } else {
            Err(SyntheticParamsError(bad))
        }
    }
}

/// Parameters that passed [`SyntheticMarketParams::check`].
#[derive(Clone, Debug, PartialEq)]
pub struct ValidParams(pub(super) SyntheticMarketParams);

impl ValidParams {
    /// The checked parameters.
    pub fn get(&self) -> &SyntheticMarketParams {
        &self.0
    }
}

/// Every invalid generator parameter.
#[derive(Debug, thiserror::Error)]
#[error("invalid synthetic market parameters: {}", .0.join("; "))]
pub struct SyntheticParamsError(pub Vec<String>);
