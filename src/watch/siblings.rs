//! Siblings that share one load. A server's workers — children of one
//! parent with one name and one title, such as nginx's `worker process`es —
//! take connections in turn: for a minute one worker's fd count climbs
//! while another's falls, and each, judged alone, can look like a leak
//! while the server as a whole holds steady.
//!
//! The rule: a `leaking` verdict of a process that has live siblings stands
//! only if the siblings' total leaks too, judged over the samples they all
//! share with the margin of the one process (so that one worker leaking
//! beside steady siblings still shows in the total, by as much as it would
//! alone). Otherwise the verdict is `shifting`. Pure: no system calls.

use crate::watch::series::{History, Metric, MetricVerdict};
use crate::watch::trend::{self, Margin, Verdict};

/// What makes processes siblings: the parent's PID, the name (`comm`) and
/// the title the process gave itself, if any.
pub type SiblingKey = (i32, String, Option<String>);

/// One watched process, as the sibling rule sees it.
pub struct Member<'a> {
    /// Its key; `None` when it has ended (an ended process shares no load).
    pub key: Option<SiblingKey>,
    /// Its samples.
    pub history: &'a History,
    /// Its verdicts, reconsidered in place.
    pub verdicts: &'a mut [MetricVerdict],
}

/// Turns each `leaking` verdict whose siblings' total does not leak into
/// `shifting`. Pure.
pub fn reconsider(members: &mut [Member<'_>]) {
    for index in 0..members.len() {
        let Some(key) = members[index].key.clone() else {
            continue;
        };
        let group: Vec<&History> = members
            .iter()
            .filter(|m| m.key.as_ref() == Some(&key))
            .map(|m| m.history)
            .collect();
        if group.len() < 2 {
            continue;
        }
        for verdict in members[index].verdicts.iter_mut() {
            let Some(metric) = verdict.of() else {
                continue;
            };
            if verdict.leaks() && !total_leaks(&group, metric, verdict) {
                verdict.verdict = Verdict::Shifting;
                verdict.time_to_limit_seconds = None;
                verdict.siblings = Some(group.len());
            }
        }
    }
}

/// Whether the siblings' total of `metric` leaks, by the margin of the
/// process whose `verdict` is reconsidered.
fn total_leaks(group: &[&History], metric: Metric, verdict: &MetricVerdict) -> bool {
    let margin = Margin {
        absolute: metric.margin().of(verdict.first.unwrap_or(0.0)),
        relative: 0.0,
    };
    trend::judge(&total(group, metric), margin).verdict == Verdict::Leaking
}

/// The sum of `metric` over `group`, at the times every member was sampled
/// (a watch samples all its processes at one tick time). Pure.
pub fn total(group: &[&History], metric: Metric) -> Vec<(f64, f64)> {
    let mut series = group.iter().map(|h| h.series(metric));
    let Some(first) = series.next() else {
        return Vec::new();
    };
    let others: Vec<std::collections::HashMap<u64, f64>> = series
        .map(|s| s.into_iter().map(|(t, v)| (t.to_bits(), v)).collect())
        .collect();
    first
        .into_iter()
        .filter_map(|(t, v)| {
            let rest: Option<f64> = others.iter().map(|o| o.get(&t.to_bits()).copied()).sum();
            Some((t, v + rest?))
        })
        .collect()
}

// Built from Linux samples.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::watch::sample::{Limits, Sample};

    fn sample(fds: u64) -> Sample {
        crate::watch::series::test_sample(fds)
    }

    fn history(fds: impl Fn(u64) -> u64) -> History {
        let mut history = History::new();
        for i in 0..60u64 {
            history.push(i as f64, sample(fds(i)), None);
        }
        history
    }

    const NO_LIMITS: Limits = Limits {
        max_fds: None,
        memory: None,
    };

    fn fds_verdict(histories: &[History], keys: &[Option<SiblingKey>]) -> Vec<(Verdict, Option<usize>, Option<f64>)> {
        let mut verdicts: Vec<Vec<MetricVerdict>> = histories
            .iter()
            .map(|h| {
                let mut limits = NO_LIMITS.clone();
                limits.max_fds = Some(1024);
                vec![h.verdict(Metric::Fds, &limits)]
            })
            .collect();
        let mut members: Vec<Member<'_>> = histories
            .iter()
            .zip(keys)
            .zip(verdicts.iter_mut())
            .map(|((history, key), verdicts)| Member {
                key: key.clone(),
                history,
                verdicts,
            })
            .collect();
        reconsider(&mut members);
        verdicts
            .iter()
            .map(|v| (v[0].verdict, v[0].siblings, v[0].time_to_limit_seconds))
            .collect()
    }

    fn worker() -> Option<SiblingKey> {
        Some((100, "nginx".to_string(), Some("nginx: worker process".to_string())))
    }

    #[test]
    fn connections_moving_between_workers_are_not_a_leak() {
        // Worker A gains what worker B loses: the server holds 160 fds.
        let histories = [history(|i| 60 + i), history(|i| 100 - i)];
        let alone = histories[0].verdict(Metric::Fds, &NO_LIMITS).verdict;
        assert_eq!(alone, Verdict::Leaking, "judged alone, worker A looks like a leak");
        let verdicts = fds_verdict(&histories, &[worker(), worker()]);
        assert_eq!(verdicts[0], (Verdict::Shifting, Some(2), None));
        assert_eq!(verdicts[1].0, Verdict::Shrinking);
    }

    #[test]
    fn one_worker_leaking_beside_steady_siblings_still_leaks() {
        let histories = [history(|i| 60 + i), history(|_| 60), history(|i| 60 + i % 3)];
        let verdicts = fds_verdict(&histories, &[worker(), worker(), worker()]);
        assert_eq!(verdicts[0].0, Verdict::Leaking);
        assert!(verdicts[0].2.is_some(), "a leak keeps its time to the limit");
    }

    #[test]
    fn processes_that_are_not_siblings_are_judged_alone() {
        let histories = [history(|i| 60 + i), history(|i| 100 - i), history(|i| 100 - i)];
        let other_title = Some((100, "nginx".to_string(), Some("nginx: cache manager".to_string())));
        let other_parent = Some((101, "nginx".to_string(), Some("nginx: worker process".to_string())));
        let verdicts = fds_verdict(&histories, &[worker(), other_title, other_parent]);
        assert_eq!(verdicts[0].0, Verdict::Leaking);
        // An ended sibling shares no load.
        let verdicts = fds_verdict(&histories[..2], &[worker(), None]);
        assert_eq!(verdicts[0].0, Verdict::Leaking);
    }

    #[test]
    fn the_total_is_taken_at_the_times_every_sibling_was_sampled() {
        let a = history(|i| i);
        let mut b = History::new();
        for i in (0..60u64).step_by(2) {
            b.push(i as f64, sample(1), None);
        }
        let total = total(&[&a, &b], Metric::Fds);
        assert_eq!(total.len(), 30);
        assert_eq!(total[1], (2.0, 3.0));
    }
}
