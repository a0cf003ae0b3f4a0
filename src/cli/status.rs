//! `afterlife status`: text and JSON rendering of [`crate::observe::status`].

use crate::cli::output::{Output, Style};
use crate::cli::status_list::{self, StatusSide};
use crate::cli::{Failure, StatusArgs};
use crate::observe::EndingReport;
use crate::observe::status::{PidStatus, status_of};
use crate::process::{Pid, ProcessState};
use crate::text::{display_command_line, escape};

/// The Linux side of `status`: pidfds and /proc.
struct Linux;

impl StatusSide for Linux {
    type Status = PidStatus;
    type Error = crate::process::OpenError;
    fn status_of(&self, pid: Pid) -> Result<PidStatus, Self::Error> {
        status_of(pid)
    }
    fn is_running(&self, status: &PidStatus) -> bool {
        status.is_running()
    }
    fn describe(&self, status: &PidStatus, output: &Output) -> String {
        describe(status, output)
    }
}

pub(crate) fn run(args: &StatusArgs, output: &Output) -> Result<u8, Failure> {
    status_list::run(&Linux, args, output)
}

/// What a live process's state means for signals: the state's own words,
/// except for a kernel thread (user space's signals do not end it) and a
/// process whose cgroup is frozen (the v2 freezer lets fatal signals
/// through; one it handles waits for the thaw).
fn meaning(process: &crate::process::ProcessInfo) -> &'static str {
    if process.kernel_thread {
        return "a kernel thread: signals from user space do not end it";
    }
    if let Some(meaning) = exiting_meaning(process.exiting, process.main_thread_exited) {
        return meaning;
    }
    if matches!(process.state, ProcessState::Sleeping | ProcessState::DiskSleep) && in_frozen_cgroup(process.pid) {
        return "its cgroup is frozen (cgroup.freeze): it runs again once the cgroup is thawed; SIGKILL ends it \
now, and so does a signal it neither catches, ignores nor blocks whose default ends it without a core dump, \
as SIGTERM; any other signal waits for the thaw";
    }
    process.state.meaning()
}

/// What it means that the process has begun to exit (`PF_EXITING`),
/// where that is not its main thread alone ending while others run (the
/// process then lives on, and says so itself). Pure.
fn exiting_meaning(exiting: bool, main_thread_exited: bool) -> Option<&'static str> {
    (exiting && !main_thread_exited).then_some(
        "it is already exiting (PF_EXITING, in the kernel's do_exit): no signal changes that; it is a zombie, then \
gone, once the kernel has released its memory and files",
    )
}

/// The command line as `status` shows it: `[name]` for a kernel thread,
/// as ps does. A process in `do_exit` has already released its memory,
/// its command line with it: it reads empty, and is no kernel thread.
/// Pure.
fn command_words(process: &crate::process::ProcessInfo) -> String {
    if process.kernel_thread {
        return format!("[{}]", escape(&process.name));
    }
    if !process.cmdline.is_empty() {
        return display_command_line(&process.cmdline);
    }
    if process.exiting {
        "no command line (it went with the memory the process released on its way out)".to_string()
    } else {
        "no command line".to_string()
    }
}

/// Whether the cgroup v2 freezer holds `pid`. Unreadable: no.
fn in_frozen_cgroup(pid: Pid) -> bool {
    let Some(root) = crate::proc::mountinfo::CgroupMounts::read().v2 else {
        return false;
    };
    let Some(cgroup) = crate::proc::cgroup::read(pid)
        .ok()
        .and_then(|g| crate::proc::cgroup::v2_path(&g))
    else {
        return false;
    };
    crate::proc::cgroup::frozen(&crate::proc::cgroup::dir(&root, &cgroup)) == Some(true)
}

fn describe(status: &PidStatus, output: &Output) -> String {
    match status {
        PidStatus::Running { process } => {
            let command = command_words(process);
            format!(
                "{} {}: {} — {}, {}; parent {}; {}",
                process.pid,
                output.paint(Style::Bold, &escape(&process.name)),
                output.paint(
                    Style::Good,
                    if process.main_thread_exited {
                        "running (still active; its main thread has ended, other threads run)"
                    } else {
                        "running (still active)"
                    }
                ),
                process.state,
                meaning(process),
                process.ppid,
                command
            )
        }
        PidStatus::Zombie {
            process,
            ending,
            parent,
            tracer,
        } => {
            let how = match ending {
                EndingReport::Known { views, .. } => format!("{} ($? = {})", views.status, views.shell_code),
                EndingReport::Unobservable { reason } => format!("ended; exit status not observable: {reason}"),
            };
            let reaper = match (tracer, parent) {
                (Some(tracer), _) => format!(
                    "its tracer {} ({}, {}) has not waited for it: until it does (or detaches), the parent {} is \
not told it ended",
                    tracer.pid,
                    escape(&tracer.name),
                    tracer.state.name(),
                    process.ppid
                ),
                (None, Some(parent)) => format!(
                    "its parent {} ({}, {}) has not reaped it",
                    parent.pid,
                    escape(&parent.name),
                    parent.state.name()
                ),
                (None, None) => format!("its parent {} has not reaped it", process.ppid),
            };
            format!(
                "{} {}: {} — {how}; {reaper}",
                process.pid,
                output.paint(Style::Bold, &escape(&process.name)),
                output.paint(Style::Warn, "zombie"),
            )
        }
        PidStatus::Gone { pid } => format!(
            "{pid}: {} — no such process (it never existed, or it ended and was reaped)",
            output.paint(Style::Dim, "gone")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exiting_process_is_not_said_to_take_signals() {
        assert!(exiting_meaning(true, false).is_some_and(|m| m.contains("no signal changes that")));
        // Its main thread alone has ended: the process runs on.
        assert_eq!(exiting_meaning(true, true), None);
        assert_eq!(exiting_meaning(false, false), None);
    }
}
