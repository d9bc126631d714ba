//! The constrained quadratic programme behind the mean-variance and minimum-variance
//! methods (and the projection that makes a heuristic portfolio feasible), solved by
//! clarabel's interior-point method.
//!
//! Minimise `½ wᵀQw + cᵀw + κ·Σ|w − w₀|` over the weights `w` subject to
//! - the budget `Σw = b` (net exposure);
//! - long-only `0 ≤ w ≤ cap`, or long/short `−cap ≤ w ≤ cap` with `Σ|w| ≤ gross`;
//! - sector caps `Σ_{i∈s} w_i ≤ cap_s` (and `≥ −cap_s` long/short);
//! - turnover `Σ|w − w₀| ≤ limit` and/or its linear penalty `κ`.
//!
//! Absolute values become auxiliary variables (`u ≥ ±w` for gross, `d ≥ ±(w − w₀)` for
//! turnover). Constraint rows follow the order of [`Rows`], which the KKT test uses to
//! read the multipliers back.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, SolverStatus, SupportedConeT};
use thiserror::Error;

/// Why the programme has no usable solution.
#[derive(Debug, Error, PartialEq)]
pub enum QpError {
    /// The constraints cannot all hold.
    #[error(
        "the portfolio constraints cannot all hold ({0}); loosen the caps or the turnover limit"
    )]
    Infeasible(String),
    /// The solver stopped without a solution.
    #[error("the optimiser stopped without a solution: {0}")]
    Solver(String),
}

/// How far inside the turnover limit the solver aims (see [`solve`]).
const TURNOVER_MARGIN: f64 = 1e-6;

/// The constraint set, in weights of the names being optimised.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraints {
    /// `Σw`.
    pub budget: f64,
    /// No short positions.
    pub long_only: bool,
    /// Largest |weight| of one name.
    pub max_weight: f64,
    /// Largest `Σ|w|` (long/short only; long-only gross equals the budget).
    pub gross: f64,
    /// Sector groups: member indices and cap on |Σ weights| (disjoint).
    pub sectors: Vec<(Vec<usize>, f64)>,
    /// Further capped groups that may overlap the sectors (the weight in fragile names).
    pub extra_groups: Vec<(Vec<usize>, f64)>,
    /// The weights held now (same order), when turnover is limited or penalised.
    pub previous: Option<Vec<f64>>,
    /// Largest `Σ|w − w₀|`.
    pub turnover_limit: Option<f64>,
    /// Cost per unit of `Σ|w − w₀|` in the objective.
    pub turnover_penalty: f64,
}

/// The row blocks of the assembled constraint matrix, in order. The first is the budget
/// (zero cone); the rest are `≤` rows (nonnegative cone).
#[derive(Clone, Debug, PartialEq)]
pub struct Rows {
    /// `w ≥ 0` rows (long-only; `n` rows) or `w ≥ −cap` (long/short).
    pub lower: std::ops::Range<usize>,
    /// `w ≤ cap` rows.
    pub upper: std::ops::Range<usize>,
    /// `±w − u ≤ 0` and `Σu ≤ gross` rows (long/short only).
    pub gross: std::ops::Range<usize>,
    /// Group rows: `Σ w ≤ cap` per sector then per extra group, then `−Σ w ≤ cap` for each
    /// (long/short).
    pub sectors: std::ops::Range<usize>,
    /// `±(w − w₀) − d ≤ 0` rows, then `Σd ≤ limit` when limited.
    pub turnover: std::ops::Range<usize>,
    /// All rows.
    pub total: usize,
}

/// A solved programme.
#[derive(Clone, Debug, PartialEq)]
pub struct QpSolution {
    /// The weights (first `n` variables), cleaned of solver noise.
    pub weights: Vec<f64>,
    /// Every variable as the solver returned it.
    pub x: Vec<f64>,
    /// Dual variables, one per constraint row.
    pub z: Vec<f64>,
    /// Slacks, one per constraint row.
    pub s: Vec<f64>,
    /// The row layout.
    pub rows: Rows,
    /// Interior-point iterations.
    pub iterations: u32,
    /// Objective value.
    pub objective: f64,
}

/// A sparse matrix under construction, as (row, column, value) triplets.
#[derive(Default)]
struct Triplets {
    rows: Vec<usize>,
    cols: Vec<usize>,
    vals: Vec<f64>,
}

impl Triplets {
    fn push(&mut self, r: usize, c: usize, v: f64) {
        if v != 0.0 {
            self.rows.push(r);
            self.cols.push(c);
            self.vals.push(v);
        }
    }

    fn into_csc(self, m: usize, n: usize) -> CscMatrix<f64> {
        CscMatrix::new_from_triplets(m, n, self.rows, self.cols, self.vals)
    }
}

/// The largest long-only budget the name and sector caps can hold over `n` names (each
/// sector at the smaller of its cap and its names' caps, unsectored names at their cap);
/// unbounded for long/short portfolios.
pub fn placeable(n: usize, c: &Constraints) -> f64 {
    if !c.long_only {
        return f64::INFINITY;
    }
    let covered: usize = c.sectors.iter().map(|(m, _)| m.len()).sum();
    c.sectors
        .iter()
        .map(|(m, cap)| cap.min(c.max_weight * m.len() as f64))
        .sum::<f64>()
        + c.max_weight * n.saturating_sub(covered) as f64
}

/// Checks what can be known infeasible before solving, with a reason a user can act on.
fn precheck(n: usize, c: &Constraints) -> Result<(), QpError> {
    if n == 0 {
        return Err(QpError::Infeasible("no names to invest in".into()));
    }
    if c.long_only && c.max_weight * n as f64 + 1e-12 < c.budget {
        return Err(QpError::Infeasible(format!(
            "{n} names × max_weight {} < budget {}",
            c.max_weight, c.budget
        )));
    }
    if c.long_only {
        let room = placeable(n, c);
        if room + 1e-12 < c.budget {
            return Err(QpError::Infeasible(format!(
                "the sector caps leave room for {room:.4} of a budget of {}",
                c.budget
            )));
        }
    }
    Ok(())
}

/// Minimises `½ wᵀQw + cᵀw (+ turnover penalty)` under `cons`. `q` is the dense symmetric
/// `n × n` matrix, row-major.
///
/// # Errors
/// [`QpError::Infeasible`] when the constraints cannot hold together (with which ones),
/// [`QpError::Solver`] when the solver fails otherwise.
pub fn solve(q: &[f64], c: &[f64], cons: &Constraints) -> Result<QpSolution, QpError> {
    precheck(c.len(), cons)?;
    solve_rows(q, c, cons, true)
}

/// The largest net weight `Σw ≤ budget` that every other constraint of `cons` (caps,
/// sectors, capped groups, turnover) lets a long-only portfolio of `n` names hold: a linear
/// programme. What the engine invests when the full budget cannot be placed.
///
/// # Errors
/// [`QpError`] when even an empty portfolio breaks a constraint (a turnover limit that
/// forbids selling what is held) or the solver fails.
pub fn max_placeable(n: usize, cons: &Constraints) -> Result<f64, QpError> {
    let lp = Constraints {
        turnover_penalty: 0.0,
        ..cons.clone()
    };
    let sol = solve_rows(&vec![0.0; n * n], &vec![-1.0; n], &lp, false)?;
    Ok(sol.weights.iter().sum::<f64>().min(cons.budget))
}

/// The programme with the budget row as an equality (`budget_equal`) or as `Σw ≤ budget`.
fn solve_rows(
    q: &[f64],
    c: &[f64],
    cons: &Constraints,
    budget_equal: bool,
) -> Result<QpSolution, QpError> {
    let n = c.len();
    let short = !cons.long_only;
    let turnover =
        cons.previous.is_some() && (cons.turnover_limit.is_some() || cons.turnover_penalty > 0.0);
    // Variables: w, then u (long/short), then d (turnover).
    let u0 = n;
    let d0 = n + if short { n } else { 0 };
    let nvar = d0 + if turnover { n } else { 0 };

    let mut p = Triplets::default();
    for i in 0..n {
        for j in i..n {
            p.push(i, j, q[i * n + j]);
        }
    }
    let mut lin = vec![0.0; nvar];
    lin[..n].copy_from_slice(c);
    if turnover {
        for v in &mut lin[d0..d0 + n] {
            *v = cons.turnover_penalty;
        }
    }

    let mut a = Triplets::default();
    let mut b = Vec::new();
    let mut row = 0;
    // Budget.
    for i in 0..n {
        a.push(row, i, 1.0);
    }
    b.push(cons.budget);
    row += 1;
    // Bounds.
    let lower_start = row;
    for i in 0..n {
        a.push(row, i, -1.0);
        b.push(if short { cons.max_weight } else { 0.0 });
        row += 1;
    }
    let upper_start = row;
    for i in 0..n {
        a.push(row, i, 1.0);
        b.push(cons.max_weight);
        row += 1;
    }
    // Gross.
    let gross_start = row;
    if short {
        for i in 0..n {
            a.push(row, i, 1.0);
            a.push(row, u0 + i, -1.0);
            b.push(0.0);
            row += 1;
            a.push(row, i, -1.0);
            a.push(row, u0 + i, -1.0);
            b.push(0.0);
            row += 1;
        }
        for i in 0..n {
            a.push(row, u0 + i, 1.0);
        }
        b.push(cons.gross);
        row += 1;
    }
    // Sectors.
    let sector_start = row;
    for sign in if short { vec![1.0, -1.0] } else { vec![1.0] } {
        for (members, cap) in cons.sectors.iter().chain(&cons.extra_groups) {
            for &i in members {
                a.push(row, i, sign);
            }
            b.push(*cap);
            row += 1;
        }
    }
    // Turnover.
    let turnover_start = row;
    if turnover {
        let prev = cons.previous.as_deref().unwrap_or(&[]);
        for i in 0..n {
            let w0 = prev.get(i).copied().unwrap_or(0.0);
            a.push(row, i, 1.0);
            a.push(row, d0 + i, -1.0);
            b.push(w0);
            row += 1;
            a.push(row, i, -1.0);
            a.push(row, d0 + i, -1.0);
            b.push(-w0);
            row += 1;
        }
        if let Some(limit) = cons.turnover_limit {
            for i in 0..n {
                a.push(row, d0 + i, 1.0);
            }
            // The interior-point method meets a binding row to about 1e-8, and cleaning
            // the dust off the weights moves each by up to 1e-9; the hard-limit check
            // allows 1e-9. Aim a hair inside so a binding limit is never "breached".
            b.push((limit - TURNOVER_MARGIN).max(0.0));
            row += 1;
        }
    }
    let rows = Rows {
        lower: lower_start..upper_start,
        upper: upper_start..gross_start,
        gross: gross_start..sector_start,
        sectors: sector_start..turnover_start,
        turnover: turnover_start..row,
        total: row,
    };
    let cones: Vec<SupportedConeT<f64>> = if budget_equal {
        vec![
            SupportedConeT::ZeroConeT(1),
            SupportedConeT::NonnegativeConeT(row - 1),
        ]
    } else {
        vec![SupportedConeT::NonnegativeConeT(row)]
    };
    let settings = DefaultSettings {
        verbose: false,
        max_iter: 200,
        tol_gap_abs: 1e-10,
        tol_gap_rel: 1e-10,
        tol_feas: 1e-10,
        presolve_enable: false,
        ..DefaultSettings::default()
    };
    let pm = p.into_csc(nvar, nvar);
    let am = a.into_csc(row, nvar);
    let mut solver = DefaultSolver::new(&pm, &lin, &am, &b, &cones, settings)
        .map_err(|e| QpError::Solver(e.to_string()))?;
    solver.solve();
    let sol = &solver.solution;
    match sol.status {
        SolverStatus::Solved | SolverStatus::AlmostSolved => {}
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => {
            return Err(QpError::Infeasible(
                "the solver proved it (budget, caps, sectors and turnover together)".into(),
            ));
        }
        other => return Err(QpError::Solver(format!("{other:?}"))),
    }
    let weights = if budget_equal {
        clean(&sol.x[..n], cons)
    } else {
        sol.x[..n]
            .iter()
            .map(|v| v.clamp(if short { -cons.max_weight } else { 0.0 }, cons.max_weight))
            .collect()
    };
    Ok(QpSolution {
        weights,
        x: sol.x.clone(),
        z: sol.z.clone(),
        s: sol.s.clone(),
        rows,
        iterations: sol.iterations,
        objective: sol.obj_val,
    })
}

/// A weight below this (a billionth of the portfolio) is solver noise, not a position: the
/// interior-point method leaves 1e-10..1e-9 on names whose optimum is 0.
const DUST: f64 = 1e-9;

/// Removes interior-point noise (weights of 1e-10 that should be 0, a budget off by 1e-10)
/// without leaving the feasible set: clamp to the bounds, then spread the budget's residual
/// over the names with room, in proportion to their room.
pub fn clean(w: &[f64], cons: &Constraints) -> Vec<f64> {
    let lo = if cons.long_only {
        0.0
    } else {
        -cons.max_weight
    };
    let hi = cons.max_weight;
    let mut out: Vec<f64> = w
        .iter()
        .map(|v| {
            let v = v.clamp(lo, hi);
            if v.abs() < DUST { 0.0 } else { v }
        })
        .collect();
    let residual = cons.budget - out.iter().sum::<f64>();
    if residual != 0.0 {
        // Held names absorb it in proportion to their size, as long as they have room;
        // a residual is ~1e-10, far below any name's room.
        let room = |v: f64| {
            if residual > 0.0 { hi - v } else { v - lo }
        };
        let share: Vec<f64> = out
            .iter()
            .map(|&v| {
                if room(v) > residual.abs() {
                    v.abs()
                } else {
                    0.0
                }
            })
            .collect();
        let total: f64 = share.iter().sum();
        if total > 0.0 {
            for (v, s) in out.iter_mut().zip(&share) {
                *v += residual * s / total;
            }
        }
    }
    out
}
