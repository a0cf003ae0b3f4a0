//! `afterlife_process_deaths_total` for Prometheus: deaths counted by
//! cause, signal and cgroup. The label sets are bounded: no PID; the cgroup
//! label is the systemd unit or container where the path names one, else
//! the path, and after [`MAX_CGROUPS`] distinct values new ones are counted
//! under `other`. Served by `watch`'s exporter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::Death;
use crate::exit::ExitStatus;
use crate::watch::prometheus::escape_label;

/// How many distinct cgroup label values are kept.
pub const MAX_CGROUPS: usize = 200;

/// The cause label. Pure.
pub fn cause(death: &Death) -> &'static str {
    match death.status() {
        _ if death.oom.is_some() => "oom_kill",
        ExitStatus::Exited { code: 0 } => "exit_zero",
        ExitStatus::Exited { .. } => "exit_nonzero",
        ExitStatus::Signaled { core_dumped: true, .. } => "core_dump",
        ExitStatus::Signaled { .. } => "signal",
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct DeathCounters {
    counts: BTreeMap<(&'static str, String, String), u64>,
    cgroups: BTreeSet<String>,
}

impl DeathCounters {
    /// Counts one death.
    pub fn count(&mut self, death: &Death) {
        let signal = super::death_signal(death).map_or_else(String::new, |s| s.name().into_owned());
        let mut cgroup = death
            .unit
            .clone()
            .or_else(|| death.container.clone())
            .or_else(|| death.cgroup.clone())
            .unwrap_or_default();
        if !self.cgroups.contains(&cgroup) {
            if self.cgroups.len() >= MAX_CGROUPS {
                cgroup = "other".to_string();
            } else {
                self.cgroups.insert(cgroup.clone());
            }
        }
        *self.counts.entry((cause(death), signal, cgroup)).or_default() += 1;
    }

    /// The exposition text. Pure.
    pub fn render(&self, lost: u64) -> String {
        let mut text = String::new();
        text.push_str("# HELP afterlife_process_deaths_total Process deaths seen, by cause, signal and cgroup.\n");
        text.push_str("# TYPE afterlife_process_deaths_total counter\n");
        for ((cause, signal, cgroup), count) in &self.counts {
            let _ = writeln!(
                text,
                "afterlife_process_deaths_total{{cause=\"{cause}\",signal=\"{}\",cgroup=\"{}\"}} {count}",
                escape_label(signal),
                escape_label(cgroup)
            );
        }
        text.push_str("# HELP afterlife_process_deaths_lost_total Records lost before afterlife read them (BPF: deaths; proc connector: events of any kind).\n");
        text.push_str("# TYPE afterlife_process_deaths_lost_total counter\n");
        let _ = writeln!(text, "afterlife_process_deaths_lost_total {lost}");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deaths::OomKill;
    use crate::signal::Signal;

    fn death(status: ExitStatus, unit: Option<&str>) -> Death {
        Death {
            unit: unit.map(str::to_string),
            ..Death::fixture(1, status)
        }
    }

    #[test]
    fn causes_and_labels() {
        let mut counters = DeathCounters::default();
        let kill = ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        };
        counters.count(&death(ExitStatus::Exited { code: 0 }, Some("a.service")));
        counters.count(&death(ExitStatus::Exited { code: 0 }, Some("a.service")));
        counters.count(&death(ExitStatus::Exited { code: 3 }, None));
        let mut oom = death(kill, None);
        oom.oom = Some(OomKill {
            memory_cgroup: None,
            limit_file: None,
            limit_bytes: None,
            rss_bytes: 0,
            anon_rss_bytes: 0,
            file_rss_bytes: 0,
            shmem_rss_bytes: 0,
            total_vm_bytes: 0,
        });
        counters.count(&oom);
        let text = counters.render(2);
        assert!(
            text.contains("afterlife_process_deaths_total{cause=\"exit_zero\",signal=\"\",cgroup=\"a.service\"} 2\n")
        );
        assert!(text.contains("{cause=\"exit_nonzero\",signal=\"\",cgroup=\"/x\"} 1\n"));
        assert!(text.contains("{cause=\"oom_kill\",signal=\"SIGKILL\",cgroup=\"/x\"} 1\n"));
        assert!(text.contains("afterlife_process_deaths_lost_total 2\n"));
        assert!(!text.contains("pid"));
    }

    #[test]
    fn cgroup_labels_are_bounded() {
        let mut counters = DeathCounters::default();
        for i in 0..MAX_CGROUPS + 5 {
            let mut d = death(ExitStatus::Exited { code: 0 }, None);
            d.cgroup = Some(format!("/c{i}"));
            counters.count(&d);
        }
        assert!(counters.render(0).contains("cgroup=\"other\"} 5\n"));
    }
}
