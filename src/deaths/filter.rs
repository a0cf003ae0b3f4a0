//! Which deaths the feed shows: pure functions over a [`Death`].

use super::Death;
use crate::exit::ExitStatus;
use crate::signal::Signal;

/// The filters of `afterlife deaths`; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these PIDs (any, if empty).
    pub pids: Vec<i32>,
    /// Only names (`comm`) that contain this.
    pub name: Option<String>,
    /// Only deaths in this cgroup or below it, or in this unit or container.
    pub cgroup: Option<String>,
    /// Only deaths by this signal.
    pub signal: Option<Signal>,
    /// Only deaths that were not `exit 0`.
    pub nonzero: bool,
}

impl Filter {
    /// Whether `death` passes. Pure.
    pub fn matches(&self, death: &Death) -> bool {
        (self.pids.is_empty() || self.pids.contains(&death.pid))
            && self
                .name
                .as_deref()
                .is_none_or(|pattern| death.name.as_deref().is_some_and(|n| n.contains(pattern)))
            && self.cgroup.as_deref().is_none_or(|wanted| in_cgroup(death, wanted))
            && self
                .signal
                .is_none_or(|wanted| matches!(death.status(), ExitStatus::Signaled { signal, .. } if signal == wanted))
            && (!self.nonzero || !death.status().success())
    }
}

/// Whether the death's cgroup is `wanted` or below it, or its unit or
/// container is `wanted` (a container ID may be given by its first 12
/// digits). Pure.
fn in_cgroup(death: &Death, wanted: &str) -> bool {
    let wanted_path = wanted.trim_end_matches('/');
    let by_path = death.cgroup.as_deref().is_some_and(|path| {
        wanted_path.is_empty()
            || path == wanted_path
            || path.strip_prefix(wanted_path).is_some_and(|rest| rest.starts_with('/'))
    });
    let by_unit = death.unit.as_deref() == Some(wanted);
    let by_container = wanted.len() >= 12 && death.container.as_deref().is_some_and(|id| id.starts_with(wanted));
    by_path || by_unit || by_container
}

#[cfg(test)]
mod tests {
    use super::*;

    fn death(pid: i32, name: &str, status: ExitStatus, cgroup: &str) -> Death {
        Death {
            name: Some(name.to_string()),
            ppid: Some(1),
            uid: Some(0),
            cgroup: Some(cgroup.to_string()),
            unit: crate::deaths::cgroup::unit_of(cgroup),
            ..Death::fixture(pid, status)
        }
    }

    #[test]
    fn filters_combine() {
        let ok = death(
            10,
            "sleep",
            ExitStatus::Exited { code: 0 },
            "/system.slice/cron.service",
        );
        let seven = death(
            11,
            "bash",
            ExitStatus::Exited { code: 7 },
            "/user.slice/session-1.scope",
        );
        let usr1 = death(
            12,
            "sleep",
            ExitStatus::Signaled {
                signal: Signal::from_number(libc::SIGUSR1).unwrap(),
                core_dumped: false,
            },
            "/system.slice/cron.service/sub",
        );
        let all = Filter::default();
        assert!(all.matches(&ok) && all.matches(&seven) && all.matches(&usr1));
        let nonzero = Filter {
            nonzero: true,
            ..Filter::default()
        };
        assert!(!nonzero.matches(&ok) && nonzero.matches(&seven) && nonzero.matches(&usr1));
        let by_signal = Filter {
            signal: Signal::from_number(libc::SIGUSR1),
            ..Filter::default()
        };
        assert!(!by_signal.matches(&seven) && by_signal.matches(&usr1));
        let by_name = Filter {
            name: Some("slee".to_string()),
            pids: vec![12],
            ..Filter::default()
        };
        assert!(!by_name.matches(&ok) && by_name.matches(&usr1));
        let by_cgroup = Filter {
            cgroup: Some("/system.slice/cron.service".to_string()),
            ..Filter::default()
        };
        assert!(by_cgroup.matches(&ok) && by_cgroup.matches(&usr1) && !by_cgroup.matches(&seven));
        let by_unit = Filter {
            cgroup: Some("session-1.scope".to_string()),
            ..Filter::default()
        };
        assert!(by_unit.matches(&seven) && !by_unit.matches(&ok));
        let not_prefix = Filter {
            cgroup: Some("/system.slice/cr".to_string()),
            ..Filter::default()
        };
        assert!(!not_prefix.matches(&ok));
    }
}
