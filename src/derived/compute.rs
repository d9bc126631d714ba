//! The arithmetic of derived series, on one instrument's bars or one market's returns.

use crate::domain::{FactorValue, InstrumentId, ReturnValue, VolatilityValue};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Simple returns `adj[t] / adj[t-h] - 1` for every horizon `h` and every close dated on
/// or after `from` that has `h` earlier closes. `closes` are `(date, adjusted close)`,
/// ascending; the lag counts the instrument's own observations, so a gap in its history is
/// not a missing return.
pub fn returns_from(
    id: &InstrumentId,
    closes: &[(NaiveDate, f64)],
    from: NaiveDate,
    horizons: &[u32],
) -> Vec<ReturnValue> {
    let start = closes.partition_point(|c| c.0 < from);
    let mut out = Vec::with_capacity((closes.len() - start) * horizons.len());
    // Horizon-major, date-minor: the order of the table's key, so inserts append.
    for &h in horizons {
        let h_us = h as usize;
        for t in start.max(h_us)..closes.len() {
            out.push(ReturnValue {
                instrument_id: id.clone(),
                trade_date: closes[t].0,
                horizon_days: h,
                value: closes[t].1 / closes[t - h_us].1 - 1.0,
            });
        }
    }
    out
}

/// Annualised realised volatility: the sample standard deviation (n − 1) of the last `w`
/// one-day simple returns times √`annualisation_days`, for every window `w` and every close
/// dated on or after `from` with `w` returns behind it (so `w + 1` closes).
pub fn volatility_from(
    id: &InstrumentId,
    closes: &[(NaiveDate, f64)],
    from: NaiveDate,
    windows: &[u32],
    annualisation_days: u32,
) -> Vec<VolatilityValue> {
    let r: Vec<f64> = closes.windows(2).map(|p| p[1].1 / p[0].1 - 1.0).collect();
    let start = closes.partition_point(|c| c.0 < from);
    let scale = f64::from(annualisation_days).sqrt();
    let mut out = Vec::new();
    // Window-major, date-minor: the order of the table's key, so inserts append.
    for &w in windows {
        let w_us = w as usize;
        if w_us < 2 {
            continue;
        }
        for t in start.max(w_us)..closes.len() {
            // r[t - 1] is the return ending on close t.
            let slice = &r[t - w_us..t];
            let mean = slice.iter().sum::<f64>() / w_us as f64;
            let var =
                slice.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (w_us - 1) as f64;
            out.push(VolatilityValue {
                instrument_id: id.clone(),
                trade_date: closes[t].0,
                window_days: w,
                value: var.sqrt() * scale,
            });
        }
    }
    out
}

/// Which factors an instrument belongs to: its market's, and its sector's when known.
#[derive(Clone, Debug)]
pub struct FactorMembership {
    /// Instrument → factor ids (`MKT:<market>`, `SEC:<market>:<sector>`).
    pub of: BTreeMap<InstrumentId, Vec<String>>,
}

impl FactorMembership {
    /// The factor id of a market.
    pub fn market_factor(market: &str) -> String {
        format!("MKT:{market}")
    }

    /// The id of a market's cross-sectional second moment: the mean squared one-day return
    /// of its members that day. With the market factor it gives the cross-sectional
    /// dispersion and the average pairwise correlation the regime engine reads, without
    /// reading every instrument's history.
    pub fn second_moment_factor(market: &str) -> String {
        format!("XS2:{market}")
    }

    /// The factor id of a sector within a market.
    pub fn sector_factor(market: &str, sector: &str) -> String {
        format!("SEC:{market}:{sector}")
    }

    /// Every factor id any member belongs to, with the second moment of each market
    /// factor, sorted.
    pub fn factor_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.of.values().flatten().cloned().collect();
        let moments: Vec<String> = ids
            .iter()
            .filter_map(|id| id.strip_prefix("MKT:"))
            .map(Self::second_moment_factor)
            .collect();
        ids.extend(moments);
        ids.sort();
        ids.dedup();
        ids
    }
}

/// Equal-weighted factor returns: for each date and factor, the mean one-day return of the
/// member instruments that have one that day, and for each market factor `MKT:m` also
/// `XS2:m`, the members' mean squared return. `one_day` must be ordered by date then
/// instrument, which fixes the summation order and so the exact bits of the result.
pub fn factor_values(one_day: &[ReturnValue], membership: &FactorMembership) -> Vec<FactorValue> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < one_day.len() {
        let date = one_day[start].trade_date;
        let end = start + one_day[start..].partition_point(|r| r.trade_date == date);
        let mut acc: BTreeMap<String, (f64, u32)> = BTreeMap::new();
        for r in &one_day[start..end] {
            let Some(factors) = membership.of.get(&r.instrument_id) else {
                continue;
            };
            for f in factors {
                let e = acc.entry(f.clone()).or_insert((0.0, 0));
                e.0 += r.value;
                e.1 += 1;
                if let Some(market) = f.strip_prefix("MKT:") {
                    let e = acc
                        .entry(FactorMembership::second_moment_factor(market))
                        .or_insert((0.0, 0));
                    e.0 += r.value * r.value;
                    e.1 += 1;
                }
            }
        }
        out.extend(acc.into_iter().map(|(factor_id, (sum, n))| FactorValue {
            factor_id,
            trade_date: date,
            value: sum / f64::from(n),
            members: n,
        }));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(prices: &[f64]) -> Vec<(NaiveDate, f64)> {
        let d0 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        prices
            .iter()
            .enumerate()
            .map(|(i, &p)| (d0 + chrono::Days::new(i as u64), p))
            .collect()
    }

    #[test]
    fn returns_use_the_instruments_own_lags() {
        let id = InstrumentId::from("M:A");
        let b = bars(&[100.0, 110.0, 99.0, 120.0]);
        let r = returns_from(&id, &b, b[2].0, &[1, 2]);
        let got: Vec<(u32, f64)> = r.iter().map(|x| (x.horizon_days, x.value)).collect();
        assert_eq!(
            got,
            [
                (1, 99.0 / 110.0 - 1.0),
                (1, 120.0 / 99.0 - 1.0),
                (2, 99.0 / 100.0 - 1.0),
                (2, 120.0 / 110.0 - 1.0)
            ]
        );
    }

    #[test]
    fn volatility_is_the_annualised_sample_std() {
        let id = InstrumentId::from("M:A");
        let b = bars(&[100.0, 101.0, 99.0, 102.0]);
        let v = volatility_from(&id, &b, b[0].0, &[3], 252);
        assert_eq!(v.len(), 1);
        let r = [0.01, 99.0 / 101.0 - 1.0, 102.0 / 99.0 - 1.0];
        let m = r.iter().sum::<f64>() / 3.0;
        let s = (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 2.0).sqrt() * 252f64.sqrt();
        assert!((v[0].value - s).abs() < 1e-15);
        assert_eq!(v[0].trade_date, b[3].0);
    }

    #[test]
    fn factors_average_members_present_that_day() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let (a, b) = (InstrumentId::from("M:A"), InstrumentId::from("M:B"));
        let membership = FactorMembership {
            of: [
                (a.clone(), vec!["MKT:M".to_owned(), "SEC:M:Tech".to_owned()]),
                (b.clone(), vec!["MKT:M".to_owned()]),
            ]
            .into_iter()
            .collect(),
        };
        let rets = [
            ReturnValue {
                instrument_id: a,
                trade_date: d,
                horizon_days: 1,
                value: 0.02,
            },
            ReturnValue {
                instrument_id: b,
                trade_date: d,
                horizon_days: 1,
                value: -0.01,
            },
        ];
        let f = factor_values(&rets, &membership);
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].factor_id.as_str(), f[0].members), ("MKT:M", 2));
        assert!((f[0].value - 0.005).abs() < 1e-15);
        assert_eq!(
            (f[1].factor_id.as_str(), f[1].value, f[1].members),
            ("SEC:M:Tech", 0.02, 1)
        );
        assert_eq!((f[2].factor_id.as_str(), f[2].members), ("XS2:M", 2));
        assert!((f[2].value - (0.0004 + 0.0001) / 2.0).abs() < 1e-18);
        assert_eq!(membership.factor_ids(), ["MKT:M", "SEC:M:Tech", "XS2:M"]);
    }
}
