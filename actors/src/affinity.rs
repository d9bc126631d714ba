//! Which CPUs the process's threads run on.
//!
//! Most of a job's time is hand-offs between threads that only wait for each other: the
//! actors' thread, the async workers and sqlx's SQLite worker threads, about 130 round trips
//! a session in a backfill. When the thread being woken sits on another, idle CPU, the wake-up
//! costs that CPU's way out of idle — on a virtual machine an exit to the hypervisor, a
//! tenth of a millisecond or more. Kept on one CPU, the same hand-off is a local switch: a
//! year of a 20-name backfill ran 28% faster with the whole process pinned to one CPU of two
//! (28.9 → 37.1 sessions/s, means of three), 19% with computation left free (34.5).
//!
//! So those threads share one CPU ([`share_one_cpu`], from `storage.share_one_cpu`), and
//! computation — everything that goes through `JobContext::compute`, with the threads it
//! starts — gets every CPU back ([`widen_for_compute`]).
//!
//! Since the store runs its SQLite reads and writes on the threads that ask for them (no
//! sqlx worker thread in between) few hand-offs are left: the 30-year real backfill took
//! 109.9 s pinned and 110.4 s not (2026-12-06), so the setting now matters little either way.

use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
use nix::unistd::Pid;
use std::sync::OnceLock;

/// The CPUs the process was allowed before [`share_one_cpu`] narrowed them.
static ALL_CPUS: OnceLock<CpuSet> = OnceLock::new();

/// Moves every thread of the process, and the threads they start from now on, to the CPU
/// the calling thread is on (so several `pv2` processes spread over the CPUs instead of
/// crowding the first). Does nothing with a single CPU. Returns the CPU.
///
/// # Errors
/// The system refused to read or set an affinity (the reason); the process then runs as
/// before.
pub fn share_one_cpu() -> Result<Option<usize>, String> {
    let all = sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("read CPU affinity: {e}"))?;
    let allowed: Vec<usize> = (0..CpuSet::count())
        .filter(|&c| all.is_set(c).unwrap_or(false))
        .collect();
    if allowed.len() < 2 {
        return Ok(None);
    }
    let here = sched_getcpu()
        .ok()
        .filter(|c| allowed.contains(c))
        .unwrap_or(allowed[0]);
    let _ = ALL_CPUS.set(all);
    let mut one = CpuSet::new();
    one.set(here).map_err(|e| format!("CPU {here}: {e}"))?;
    for tid in threads() {
        // A thread that ended meanwhile is no error.
        let _ = sched_setaffinity(Pid::from_raw(tid), &one);
    }
    sched_setaffinity(Pid::from_raw(0), &one).map_err(|e| format!("set CPU affinity: {e}"))?;
    Ok(Some(here))
}

/// Gives the calling thread (a computation's) every CPU the process had before
/// [`share_one_cpu`]; nothing when it never narrowed them.
pub fn widen_for_compute() {
    if let Some(all) = ALL_CPUS.get() {
        let _ = sched_setaffinity(Pid::from_raw(0), all);
    }
}

/// The ids of the process's threads.
fn threads() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_this_process_threads() {
        let me = nix::unistd::gettid().as_raw();
        assert!(threads().contains(&me));
    }
}
