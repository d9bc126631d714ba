//! Submission turns: with several instants' chains in flight, each DAG's runs must still
//! reach the orchestrator in date order. The orchestrator keeps a DAG's dates in order only
//! among the runs it holds, so if a later date's run were submitted before an earlier
//! date's (its chain raced ahead while the earlier chain waited on a slow upstream run), the
//! later date would run first and read or write what the earlier date should have — an
//! encoder model fitted on the later date's run, a target built without the previous one.
//!
//! Every chain gets, for each of its activations, the turn of the latest earlier chain with
//! the same DAG and market to wait for, and a turn of its own to pass once its run is
//! submitted (or refused). A chain that meets an error keeps its unpassed turns for its
//! retry, so later dates wait for it; a chain dropped for good (the scheduler stopped)
//! drops them, which lets the waiters go.

use super::plan::PlannedActivation;
use prometheus::domain::MarketId;
use std::collections::BTreeMap;
use tokio::sync::oneshot;

/// One activation's place in its DAG's order of dates.
#[derive(Debug, Default)]
pub(super) struct Turn {
    /// Resolves when the previous date's run of this DAG and market was submitted.
    wait: Option<oneshot::Receiver<()>>,
    /// Tells the next date's chain that this run was submitted.
    pass: Option<oneshot::Sender<()>>,
}

impl Turn {
    /// Waits until the previous date of this DAG and market has had its turn (at once when
    /// there is none, or when its chain was dropped). Waits once: a retry goes straight on.
    pub async fn wait(&mut self) {
        if let Some(rx) = &mut self.wait {
            let _ = rx.await;
            self.wait = None;
        }
    }

    /// Lets the next date of this DAG and market go (once).
    pub fn pass(&mut self) {
        if let Some(tx) = self.pass.take() {
            let _ = tx.send(());
        }
    }
}

/// The last turn handed out for each DAG and market, in the order chains are formed.
#[derive(Debug, Default)]
pub(super) struct SubmissionTurns {
    last: BTreeMap<(MarketId, String), oneshot::Receiver<()>>,
}

impl SubmissionTurns {
    /// The turns of a chain formed after every chain already given turns (chains are
    /// formed in date order), one per activation.
    pub fn for_chain<'a>(
        &mut self,
        chain: impl IntoIterator<Item = &'a PlannedActivation>,
    ) -> Vec<Turn> {
        chain
            .into_iter()
            .map(|d| {
                let (tx, rx) = oneshot::channel();
                let wait = self.last.insert((d.market.clone(), d.dag_id.clone()), rx);
                Turn {
                    wait,
                    pass: Some(tx),
                }
            })
            .collect()
    }

    /// Forgets every turn (the scheduler stopped: no chain is waited for any more).
    pub fn clear(&mut self) {
        self.last.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn activation(dag: &str, market: &str, day: u32) -> PlannedActivation {
        let at = chrono::NaiveDate::from_ymd_opt(2024, 1, day)
            .and_then(|d| d.and_hms_opt(21, 0, 0))
            .map(|t| t.and_utc())
            .expect("a valid instant");
        PlannedActivation::for_test(at, dag, MarketId::new(market))
    }

    #[test]
    fn a_later_date_waits_for_the_earlier_date_of_the_same_dag_and_market_only() {
        let mut turns = SubmissionTurns::default();
        let d1 = [
            activation("daily", "US", 2),
            activation("features", "US", 2),
        ];
        let d2 = [
            activation("daily", "US", 3),
            activation("weekly", "US", 3),
            activation("features", "US", 3),
        ];
        let other = [activation("features", "JP", 3)];
        let mut t1 = turns.for_chain(&d1);
        let mut t2 = turns.for_chain(&d2);
        let mut t3 = turns.for_chain(&other);
        // Nothing earlier: the first date, a DAG first seen, another market go at once.
        assert!(t1[0].wait().now_or_never().is_some());
        assert!(t1[1].wait().now_or_never().is_some());
        assert!(t2[1].wait().now_or_never().is_some());
        assert!(t3[0].wait().now_or_never().is_some());
        // The second date's features wait for the first date's, and only for them.
        let mut features = Box::pin(t2[2].wait());
        assert!(features.as_mut().now_or_never().is_none());
        t1[0].pass();
        assert!(features.as_mut().now_or_never().is_none());
        t1[1].pass();
        assert!(features.as_mut().now_or_never().is_some());
    }

    #[test]
    fn a_dropped_chain_lets_the_next_date_go_and_a_retried_wait_does_not_wait_again() {
        let mut turns = SubmissionTurns::default();
        let first = turns.for_chain(&[activation("daily", "US", 2)]);
        let mut second = turns.for_chain(&[activation("daily", "US", 3)]);
        let mut third = turns.for_chain(&[activation("daily", "US", 4)]);
        drop(first);
        assert!(second[0].wait().now_or_never().is_some());
        assert!(second[0].wait().now_or_never().is_some());
        assert!(third[0].wait().now_or_never().is_none());
        second[0].pass();
        assert!(third[0].wait().now_or_never().is_some());
    }
}
