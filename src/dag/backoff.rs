//! Retry delays: exponential with deterministic jitter.

use super::config::JobDef;
use crate::config::content_hash;
use std::time::Duration;

/// The delay before attempt `next_attempt` (2, 3, …) of `job` in `run_id`:
/// `backoff_ms × 2^(next_attempt − 2)`, capped at `backoff_max_ms`, then spread by
/// ±`jitter`. The jitter is a hash of run, job and attempt — it de-synchronises retries
/// of different jobs without making a replay differ from the original.
pub fn backoff_delay(job: &JobDef, run_id: &str, next_attempt: u32) -> Duration {
    let exp = next_attempt.saturating_sub(2).min(30);
    let base = (job.backoff_ms as f64 * f64::from(1u32 << exp)).min(job.backoff_max_ms as f64);
    let h = content_hash(&format!("{run_id}/{}/{next_attempt}", job.id));
    let unit = u64::from_str_radix(&h[..8], 16).map_or(0.5, |v| v as f64 / f64::from(u32::MAX));
    let factor = 1.0 + job.jitter * (2.0 * unit - 1.0);
    Duration::from_secs_f64((base * factor).max(0.0) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::OnFailure;

    fn job(jitter: f64) -> JobDef {
        JobDef {
            id: "j".into(),
            actor: "a".into(),
            depends_on: vec![],
            required_state: None,
            priority: 1,
            max_attempts: 9,
            backoff_ms: 100,
            backoff_max_ms: 1000,
            jitter,
            timeout_secs: 1.0,
            outage_tolerance_secs: 1.0,
            on_failure: OnFailure::Skip,
        }
    }

    #[test]
    fn doubles_per_attempt_up_to_the_cap() {
        let j = job(0.0);
        let ms: Vec<u128> = (2..=7)
            .map(|a| backoff_delay(&j, "r", a).as_millis())
            .collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_in_bounds_and_is_reproducible() {
        let j = job(0.2);
        for a in 2..6 {
            let d = backoff_delay(&j, "run-1", a);
            assert_eq!(d, backoff_delay(&j, "run-1", a));
            let nominal = backoff_delay(&job(0.0), "run-1", a).as_secs_f64();
            assert!((d.as_secs_f64() / nominal - 1.0).abs() <= 0.2 + 1e-12);
        }
        assert_ne!(backoff_delay(&j, "run-1", 2), backoff_delay(&j, "run-2", 2));
    }
}
