//! Which faults a drill runs: by default every actor of the chain × panic (inside its
//! computation), error and hang, each on the actor's first job; or the operator's own
//! specs, each drilled on its own.

use crate::spine::faults::{FaultKind, FaultPlan};
use anyhow::{anyhow, bail};

/// The kinds the default matrix drills, in its order.
const DEFAULT_KINDS: [FaultKind; 3] = [FaultKind::Panic, FaultKind::Error, FaultKind::Hang];

/// The faults a drill was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultSelection {
    /// Every actor of the chain × panic, error, hang on its first job.
    All,
    /// These specs, one scenario each.
    Specs(FaultPlan),
}

impl FaultSelection {
    /// `all` or a spec list (`ACTOR:KIND@N,…`).
    ///
    /// # Errors
    /// A spec that does not parse, naming it.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if text.trim().is_empty() || text.trim() == "all" {
            return Ok(Self::All);
        }
        FaultPlan::parse(text, crate::spine::ACTOR_NAMES)
            .map(Self::Specs)
            .map_err(|e| anyhow!(e))
    }

    /// One fault plan per scenario, for a chain whose actors are `actors`.
    ///
    /// # Errors
    /// A spec naming an actor outside the chain (its fault would never fire).
    pub fn expand(&self, actors: &[String]) -> anyhow::Result<Vec<FaultPlan>> {
        match self {
            Self::All => Ok(chain_faults(actors)),
            Self::Specs(plan) => {
                let plans = plan.split();
                for p in &plans {
                    let named = p.to_string();
                    let actor = named.split(':').next().unwrap_or_default();
                    if !actors.iter().any(|a| a == actor) {
                        bail!(
                            "fault `{named}` targets `{actor}`, which has no job in the chain (actors: {})",
                            actors.join(", ")
                        );
                    }
                }
                Ok(plans)
            }
        }
    }
}

/// Every actor × panic, error, hang on its first job.
pub fn chain_faults(actors: &[String]) -> Vec<FaultPlan> {
    actors
        .iter()
        .flat_map(|a| DEFAULT_KINDS.map(|k| FaultPlan::single(a, k, 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_every_actor_by_kind_and_specs_must_hit_the_chain() {
        let actors = vec!["ingest".to_owned(), "derived".to_owned()];
        let all: Vec<String> = FaultSelection::parse("all")
            .unwrap()
            .expand(&actors)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            all,
            [
                "ingest:panic@1",
                "ingest:error@1",
                "ingest:hang@1",
                "derived:panic@1",
                "derived:error@1",
                "derived:hang@1"
            ]
        );
        let two = FaultSelection::parse("derived:actor-panic@1,ingest:permanent@1")
            .unwrap()
            .expand(&actors)
            .unwrap();
        assert_eq!(two.len(), 2);
        let e = FaultSelection::parse("portfolio:panic@1")
            .unwrap()
            .expand(&actors)
            .unwrap_err();
        assert!(e.to_string().contains("no job in the chain"), "{e}");
        assert!(FaultSelection::parse("derived:melt@1").is_err());
    }
}
