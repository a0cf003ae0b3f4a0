//! Which findings apply, as pure functions over [`Facts`]: no system calls,
//! so every case is unit-tested on facts written by hand.
//!
//! The kernel behaviour encoded here, checked on Linux 6.18:
//! - a thread in D (uninterruptible sleep) takes no signal until its wait
//!   ends; SIGKILL stays queued (`TASK_KILLABLE` waits, such as vfork's, are
//!   the exception, but /proc shows them as D too);
//! - a stopped process (T) keeps every signal but SIGKILL pending until
//!   SIGCONT, even one whose default action terminates;
//! - the cgroup v2 freezer lets fatal signals through (SIGKILL, and a
//!   default-action SIGTERM); the v1 freezer holds even SIGKILL until thawed;
//! - PID 1 of a PID namespace gets only the signals it has a handler for,
//!   except SIGKILL and SIGSTOP sent from an ancestor namespace
//!   (pid_namespaces(7));
//! - a process-directed signal waits only if every thread blocks it.

use crate::process::ProcessState;
use crate::process::killable_wait;
use crate::resist::facts::{Disposition, Facts, FuseHolder, Mount, Readable, SyscallState, ThreadFacts, WaitTarget};
use crate::resist::report::{Diagnosis, Evidence, Finding, FindingKind, KillEffect, SignalOutcome, ThreadRef};
use crate::signal::{DefaultAction, Signal, signals_in_mask};
use crate::text::quote_command_line;

/// The signals users send to end a process, in the order they are reported.
pub const TERMINATION_SIGNALS: [Signal; 4] = [Signal::TERM, Signal::INT, Signal::HUP, Signal::QUIT];

/// Decides the diagnosis from the facts.
pub fn decide(facts: &Facts) -> Diagnosis {
    let findings = findings(facts);
    let sigkill = findings.iter().map(|f| f.sigkill).max().unwrap_or(KillEffect::EndsIt);
    let signals = TERMINATION_SIGNALS
        .iter()
        .chain([Signal::KILL].iter())
        .map(|&signal| signal_outcome(facts, signal))
        .collect();
    Diagnosis {
        pid: facts.pid,
        name: facts.name.clone(),
        command_line: facts.command_line.clone(),
        state: facts.state,
        threads: facts.threads.len().max(1),
        sigkill,
        findings,
        signals,
    }
}

fn findings(facts: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    if facts.is_kernel_thread() {
        out.push(kernel_thread(facts));
        return out;
    }
    if !facts.permission.may_signal() {
        out.push(other_user(facts));
    }
    let leader_dead = facts.state == ProcessState::Zombie || facts.state == ProcessState::Dead;
    let has_live_threads = facts.live_other_threads().next().is_some();
    if leader_dead && !has_live_threads {
        out.push(zombie(facts));
        return out;
    }
    if (facts.is_exiting() || leader_dead) && !facts.main_thread_ended_alone() {
        out.push(exiting(facts));
    }
    if facts.core_dumping {
        out.push(core_dumping(facts));
    }
    if facts.vfork_child.is_some() {
        out.push(vfork_parent(facts));
    }
    for thread in facts.threads.iter().filter(|t| t.state == ProcessState::DiskSleep) {
        out.push(uninterruptible(facts, thread));
    }
    out.extend(frozen_v1(facts));
    if let Some(finding) = frozen_v2(facts) {
        out.push(finding);
    }
    if facts.is_namespace_init() {
        out.push(namespace_init(facts));
    }
    if facts.state == ProcessState::Stopped || facts.threads.iter().any(|t| t.state == ProcessState::Stopped) {
        out.push(stopped(facts));
    }
    if facts.tracer_pid > 0 {
        out.push(traced(facts));
    } else if let Some(thread) = facts.traced_thread() {
        out.push(traced_thread(facts, thread));
    }
    if out.is_empty() {
        out.push(running(facts));
    }
    out.extend(signal_findings(facts));
    if let Some(finding) = pending(facts) {
        out.push(finding);
    }
    out
}

fn src(facts: &Facts, file: &str) -> String {
    format!("/proc/{}/{file}", facts.pid)
}

/// Where the process's state was read: its main thread's `stat`, or, when
/// the main thread has ended (alone, or first of an exiting process), the
/// `stat` of a thread that has not.
fn state_src(facts: &Facts) -> String {
    match facts.live_other_threads().next() {
        Some(thread) if facts.main_thread_ended() => thread_src(facts, thread, "stat state"),
        _ => src(facts, "stat state"),
    }
}

fn thread_src(facts: &Facts, thread: &ThreadFacts, file: &str) -> String {
    format!("/proc/{}/task/{}/{file}", facts.pid, thread.tid)
}

fn peer_words(pid: crate::process::Pid, name: &str, command_line: &[String]) -> String {
    if command_line.is_empty() {
        format!("{pid} ({name})")
    } else {
        format!("{pid} ({name}: {})", quote_command_line(command_line))
    }
}

fn mask_value(mask: u64) -> String {
    let names: Vec<String> = signals_in_mask(mask).iter().map(|s| s.name().into_owned()).collect();
    if names.is_empty() {
        format!("{mask:016x}")
    } else {
        format!("{mask:016x} ({})", names.join(" "))
    }
}

fn finding(kind: FindingKind, title: impl Into<String>, sigkill: KillEffect) -> Finding {
    Finding {
        kind,
        title: title.into(),
        explanation: String::new(),
        evidence: Vec::new(),
        next_step: String::new(),
        sigkill,
        thread: None,
        signals: Vec::new(),
    }
}

fn kernel_thread(facts: &Facts) -> Finding {
    let mut f = finding(FindingKind::KernelThread, "kernel thread", KillEffect::Ignored);
    f.evidence.push(Evidence::new(
        src(facts, "stat flags"),
        format!("{:#010x} (PF_KTHREAD set)", facts.flags),
    ));
    f.evidence
        .push(Evidence::new(src(facts, "stat ppid"), facts.ppid.to_string()));
    f.explanation = format!(
        "{} ({}) is a kernel thread: part of the kernel, with no user-space program behind it. \
It takes no signals; SIGKILL and SIGTERM are discarded.",
        facts.pid, facts.name
    );
    f.next_step = "Nothing to send. It stops when the kernel subsystem that owns it stops it: unload the module, \
unmount the filesystem or remove the device it serves."
        .to_string();
    f
}

fn other_user(facts: &Facts) -> Finding {
    let p = &facts.permission;
    let mut f = finding(
        FindingKind::OtherUser,
        format!("another user's process (uid {})", p.target_ruid),
        KillEffect::NotPermitted,
    );
    f.evidence.push(Evidence::new(
        src(facts, "status Uid (real, saved)"),
        format!("{} {}", p.target_ruid, p.target_suid),
    ));
    f.evidence.push(Evidence::new(
        "/proc/self/status Uid (real, effective)",
        format!("{} {}", p.our_ruid, p.our_euid),
    ));
    f.evidence.push(Evidence::new(
        "/proc/self/status CapEff CAP_KILL",
        if p.cap_kill { "present" } else { "absent" },
    ));
    if p.kernel_allows == Some(false) {
        f.evidence.push(Evidence::new("pidfd_send_signal (signal 0)", "EPERM"));
    }
    // CAP_KILL held in a user namespace of our own reaches no process
    // outside it.
    let without = if p.cap_kill {
        "whose CAP_KILL does not reach it (it holds only in a user namespace the process is not in)"
    } else {
        "without CAP_KILL"
    };
    f.explanation = format!(
        "It belongs to user {}; we run as user {} {without}, so the kernel refuses every signal we send (EPERM). \
Some of the facts below may be hidden from us for the same reason.",
        p.target_ruid, p.our_euid
    );
    f.next_step = format!(
        "Run as its owner or as root: sudo afterlife why {pid}, then sudo afterlife kill {pid}.",
        pid = facts.pid
    );
    f
}

fn zombie(facts: &Facts) -> Finding {
    let mut f = finding(FindingKind::Zombie, "zombie (Z): already dead", KillEffect::AlreadyDead);
    f.evidence
        .push(Evidence::new(state_src(facts), facts.state.letter().to_string()));
    f.evidence
        .push(Evidence::new(src(facts, "stat ppid"), facts.ppid.to_string()));
    if let Some(age) = facts.zombie_for {
        f.evidence.push(Evidence::new(
            src(
                facts,
                "sched se.exec_start (its last run, against our own on the same clock)",
            ),
            format!("{} ago", crate::duration::format_duration(age)),
        ));
    }
    // The age is read on the clock of the CPU it last ran on; where that
    // CPU is not ours to run on, it is unknown, and said so.
    let since = match facts.zombie_for {
        Some(age) => format!(
            " It has been a zombie for about {}.",
            crate::duration::format_duration(age)
        ),
        None => " How long it has been one is unknown.".to_string(),
    };
    if facts.tracer_pid > 0 {
        held_by_tracer(facts, &mut f, &since);
        return f;
    }
    let mut explanation = format!(
        "It has already exited; what is left is its entry in the process table, holding its exit status \
until its parent collects it with wait(). No signal can remove it, not even SIGKILL.{since}"
    );
    match &facts.parent {
        Some(parent) => {
            let p = &parent.peer;
            f.evidence.push(Evidence::new(
                format!("/proc/{}/stat state", p.pid),
                p.state.letter().to_string(),
            ));
            f.evidence.push(Evidence::new(
                format!("/proc/{}/status SigIgn/SigCgt SIGCHLD", p.pid),
                match parent.sigchld {
                    Disposition::Default => "default",
                    Disposition::Ignored => "ignored",
                    Disposition::Caught => "caught",
                },
            ));
            explanation.push_str(&format!(
                " Only its parent {} can remove it, and has not.",
                peer_words(p.pid, &p.name, &p.command_line)
            ));
            match parent.sigchld {
                Disposition::Ignored => explanation.push_str(
                    " The parent ignores SIGCHLD: the kernel reaps its new children by itself, \
but this zombie was left from before; it goes at the parent's next wait() call.",
                ),
                Disposition::Caught => explanation.push_str(
                    " The parent has a SIGCHLD handler, which evidently does not call wait() for this child.",
                ),
                Disposition::Default => explanation
                    .push_str(" The parent does not handle SIGCHLD: it must call wait() on its own, and it does not."),
            }
            if p.state == ProcessState::Stopped || p.state == ProcessState::TracingStop {
                explanation.push_str(" The parent is itself stopped, so it cannot reap anything now.");
                f.next_step = format!(
                    "Continue the parent (kill -CONT {}) so it can wait() for it; or end the parent \
(afterlife kill {}): the zombie is then handed to init or the nearest subreaper, which reaps it.",
                    p.pid, p.pid
                );
            } else if parent.is_namespace_init {
                explanation.push_str(
                    " The parent is PID 1 of its namespace, whose job is to reap orphans; this one does not \
(a program run as PID 1 in a container, without an init).",
                );
                f.next_step = format!(
                    "Run an init that reaps (tini, dumb-init, docker --init) as PID 1; ending PID {} ends its whole \
PID namespace and removes the zombie with it.",
                    p.pid
                );
            } else {
                f.next_step = format!(
                    "Make the parent {} reap it (fix its wait() handling), or end the parent (afterlife kill {}): \
the zombie is then handed to init or the nearest subreaper, which reaps it at once.",
                    p.pid, p.pid
                );
            }
        }
        None => {
            f.next_step = format!(
                "Its parent {} must wait() for it; if the parent is gone, init or a subreaper will reap it shortly.",
                facts.ppid
            );
        }
    }
    f.explanation = explanation;
    f
}

/// A zombie whose tracer has not waited for it: its parent cannot reap it
/// yet, however well it handles SIGCHLD. The kernel reports a traced
/// process's exit to its tracer first (`exit_notify`); only once the tracer
/// has waited for it, or detached (also by exiting), is the parent told.
fn held_by_tracer(facts: &Facts, f: &mut Finding, since: &str) {
    f.evidence.push(Evidence::new(
        src(facts, "status TracerPid"),
        facts.tracer_pid.to_string(),
    ));
    let tracer = match &facts.tracer {
        Some(tracer) => {
            f.title = format!(
                "zombie (Z): already dead, held by its tracer {} ({})",
                tracer.pid, tracer.name
            );
            f.evidence.push(Evidence::new(
                format!("/proc/{}/stat state", tracer.pid),
                tracer.state.letter().to_string(),
            ));
            if !tracer.command_line.is_empty() {
                f.evidence.push(Evidence::new(
                    format!("/proc/{}/cmdline", tracer.pid),
                    quote_command_line(&tracer.command_line),
                ));
            }
            peer_words(tracer.pid, &tracer.name, &tracer.command_line)
        }
        None => {
            f.title = format!("zombie (Z): already dead, held by its tracer {}", facts.tracer_pid);
            format!("{} (in another PID namespace)", facts.tracer_pid)
        }
    };
    let parent = match &facts.parent {
        Some(parent) => peer_words(parent.peer.pid, &parent.peer.name, &parent.peer.command_line),
        None => facts.ppid.to_string(),
    };
    f.explanation = format!(
        "It has already exited; what is left is its entry in the process table, holding its exit status. \
No signal can remove it, not even SIGKILL.{since} It is traced (ptrace) by {tracer}: the kernel reports a traced \
process's exit to its tracer first, and keeps it until the tracer collects it with wait(). The tracer has not, so \
its parent {parent} has not even been told yet: the parent is not at fault."
    );
    f.next_step = format!(
        "Detach or end the tracer {pid} (gdb: detach or quit; strace: Ctrl+C; or afterlife kill {pid}): once it lets \
go, the parent {ppid} is told and reaps it.",
        pid = facts.tracer_pid,
        ppid = facts.ppid
    );
}

/// The threads of an exiting process that keep it from ending: those not
/// yet in `do_exit` (SIGKILL queued, not acted on) and those stuck in it
/// asleep in D. A thread in `do_exit` that runs is the last one out
/// releasing the memory: it holds nothing up. Pure.
fn holding_threads<'a>(live: &[&'a ThreadFacts]) -> Vec<&'a ThreadFacts> {
    live.iter()
        .copied()
        .filter(|t| !t.exiting || matches!(t.state, ProcessState::DiskSleep | ProcessState::TracingStop))
        .collect()
}

fn exiting(facts: &Facts) -> Finding {
    let mut f = finding(FindingKind::Exiting, "exiting", KillEffect::Delayed);
    f.evidence
        .push(Evidence::new(state_src(facts), facts.state.letter().to_string()));
    f.evidence.push(Evidence::new(
        src(facts, "stat flags"),
        format!(
            "{:#010x}{}",
            facts.flags,
            if facts.flags & crate::resist::facts::PF_EXITING != 0 {
                " (PF_EXITING set)"
            } else {
                ""
            }
        ),
    ));
    let live: Vec<&ThreadFacts> = facts.live_other_threads().collect();
    for thread in &live {
        f.evidence.push(Evidence::new(
            thread_src(facts, thread, "stat state"),
            format!(
                "{} ({}){}",
                thread.state.letter(),
                thread.name,
                if thread.exiting { ", on its way out" } else { "" }
            ),
        ));
    }
    let live = holding_threads(&live);
    if live.is_empty() {
        f.sigkill = KillEffect::EndsIt;
        f.explanation = "It is already exiting (in the kernel's do_exit): it is releasing its memory and files and \
will be a zombie, then gone, in a moment."
            .to_string();
        f.next_step = format!(
            "Nothing to send; wait a moment (afterlife wait {}). If it stays, a thread is stuck in the kernel (see below).",
            facts.pid
        );
    } else {
        let names: Vec<String> = live
            .iter()
            .map(|t| format!("{} ({}, {})", t.tid, t.name, t.state.name()))
            .collect();
        f.title = format!("exiting, held by thread {}", names.join(", "));
        let why_not = if live.iter().all(|t| t.exiting && t.state == ProcessState::TracingStop) {
            "its tracer holds it stopped on its way out (PTRACE_EVENT_EXIT) until it lets it go"
        } else {
            "it has SIGKILL queued but has not acted on it"
        };
        f.explanation = format!(
            "It is already exiting: its main thread has finished, and the process ends when its other threads \
have ended too. Thread {} has not: {why_not}.",
            names.join(", ")
        );
        f.next_step =
            "Free the thread that holds it: see the findings about it below (uninterruptible sleep, freezer)."
                .to_string();
    }
    f
}

fn core_dumping(facts: &Facts) -> Finding {
    let mut f = finding(FindingKind::CoreDumping, "writing a core dump", KillEffect::Delayed);
    f.evidence.push(Evidence::new(src(facts, "status CoreDumping"), "1"));
    if let Some(thread) = facts.threads.iter().find(|t| t.state == ProcessState::DiskSleep)
        && let Some(wchan) = thread.wchan.value()
    {
        f.evidence
            .push(Evidence::new(thread_src(facts, thread, "wchan"), wchan.clone()));
    }
    let others: Vec<String> = facts
        .live_other_threads()
        .map(|t| format!("{} ({}, {})", t.tid, t.name, t.state.name()))
        .collect();
    f.explanation = "It is already dying: a signal ended it and the kernel is writing its core dump first. \
The dump waits until every other thread has stopped, then writes to the file or pipe named by \
/proc/sys/kernel/core_pattern; a slow disk, a pipe reader that does not read, or a thread that cannot stop keeps it here."
        .to_string();
    if !others.is_empty() {
        f.explanation
            .push_str(&format!(" Threads still to stop: {}.", others.join(", ")));
    }
    f.next_step = "Let the dump finish. SIGKILL aborts it (leaving an incomplete core file) once the dumping thread \
gets to check for it; a thread stuck in the kernel must be freed first (see below)."
        .to_string();
    f
}

fn vfork_parent(facts: &Facts) -> Finding {
    let Some((child, child_wchan)) = &facts.vfork_child else {
        return finding(FindingKind::VforkParent, "vfork parent", KillEffect::EndsIt);
    };
    let mut f = finding(
        FindingKind::VforkParent,
        format!("waiting for its vfork child {} ({})", child.pid, child.name),
        KillEffect::EndsIt,
    );
    let waiting = facts
        .threads
        .iter()
        .find(|t| t.waits_in_process_creation())
        .or(facts.threads.first());
    if let Some(main) = waiting {
        if let Readable::Value(SyscallState::In { number, name, .. }) = &main.syscall {
            f.evidence.push(Evidence::new(
                thread_src(facts, main, "syscall"),
                format!("{} ({number})", name.unwrap_or("?")),
            ));
        }
        if let Some(wchan) = main.wchan.value() {
            f.evidence
                .push(Evidence::new(thread_src(facts, main, "wchan"), wchan.clone()));
        }
    }
    f.evidence.push(Evidence::new(
        format!("kcmp(KCMP_VM, {}, {})", facts.pid, child.pid),
        "0 (same address space)",
    ));
    f.evidence.push(Evidence::new(
        format!("/proc/{}/stat state", child.pid),
        child.state.letter().to_string(),
    ));
    if let Some(wchan) = child_wchan.value() {
        f.evidence
            .push(Evidence::new(format!("/proc/{}/wchan", child.pid), wchan.clone()));
    }
    f.explanation = format!(
        "It called vfork() (or posix_spawn(), which uses it): it lent its memory to the child {} and waits, \
in the kernel, until that child calls exec or exits. The wait is killable: SIGKILL ends it, and so does any \
signal that would kill the process (one it neither catches, ignores nor blocks); other signals wait until the child \
lets go (posix_spawn also blocks them all meanwhile).",
        peer_words(child.pid, &child.name, &child.command_line)
    );
    f.next_step = format!(
        "Find out why the child {} does not exec{}; ending the child releases the parent. SIGKILL ends the parent now.",
        child.pid,
        child_wchan
            .value()
            .map(|w| format!(" (it waits in {w})"))
            .unwrap_or_default()
    );
    f
}

fn describe_syscall(state: &SyscallState) -> String {
    match state {
        SyscallState::Running => "running".to_string(),
        SyscallState::NotInSyscall => {
            "-1 (not in a system call: a page fault or a stop on the way to user space)".to_string()
        }
        SyscallState::In { number, name, args } => format!(
            "{}({:#x}, {:#x}, {:#x}, ...) (number {number})",
            name.unwrap_or("?"),
            args[0],
            args[1],
            args[2]
        ),
    }
}

fn uninterruptible(facts: &Facts, thread: &ThreadFacts) -> Finding {
    let single =
        facts.threads.len() <= 1 || thread.tid == facts.pid.get() && facts.live_other_threads().next().is_none();
    let title = if single {
        "uninterruptible sleep (D)".to_string()
    } else {
        format!("uninterruptible sleep (D) in thread {} ({})", thread.tid, thread.name)
    };
    let mut f = finding(FindingKind::UninterruptibleSleep, title, KillEffect::Delayed);
    f.thread = Some(ThreadRef {
        tid: thread.tid,
        name: thread.name.clone(),
    });
    f.evidence.extend(sleep_evidence(facts, thread));
    let wchan = thread.wchan.value().cloned();
    let mut explanation = sleep_explanation(single, thread, wchan.as_deref());
    let mut next = None;
    if let Some(target) = &thread.wait_target {
        let waits_on = waits_on(facts, thread, target, &mut f.evidence);
        explanation.push_str(&waits_on.words);
        next = waits_on.next_step;
    }
    if let Some(cause) = sleep_cause(facts, thread, wchan.as_deref()) {
        explanation.push_str(&cause.words);
        next = cause.next_step.or(next);
        if cause.killable {
            f.sigkill = KillEffect::EndsIt;
        }
    }
    f.explanation = explanation;
    f.next_step = next.unwrap_or_else(|| {
        "Wait for the I/O to finish, or find what the device or filesystem waits for (dmesg shows \"blocked for more \
than 120 seconds\" for hung tasks). A wait that never ends is a kernel or driver problem: only fixing the device, \
or a reboot, frees it."
            .to_string()
    });
    f
}

/// A thread in D, as /proc shows it: its state, wchan, kernel stack and
/// system call. Pure.
fn sleep_evidence(facts: &Facts, thread: &ThreadFacts) -> Vec<Evidence> {
    let mut evidence = vec![Evidence::new(thread_src(facts, thread, "stat state"), "D")];
    if let Some(state) = thread.kernel_state {
        evidence.push(Evidence::new(
            "task->__state (BPF task iterator)",
            crate::bpf::thread_states::describe(state),
        ));
    }
    match &thread.wchan {
        Readable::Value(w) => evidence.push(Evidence::new(thread_src(facts, thread, "wchan"), w.clone())),
        Readable::Denied => evidence.push(Evidence::new(thread_src(facts, thread, "wchan"), "(permission denied)")),
        Readable::Missing => {}
    }
    match &thread.stack {
        Readable::Value(frames) if !frames.is_empty() => {
            evidence.push(Evidence::new(thread_src(facts, thread, "stack"), frames.join(" < ")))
        }
        Readable::Denied => evidence.push(Evidence::new(
            thread_src(facts, thread, "stack"),
            "(readable only by root)",
        )),
        _ => {}
    }
    if let Readable::Value(state) = &thread.syscall {
        evidence.push(Evidence::new(
            thread_src(facts, thread, "syscall"),
            describe_syscall(state),
        ));
    }
    evidence
}

/// What D means for signals, said of the process or of one of its threads.
fn sleep_explanation(single: bool, thread: &ThreadFacts, wchan: Option<&str>) -> String {
    let mut explanation = format!(
        "{} is waiting inside the kernel{} and cannot be interrupted: signals, even SIGKILL, are queued and take \
effect only when the wait ends.",
        if single {
            "It".to_string()
        } else {
            format!("Thread {} ({})", thread.tid, thread.name)
        },
        wchan.map(|w| format!(" in {w}")).unwrap_or_default()
    );
    if !single {
        explanation.push_str(
            " One thread in D keeps the whole process alive: the process can end only once all its threads have left the kernel.",
        );
    }
    explanation
}

/// Words added to a D finding's explanation, and the next step they call
/// for, if any.
struct Addition {
    words: String,
    next_step: Option<String>,
    /// This wait is killable after all: SIGKILL ends it.
    killable: bool,
}

impl Addition {
    fn words(words: String) -> Addition {
        Addition {
            words,
            next_step: None,
            killable: false,
        }
    }
}

/// What the thread waits on (a file, on which mount), with its evidence.
fn waits_on(facts: &Facts, thread: &ThreadFacts, target: &WaitTarget, evidence: &mut Vec<Evidence>) -> Addition {
    evidence.push(Evidence::new(
        match target.fd {
            Some(fd) => thread_src(facts, thread, &format!("fd/{fd}")),
            None => thread_src(facts, thread, "syscall path argument"),
        },
        target.path.clone(),
    ));
    let Some(mount) = &target.mount else {
        return Addition::words(format!(" It waits on {}.", target.path));
    };
    evidence.push(Evidence::new(
        format!("/proc/{}/mountinfo mount {}", facts.pid, mount.mount_id),
        format!("{} on {} type {}", mount.source, mount.mount_point, mount.fs_type),
    ));
    if mount.is_fuse() {
        fuse_wait(target, mount, evidence)
    } else if mount.is_network() {
        Addition {
            words: format!(
                " It waits on {} on the network filesystem {} ({}): the server may not be answering.",
                target.path, mount.mount_point, mount.source
            ),
            next_step: Some(format!(
                "Bring the server {} back; or force the mount away (umount -f {mp}, then umount -l {mp}), \
which fails the request. Mount with soft or a timeout to avoid this.",
                mount.source,
                mp = mount.mount_point
            )),
            killable: false,
        }
    } else {
        Addition::words(format!(
            " It waits on {} ({} on {}).",
            target.path, mount.fs_type, mount.mount_point
        ))
    }
}

/// A wait on a FUSE filesystem: which server has not answered, how many
/// requests wait, and how to abort the connection. The server is the
/// holder of `/dev/fuse` whose fd serves the mount's connection; where the
/// kernel does not say which connection an fd serves, every holder is a
/// candidate and none is named as the one.
fn fuse_wait(target: &WaitTarget, mount: &Mount, evidence: &mut Vec<Evidence>) -> Addition {
    let connection = mount
        .fuse_connection()
        .map_or_else(|| "N".to_string(), |c| c.to_string());
    if let Some(waiting) = target.fuse_waiting {
        evidence.push(Evidence::new(
            format!("/sys/fs/fuse/connections/{connection}/waiting"),
            waiting.to_string(),
        ));
    }
    let (serving, unsure): (Vec<&FuseHolder>, Vec<&FuseHolder>) =
        target.fuse_servers.iter().partition(|h| h.connection.is_some());
    for holder in serving.iter().chain(&unsure).take(MAX_FUSE_HOLDERS) {
        evidence.push(fuse_evidence(holder));
    }
    let named = serving.first().or(match unsure.as_slice() {
        [only] => Some(only),
        _ => None,
    });
    let server = match (named, unsure.len()) {
        (Some(h), _) if !serving.is_empty() => format!("the FUSE server {}", holder_words(h)),
        (Some(h), _) => format!(
            "the FUSE server {}, the only process here holding /dev/fuse (this kernel does not say which \
connection an fd serves)",
            holder_words(h)
        ),
        (None, 0) => "a FUSE server that is not in this PID namespace (or has gone)".to_string(),
        (None, n) => format!(
            "its FUSE server, one of the {n} processes holding /dev/fuse (this kernel does not say which \
connection each serves: {})",
            unsure
                .iter()
                .map(|h| h.peer.pid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Addition {
        words: format!(
            " It waits on {} in the FUSE filesystem at {}, which {server} has not answered.",
            target.path, mount.mount_point
        ),
        next_step: Some(format!(
            "Make the FUSE server answer{}; or abort the connection ({}echo 1 > /sys/fs/fuse/connections/{connection}/abort) \
or detach the mount (umount -l {}), which fails the request and lets the signal through.",
            named
                .map(|h| if h.peer.state == ProcessState::Stopped {
                    format!(" (it is stopped: kill -CONT {})", h.peer.pid)
                } else {
                    format!(" (PID {})", h.peer.pid)
                })
                .unwrap_or_default(),
            // Its waiting count unread: the fusectl filesystem is not mounted.
            if target.fuse_waiting.is_none() {
                "mount -t fusectl none /sys/fs/fuse/connections, then "
            } else {
                ""
            },
            mount.mount_point
        )),
        killable: false,
    }
}

/// How many holders of `/dev/fuse` a finding lists as evidence.
const MAX_FUSE_HOLDERS: usize = 4;

fn fuse_evidence(holder: &FuseHolder) -> Evidence {
    let peer = &holder.peer;
    match holder.connection {
        Some(connection) => Evidence::new(
            format!("/proc/{}/fdinfo/{} fuse_connection", peer.pid, holder.fd),
            format!("{connection}: {} ({}, {})", peer.pid, peer.name, peer.state.name()),
        ),
        None => Evidence::new(
            format!("/proc/{}/fd/{} -> /dev/fuse", peer.pid, holder.fd),
            format!("{} ({}, {})", peer.pid, peer.name, peer.state.name()),
        ),
    }
}

fn holder_words(holder: &FuseHolder) -> String {
    let peer = &holder.peer;
    format!(
        "{} ({})",
        peer_words(peer.pid, &peer.name, &peer.command_line),
        peer.state.name()
    )
}

/// Why the thread is in D here, when the facts say: a frozen v1 freezer, a
/// vfork child, a core dump, or a killable wait.
fn sleep_cause(facts: &Facts, thread: &ThreadFacts, wchan: Option<&str>) -> Option<Addition> {
    if let Some(freezer) = thread.freezer_v1.as_ref().filter(|z| z.is_frozen()) {
        Some(Addition {
            words: format!(
                " Here the reason is the cgroup v1 freezer: its cgroup {} is {}.",
                freezer.cgroup, freezer.state
            ),
            next_step: Some(format!(
                "Thaw its freezer cgroup: echo THAWED > {}/freezer.state; queued signals then take effect.",
                freezer.dir.display()
            )),
            killable: false,
        })
    } else if facts.vfork_child.is_some() && thread.waits_in_process_creation() {
        Some(Addition {
            words: " Here it waits for its vfork child (see that finding); this wait is killable.".to_string(),
            next_step: Some("See the vfork finding: end the child, or SIGKILL the parent.".to_string()),
            killable: true,
        })
    } else if facts.core_dumping {
        Some(Addition {
            words: " Here it is part of writing a core dump (see that finding).".to_string(),
            next_step: Some("See the core dump finding.".to_string()),
            killable: false,
        })
    } else if thread.killable().unwrap_or_else(|| wchan.is_some_and(killable_wait)) {
        Some(Addition {
            words: " This particular wait is killable: SIGKILL ends it, and so does any signal that would kill the \
process (one it neither catches, ignores nor blocks)."
                .to_string(),
            next_step: None,
            killable: true,
        })
    } else {
        None
    }
}

fn frozen_v1(facts: &Facts) -> Vec<Finding> {
    // One finding per frozen cgroup, listing the threads it holds.
    let mut out: Vec<(&std::path::Path, Finding)> = Vec::new();
    for thread in &facts.threads {
        let Some(freezer) = thread.freezer_v1.as_ref().filter(|z| z.is_frozen()) else {
            continue;
        };
        if let Some((_, existing)) = out.iter_mut().find(|(dir, _)| *dir == freezer.dir.as_path()) {
            existing.evidence.push(Evidence::new(
                thread_src(facts, thread, "cgroup freezer"),
                freezer.cgroup.clone(),
            ));
            continue;
        }
        let mut f = finding(
            FindingKind::FrozenCgroupV1,
            format!("frozen by the cgroup v1 freezer ({})", freezer.cgroup),
            KillEffect::Delayed,
        );
        f.evidence.push(Evidence::new(
            format!("{}/freezer.state", freezer.dir.display()),
            freezer.state.clone(),
        ));
        if let Some(own) = freezer.self_freezing {
            f.evidence.push(Evidence::new(
                format!("{}/freezer.self_freezing", freezer.dir.display()),
                u8::from(own).to_string(),
            ));
        }
        if let Some(parent) = freezer.parent_freezing {
            f.evidence.push(Evidence::new(
                format!("{}/freezer.parent_freezing", freezer.dir.display()),
                u8::from(parent).to_string(),
            ));
        }
        f.evidence.push(Evidence::new(
            thread_src(facts, thread, "cgroup freezer"),
            freezer.cgroup.clone(),
        ));
        f.explanation = format!(
            "The cgroup v1 freezer holds {}: frozen tasks do not run, show as D, and take no signal — \
not even SIGKILL — until they are thawed.",
            if facts.threads.len() > 1 {
                "threads of this process"
            } else {
                "this process"
            }
        );
        f.next_step = if freezer.parent_freezing == Some(true) && freezer.self_freezing != Some(true) {
            format!(
                "An ancestor of {} is frozen: write THAWED to the freezer.state of the frozen ancestor; \
queued signals, SIGKILL included, then take effect.",
                freezer.dir.display()
            )
        } else {
            format!(
                "Thaw it: echo THAWED > {}/freezer.state; queued signals, SIGKILL included, then take effect.",
                freezer.dir.display()
            )
        };
        out.push((freezer.dir.as_path(), f));
    }
    out.into_iter().map(|(_, f)| f).collect()
}

fn frozen_v2(facts: &Facts) -> Option<Finding> {
    let cgroup = facts.cgroup_v2.as_ref().filter(|c| c.is_frozen())?;
    let mut f = finding(
        FindingKind::FrozenCgroupV2,
        format!("frozen by the cgroup v2 freezer ({})", cgroup.cgroup),
        KillEffect::EndsIt,
    );
    if let Some(dir) = cgroup.freezing_dir() {
        f.evidence
            .push(Evidence::new(format!("{}/cgroup.freeze", dir.display()), "1"));
    }
    if let Some(frozen) = cgroup.events_frozen {
        f.evidence.push(Evidence::new(
            format!("{}/cgroup.events frozen", cgroup.dir.display()),
            u8::from(frozen).to_string(),
        ));
    }
    f.evidence
        .push(Evidence::new(src(facts, "cgroup"), format!("0::{}", cgroup.cgroup)));
    f.explanation = "Its cgroup is frozen (cgroup v2): it does not run. The v2 freezer lets fatal signals through, \
so SIGKILL ends it, and so does any signal whose default action terminates it; signals it catches wait until \
the cgroup is thawed."
        .to_string();
    let freeze_dir = cgroup.freezing_dir().unwrap_or(&cgroup.dir);
    f.next_step = format!(
        "Thaw it (echo 0 > {}/cgroup.freeze) so it can handle SIGTERM, or end it with SIGKILL now; \
echo 1 > {}/cgroup.kill ends the whole cgroup.",
        freeze_dir.display(),
        cgroup.dir.display()
    );
    Some(f)
}

fn namespace_init(facts: &Facts) -> Finding {
    let from_inside = facts.ns_pids.len() <= 1;
    let mut f = finding(
        FindingKind::NamespaceInit,
        if from_inside {
            "PID 1 of our own PID namespace".to_string()
        } else {
            format!("PID 1 of a child PID namespace (PID {} here)", facts.pid)
        },
        if from_inside {
            KillEffect::Ignored
        } else {
            KillEffect::EndsIt
        },
    );
    f.evidence.push(Evidence::new(
        src(facts, "status NSpid"),
        facts.ns_pids.iter().map(i32::to_string).collect::<Vec<_>>().join(" "),
    ));
    f.evidence.push(Evidence::new(
        src(facts, "status SigCgt"),
        mask_value(facts.masks.caught),
    ));
    let handled: Vec<String> = TERMINATION_SIGNALS
        .iter()
        .filter(|s| facts.disposition(**s) == Disposition::Caught)
        .map(|s| s.name().into_owned())
        .collect();
    let handled_words = if handled.is_empty() {
        "It has a handler for none of SIGTERM, SIGINT, SIGHUP, SIGQUIT.".to_string()
    } else {
        format!("It has handlers for {}.", handled.join(", "))
    };
    if from_inside {
        f.explanation = format!(
            "It is PID 1 of the PID namespace we are in: the kernel delivers to it only the signals it has a \
handler for, and SIGKILL never. {handled_words}"
        );
        f.next_step = "Ask it to stop through its own interface (an init system's shutdown command); from inside its \
namespace it cannot be killed. From the parent namespace, SIGKILL ends it and with it every process of the namespace."
            .to_string();
    } else {
        f.explanation = format!(
            "It is PID 1 of a PID namespace below ours (a container or `unshare --pid`): signals it has no handler \
for are dropped, even from here; only SIGKILL and SIGSTOP are forced from an ancestor namespace. {handled_words} \
Ending it ends every process of its namespace."
        );
        f.next_step = format!(
            "Send SIGKILL from here (afterlife kill --signal KILL {}), which ends the whole namespace; for graceful \
stops, run an init (tini, dumb-init) that forwards SIGTERM.",
            facts.pid
        );
    }
    f
}

fn stopped(facts: &Facts) -> Finding {
    let mut f = finding(FindingKind::Stopped, "stopped (T)", KillEffect::EndsIt);
    // The reading that says T: the process's, or a thread's where the
    // process read otherwise (a group stop under way between the reads).
    let stopped_thread = facts
        .threads
        .iter()
        .find(|t| t.state == ProcessState::Stopped)
        .filter(|_| facts.state != ProcessState::Stopped);
    f.evidence.push(match stopped_thread {
        Some(thread) => Evidence::new(
            thread_src(facts, thread, "stat state"),
            thread.state.letter().to_string(),
        ),
        None => Evidence::new(state_src(facts), facts.state.letter().to_string()),
    });
    let mut explanation = "It is stopped (by SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU): it does not run. SIGKILL still \
ends it at once; every other signal, even a SIGTERM it does not handle, stays pending until it is continued with SIGCONT."
        .to_string();
    let mut next = format!(
        "Continue it (kill -CONT {}) so pending signals take effect, or end it now with SIGKILL.",
        facts.pid
    );
    if let Some(tty) = &facts.tty {
        f.evidence.push(Evidence::new(src(facts, "stat tty_nr"), tty.clone()));
        f.evidence.push(Evidence::new(
            src(facts, "stat pgrp, tpgid"),
            format!("{} {}", facts.pgid, facts.tpgid),
        ));
        let shell = facts
            .session_leader
            .as_ref()
            .map(|s| format!("{} ({})", s.pid, s.name))
            .unwrap_or_else(|| format!("{}", facts.sid));
        if facts.pgid != facts.tpgid {
            explanation.push_str(&format!(
                " It is a background job (process group {}) of the shell {shell} on {tty}: job control stopped it — \
Ctrl+Z, or SIGTTIN/SIGTTOU when it touched the terminal from the background.",
                facts.pgid
            ));
            next = format!(
                "In the shell {shell} on {tty}: fg (or bg) continues it; or kill -CONT {}; SIGKILL ends it now.",
                facts.pid
            );
        } else {
            explanation.push_str(&format!(
                " It is the foreground job of {tty} (shell {shell}), stopped by a signal; the kernel does not record who sent it."
            ));
        }
    } else {
        explanation.push_str(
            " It has no terminal, so no terminal stopped it: a process sent it a stop signal (SIGSTOP, or SIGTSTP, SIGTTIN or SIGTTOU with kill); the kernel does not record which, nor who.",
        );
    }
    f.explanation = explanation;
    f.next_step = next;
    f
}

fn traced(facts: &Facts) -> Finding {
    let mut f = finding(FindingKind::Traced, "debugger attached", KillEffect::EndsIt);
    f.evidence.push(Evidence::new(
        src(facts, "status TracerPid"),
        facts.tracer_pid.to_string(),
    ));
    f.evidence
        .push(Evidence::new(state_src(facts), facts.state.letter().to_string()));
    let tracer = match &facts.tracer {
        Some(tracer) => {
            f.title = format!("traced by {} ({})", tracer.pid, tracer.name);
            f.evidence.push(Evidence::new(
                format!("/proc/{}/cmdline", tracer.pid),
                quote_command_line(&tracer.command_line),
            ));
            peer_words(tracer.pid, &tracer.name, &tracer.command_line)
        }
        None => format!("{} (gone, or in another PID namespace)", facts.tracer_pid),
    };
    let mut explanation = format!(
        "A tracer is attached with ptrace: {tracer}. Every signal goes to the tracer first, which may pass it on \
or suppress it; SIGKILL alone bypasses it."
    );
    if facts.stopped_at_exit() {
        f.sigkill = KillEffect::Delayed;
        f.title.push_str(", stopped at its exit");
        f.evidence.push(Evidence::new(
            src(facts, "stat flags"),
            format!("{:#010x} (PF_SIGNALED: a fatal signal was taken)", facts.flags),
        ));
        explanation.push_str(
            " It is already exiting, and the tracer stopped it on its way out (PTRACE_EVENT_EXIT): SIGKILL \
does nothing more; it ends once the tracer lets it go.",
        );
        f.explanation = explanation;
        f.next_step = format!(
            "Let the tracer {t} continue or detach it (gdb: continue or detach; a stopped tracer: kill -CONT {t}), \
or end the tracer.",
            t = facts.tracer_pid
        );
        return f;
    }
    if facts.state == ProcessState::TracingStop {
        f.title.push_str(", in a tracing stop (t)");
        explanation.push_str(" Right now the tracer holds it stopped (t): it runs again only when the tracer lets it.");
    }
    f.explanation = explanation;
    f.next_step = format!(
        "Detach or end the tracer {} (gdb: detach; strace: Ctrl+C); or end the process with SIGKILL, which works under a tracer.",
        facts.tracer_pid
    );
    f
}

/// A tracer attached to one thread other than the main one, which has
/// none: `/proc/PID/status` reads `TracerPid: 0`, the thread's own status
/// names the tracer.
fn traced_thread(facts: &Facts, thread: &ThreadFacts) -> Finding {
    let mut f = finding(FindingKind::Traced, "debugger attached to a thread", KillEffect::EndsIt);
    f.evidence.push(Evidence::new(
        thread_src(facts, thread, "status TracerPid"),
        thread.tracer_pid.to_string(),
    ));
    f.evidence.push(Evidence::new(
        thread_src(facts, thread, "stat state"),
        thread.state.letter().to_string(),
    ));
    let tracer = match facts.tracer.as_ref().filter(|t| t.pid.get() == thread.tracer_pid) {
        Some(tracer) => {
            f.title = format!("thread {} traced by {} ({})", thread.tid, tracer.pid, tracer.name);
            peer_words(tracer.pid, &tracer.name, &tracer.command_line)
        }
        None => format!("{} (gone, or in another PID namespace)", thread.tracer_pid),
    };
    let mut explanation = format!(
        "A tracer is attached with ptrace to thread {} ({}), not to the main thread: {tracer}. The signals that \
thread takes go to the tracer first, which may pass them on or suppress them; SIGKILL alone bypasses it.",
        thread.tid, thread.name
    );
    if thread.state == ProcessState::TracingStop && thread.exiting {
        f.sigkill = KillEffect::Delayed;
        f.title.push_str(", stopped at its exit");
        explanation.push_str(
            " The process is exiting, and the tracer stopped that thread on its way out (PTRACE_EVENT_EXIT): \
SIGKILL does nothing more; it ends once the tracer lets it go.",
        );
    } else if thread.state == ProcessState::TracingStop {
        explanation.push_str(" Right now the tracer holds that thread stopped (t).");
    }
    f.explanation = explanation;
    f.next_step = format!(
        "Detach or end the tracer {} (gdb: detach; strace: Ctrl+C); or end the process with SIGKILL, which works under a tracer.",
        thread.tracer_pid
    );
    f
}

/// What the process does with each termination signal that it does not
/// simply take with the default action: blocked in every thread, ignored,
/// or caught. Each signal is in at most one list: ignored first where
/// the kernel drops it on sending ([`Facts::discards`]), then blocked (a
/// blocked signal stays pending, whatever its disposition). Pure.
fn held_signals(facts: &Facts) -> [Vec<Signal>; 3] {
    let mut blocked = Vec::new();
    let mut ignored = Vec::new();
    let mut caught = Vec::new();
    for signal in TERMINATION_SIGNALS {
        let bit = 1u64 << (signal.number() - 1);
        if facts.discards(signal) {
            ignored.push(signal);
            continue;
        }
        if facts.blocked_everywhere() & bit != 0 {
            blocked.push(signal);
            continue;
        }
        match facts.disposition(signal) {
            Disposition::Ignored => ignored.push(signal),
            Disposition::Caught => caught.push(signal),
            Disposition::Default => {}
        }
    }
    [blocked, ignored, caught]
}

/// One finding per way of holding termination signals (blocked, ignored,
/// caught), each naming every signal held that way.
fn signal_findings(facts: &Facts) -> Vec<Finding> {
    let [blocked, ignored, caught] = held_signals(facts);
    let mut out = Vec::new();
    if !blocked.is_empty() {
        out.push(blocked_finding(facts, blocked));
    }
    if !ignored.is_empty() {
        out.push(ignored_finding(facts, ignored));
    }
    if !caught.is_empty() {
        out.push(caught_finding(facts, caught));
    }
    out
}

/// `SIGTERM`, `SIGTERM and SIGINT`, `SIGTERM, SIGINT and SIGHUP`, and
/// whether that is more than one.
fn signal_names(signals: &[Signal]) -> (String, bool) {
    let names: Vec<String> = signals.iter().map(|s| s.name().into_owned()).collect();
    let words = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    (words, names.len() > 1)
}

fn blocked_finding(facts: &Facts, signals: Vec<Signal>) -> Finding {
    let (names, many) = signal_names(&signals);
    let mut f = finding(
        FindingKind::SignalBlocked,
        format!("{names} blocked"),
        KillEffect::EndsIt,
    );
    for thread in facts.threads.iter().filter(|t| t.state.is_alive()) {
        f.evidence.push(Evidence::new(
            thread_src(facts, thread, "status SigBlk"),
            mask_value(thread.blocked),
        ));
    }
    f.explanation = format!(
        "{names} {} blocked in every thread: {} pending, undelivered, until a thread unblocks {} (the program chose \
to block {}, for instance around a critical section, or forgot to unblock {}).",
        if many { "are" } else { "is" },
        if many { "they stay" } else { "it stays" },
        if many { "them" } else { "it" },
        if many { "them" } else { "it" },
        if many { "them" } else { "it" },
    );
    f.next_step = format!(
        "Send SIGKILL, which cannot be blocked; {names} {} effect if the program unblocks {}.",
        if many { "take" } else { "takes" },
        if many { "them" } else { "it" },
    );
    f.signals = signals;
    f
}

fn ignored_finding(facts: &Facts, signals: Vec<Signal>) -> Finding {
    let (names, many) = signal_names(&signals);
    let mut f = finding(
        FindingKind::SignalIgnored,
        format!("{names} ignored"),
        KillEffect::EndsIt,
    );
    f.evidence.push(Evidence::new(
        src(facts, "status SigIgn"),
        mask_value(facts.masks.ignored),
    ));
    f.explanation = format!(
        "{names} {} ignored (SIG_IGN, set by the program or inherited across exec from its parent, \
as nohup and `trap '' TERM` do): the kernel discards {} on arrival.",
        if many { "are" } else { "is" },
        if many { "them" } else { "it" },
    );
    f.next_step = "Send SIGKILL, which cannot be ignored.".to_string();
    f.signals = signals;
    f
}

fn caught_finding(facts: &Facts, signals: Vec<Signal>) -> Finding {
    let (names, many) = signal_names(&signals);
    let mut f = finding(
        FindingKind::SignalCaught,
        format!("{names} caught by {}", if many { "handlers" } else { "a handler" }),
        KillEffect::EndsIt,
    );
    f.evidence.push(Evidence::new(
        src(facts, "status SigCgt"),
        mask_value(facts.masks.caught),
    ));
    f.explanation = format!(
        "{names} {} caught by {}: the program decides what {} — clean up and exit, take its time, \
or carry on as if nothing happened.",
        if many { "are" } else { "is" },
        if many { "handlers" } else { "a handler" },
        if many { "each does" } else { "it does" },
    );
    f.next_step =
        "Give the handler a grace period (afterlife kill waits, then escalates); if it does not exit, send SIGKILL."
            .to_string();
    f.signals = signals;
    f
}

fn pending(facts: &Facts) -> Option<Finding> {
    let per_thread: u64 = facts.threads.iter().fold(0, |m, t| m | t.pending);
    let all = facts.masks.shared_pending | per_thread;
    if all == 0 {
        return None;
    }
    let names: Vec<String> = signals_in_mask(all).iter().map(|s| s.name().into_owned()).collect();
    let mut f = finding(
        FindingKind::SignalsPending,
        format!("pending: {}", names.join(" ")),
        KillEffect::EndsIt,
    );
    if facts.masks.shared_pending != 0 {
        f.evidence.push(Evidence::new(
            src(facts, "status ShdPnd"),
            mask_value(facts.masks.shared_pending),
        ));
    }
    for thread in facts.threads.iter().filter(|t| t.pending != 0) {
        f.evidence.push(Evidence::new(
            thread_src(facts, thread, "status SigPnd"),
            mask_value(thread.pending),
        ));
    }
    f.explanation = format!(
        "Signals sent but not yet delivered: {}. They are delivered when a thread that does not block them next \
runs — not while it is stopped, frozen or in uninterruptible sleep.",
        names.join(", ")
    );
    f.next_step = "See the findings above for what holds them back.".to_string();
    Some(f)
}

fn running(facts: &Facts) -> Finding {
    let mut f = finding(
        FindingKind::Running,
        format!("{}: nothing holds it", facts.state.name()),
        KillEffect::EndsIt,
    );
    f.evidence
        .push(Evidence::new(state_src(facts), facts.state.letter().to_string()));
    f.evidence.push(Evidence::new(src(facts, "status TracerPid"), "0"));
    let outcomes: Vec<SignalOutcome> = TERMINATION_SIGNALS
        .iter()
        .map(|&signal| signal_outcome(facts, signal))
        .collect();
    let term = &outcomes[0];
    f.explanation = format!(
        "It is {}: nothing in the kernel holds it, no debugger is attached, and signals are delivered at once. \
What SIGTERM would do: {}.",
        match facts.state {
            ProcessState::Running => "running or ready to run",
            ProcessState::Sleeping => "sleeping interruptibly, waiting for an event",
            _ => facts.state.name(),
        },
        term.effect
    );
    f.next_step = running_next_step(facts.pid, &outcomes);
    f
}

/// The next step for a process nothing holds, from what each termination
/// signal would do (`outcomes`, SIGTERM first): SIGTERM where it ends it
/// or a handler decides; where it is ignored or blocked, another signal
/// that ends it now, else SIGKILL. Pure.
fn running_next_step(pid: crate::process::Pid, outcomes: &[SignalOutcome]) -> String {
    let Some(term) = outcomes.iter().find(|o| o.signal == Signal::TERM) else {
        return format!("SIGKILL ends it (afterlife kill --signal KILL {pid}).");
    };
    if term.ends_it_now {
        return format!("SIGTERM ends it (afterlife kill {pid}); SIGKILL if it must end at once.");
    }
    // Ignored or blocked: SIGTERM would do nothing, and a grace period
    // would only delay the SIGKILL.
    let nothing = match term.handling {
        "ignored" => "nothing (it is ignored)",
        "blocked" => "nothing now (it stays pending: every thread blocks it)",
        _ => {
            return format!(
                "Send SIGTERM and give it a grace period; SIGKILL ends it in any case (afterlife kill {pid} does both)."
            );
        }
    };
    let working = outcomes
        .iter()
        .find(|o| o.signal != Signal::TERM && o.ends_it_now && o.signal.default_action() == DefaultAction::Terminate);
    match working {
        Some(other) => {
            let name = other.signal.short_name();
            format!(
                "SIGTERM would do {nothing}; {} ends it (afterlife kill --signal {name} {pid}), or SIGKILL at once \
(afterlife kill --signal KILL {pid}).",
                other.signal
            )
        }
        None => format!(
            "SIGTERM would do {nothing}: send SIGKILL, which cannot be caught, blocked or ignored \
(afterlife kill --signal KILL {pid})."
        ),
    }
}

/// What `signal` would do to the process now.
pub fn signal_outcome(facts: &Facts, signal: Signal) -> SignalOutcome {
    let outcome = |handling: &'static str, ends_it_now: bool, effect: String| SignalOutcome {
        signal,
        handling,
        ends_it_now,
        effect,
    };
    let is_kill = signal == Signal::KILL;
    if facts.is_kernel_thread() {
        return outcome(
            "discarded",
            false,
            "nothing: kernel threads take no signals".to_string(),
        );
    }
    let leader_dead = facts.state == ProcessState::Zombie || facts.state == ProcessState::Dead;
    if leader_dead && facts.live_other_threads().next().is_none() {
        return outcome(
            "discarded",
            false,
            if facts.tracer_pid > 0 {
                "nothing: it is already dead; only a wait() by its tracer removes it".to_string()
            } else {
                "nothing: it is already dead; only its parent's wait() removes it".to_string()
            },
        );
    }
    if !facts.permission.may_signal() {
        return outcome(
            "not_permitted",
            false,
            "nothing: the kernel refuses to send it (EPERM)".to_string(),
        );
    }
    let disposition = facts.disposition(signal);
    if facts.is_namespace_init() && (is_kill || disposition != Disposition::Caught) {
        let from_inside = facts.ns_pids.len() <= 1;
        if from_inside || !is_kill {
            return outcome(
                "discarded",
                false,
                "nothing: PID 1 of a PID namespace gets only the signals it has a handler for".to_string(),
            );
        }
    }
    let frozen_v1 = facts
        .threads
        .iter()
        .any(|t| t.freezer_v1.as_ref().is_some_and(|z| z.is_frozen()));
    let in_d = facts.threads.iter().any(|t| {
        t.state == ProcessState::DiskSleep
            && !t
                .killable()
                .unwrap_or_else(|| t.wchan.value().is_some_and(|w| killable_wait(w)))
    });
    let vfork = facts.vfork_child.is_some();
    let frozen_v2 = facts.cgroup_v2.as_ref().is_some_and(|c| c.is_frozen());
    let stopped = facts.state == ProcessState::Stopped || facts.state == ProcessState::TracingStop;
    // SIGCONT does not resume a tracing stop: only the tracer does.
    let continued = if facts.state == ProcessState::TracingStop {
        " once its tracer lets it run"
    } else {
        " once it is continued (SIGCONT)"
    };
    let dying = (facts.is_exiting() || leader_dead) && !facts.main_thread_ended_alone() || facts.core_dumping;
    if is_kill {
        return if frozen_v1 {
            outcome(
                "forced",
                false,
                "queued until its freezer cgroup is thawed, then ends it".to_string(),
            )
        } else if facts.stopped_at_exit() {
            outcome(
                "forced",
                false,
                "nothing more: it is already dying, held at its exit by its tracer".to_string(),
            )
        } else if dying && in_d {
            outcome(
                "forced",
                false,
                "little: it is already dying, held by a thread in the kernel".to_string(),
            )
        } else if dying {
            outcome(
                "forced",
                false,
                "nothing more: it is already dying, and is gone in a moment".to_string(),
            )
        } else if in_d && !vfork {
            outcome(
                "forced",
                false,
                "queued; ends it when the uninterruptible wait ends".to_string(),
            )
        } else {
            outcome(
                "forced",
                true,
                "ends it at once (it cannot be caught, blocked or ignored)".to_string(),
            )
        };
    }
    let bit = 1u64 << (signal.number() - 1);
    if facts.discards(signal) {
        return outcome("ignored", false, "nothing: it is ignored (SIG_IGN)".to_string());
    }
    if facts.blocked_everywhere() & bit != 0 {
        return outcome("blocked", false, "stays pending: every thread blocks it".to_string());
    }
    match disposition {
        Disposition::Ignored => outcome("ignored", false, "nothing: it is ignored (SIG_IGN)".to_string()),
        Disposition::Caught => {
            let when = if frozen_v1 || frozen_v2 {
                " once its cgroup is thawed"
            } else if stopped {
                continued
            } else if in_d {
                " once the uninterruptible wait ends"
            } else {
                ""
            };
            let tracer = if facts.tracer_pid > 0 {
                " (the tracer sees it first)"
            } else {
                ""
            };
            outcome(
                "caught",
                false,
                format!("run its handler{when}{tracer}, which decides whether it exits"),
            )
        }
        Disposition::Default => {
            let action = signal.default_action();
            let ends = matches!(action, DefaultAction::Terminate | DefaultAction::Core);
            let what = action.describe();
            if !ends {
                return outcome("default", false, what.to_string());
            }
            if frozen_v1 {
                outcome("default", false, format!("{what} once its freezer cgroup is thawed"))
            } else if dying || facts.stopped_at_exit() {
                outcome("default", false, "little: it is already dying".to_string())
            } else if stopped {
                outcome("default", false, format!("{what}, but only{continued}"))
            } else if in_d && !vfork {
                outcome("default", false, format!("{what} once the uninterruptible wait ends"))
            } else if facts.tracer_pid > 0 {
                outcome(
                    "default",
                    false,
                    format!("{what}, unless the tracer suppresses it (it sees it first)"),
                )
            } else {
                outcome("default", true, what.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::process::Pid;
    use crate::resist::facts::{
        CgroupV2, FreezerV1, FuseHolder, Masks, Mount, PF_EXITING, PF_KTHREAD, ParentFacts, Peer, Permission,
        WaitTarget,
    };

    const PID: i32 = 4242;

    fn bit(signal: Signal) -> u64 {
        1 << (signal.number() - 1)
    }

    fn thread(tid: i32, state: ProcessState) -> ThreadFacts {
        ThreadFacts {
            tid,
            name: format!("t{tid}"),
            state,
            wchan: Readable::Missing,
            stack: Readable::Missing,
            syscall: Readable::Missing,
            wait_target: None,
            blocked: 0,
            pending: 0,
            tracer_pid: 0,
            exiting: false,
            freezer_v1: None,
            kernel_state: None,
        }
    }

    fn peer(pid: i32, name: &str, state: ProcessState) -> Peer {
        Peer {
            pid: Pid::new(pid).unwrap(),
            name: name.to_string(),
            command_line: vec![name.to_string(), "--flag".to_string()],
            state,
        }
    }

    fn base(state: ProcessState) -> Facts {
        Facts {
            pid: Pid::new(PID).unwrap(),
            name: "app".to_string(),
            command_line: vec!["app".to_string()],
            state,
            flags: 0x0040_0000,
            core_dumping: false,
            ppid: 100,
            pgid: PID,
            sid: 100,
            tty: None,
            tpgid: -1,
            ns_pids: vec![PID],
            masks: Masks::default(),
            threads: vec![thread(PID, state)],
            tracer: None,
            tracer_pid: 0,
            parent: None,
            session_leader: None,
            zombie_for: None,
            cgroup_v2: None,
            vfork_child: None,
            permission: Permission {
                our_ruid: 0,
                our_euid: 0,
                cap_kill: true,
                target_ruid: 1000,
                target_suid: 1000,
                kernel_allows: None,
            },
        }
    }

    fn kinds(d: &Diagnosis) -> Vec<FindingKind> {
        d.findings.iter().map(|f| f.kind).collect()
    }

    fn outcome(d: &Diagnosis, signal: Signal) -> &SignalOutcome {
        d.signals.iter().find(|o| o.signal == signal).unwrap()
    }

    #[test]
    fn a_running_process_says_so_with_what_each_signal_does() {
        let d = decide(&base(ProcessState::Sleeping));
        assert_eq!(kinds(&d), vec![FindingKind::Running]);
        assert_eq!(d.sigkill, KillEffect::EndsIt);
        assert!(outcome(&d, Signal::TERM).ends_it_now);
        assert_eq!(outcome(&d, Signal::TERM).effect, "terminate the process");
        assert_eq!(outcome(&d, Signal::QUIT).effect, "terminate the process and dump core");
        assert_eq!(d.signals.len(), 5);
        assert!(
            d.summary()
                .starts_with("4242 (app): sleeping: nothing holds it — SIGKILL would end it now")
        );
    }

    #[test]
    fn stopped_waits_for_sigcont_but_sigkill_works() {
        let mut facts = base(ProcessState::Stopped);
        facts.masks.shared_pending = bit(Signal::TERM);
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::Stopped, FindingKind::SignalsPending]);
        assert_eq!(d.sigkill, KillEffect::EndsIt);
        let term = outcome(&d, Signal::TERM);
        assert!(!term.ends_it_now);
        assert!(term.effect.contains("SIGCONT"));
        assert!(outcome(&d, Signal::KILL).ends_it_now);
        assert!(d.findings[0].next_step.contains("kill -CONT 4242"));
        assert_eq!(d.findings[1].evidence[0].value, "0000000000004000 (SIGTERM)");
    }

    #[test]
    fn a_thread_read_stopped_is_the_evidence_when_the_process_read_running() {
        let mut facts = base(ProcessState::Running);
        facts.threads[0].state = ProcessState::Stopped;
        let d = decide(&facts);
        let stopped = d
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Stopped)
            .expect("stopped");
        let tid = facts.threads[0].tid;
        assert_eq!(
            stopped.evidence[0].source,
            format!("/proc/{}/task/{tid}/stat state", facts.pid)
        );
        assert_eq!(stopped.evidence[0].value, "T");
    }

    #[test]
    fn a_stop_without_a_terminal_is_not_said_to_be_sigstop() {
        // kill -TSTP stops a process of a group that is not orphaned, with
        // no terminal: the kernel keeps no record of which signal it was.
        let d = decide(&base(ProcessState::Stopped));
        let explanation = &d.findings[0].explanation;
        assert!(!explanation.contains("someone sent it SIGSTOP"), "{explanation}");
        assert!(
            explanation.contains("SIGSTOP, or SIGTSTP, SIGTTIN or SIGTTOU with kill"),
            "{explanation}"
        );
    }

    #[test]
    fn a_stopped_background_job_names_its_shell() {
        let mut facts = base(ProcessState::Stopped);
        facts.tty = Some("/dev/pts/3".to_string());
        facts.tpgid = 100;
        facts.session_leader = Some(peer(100, "bash", ProcessState::Sleeping));
        let d = decide(&facts);
        let f = &d.findings[0];
        assert!(f.explanation.contains("background job"), "{}", f.explanation);
        assert!(f.next_step.contains("100 (bash)"), "{}", f.next_step);
    }

    #[test]
    fn a_traced_process_stopped_at_its_exit_is_past_sigkill() {
        // strace stopped while its tracee, killed by SIGKILL, waits at
        // PTRACE_EVENT_EXIT: a tracing stop after a fatal signal.
        let mut facts = base(ProcessState::TracingStop);
        facts.tracer_pid = 77;
        facts.tracer = Some(peer(77, "strace", ProcessState::Stopped));
        facts.flags |= crate::resist::facts::PF_SIGNALED;
        let d = decide(&facts);
        assert_eq!(d.sigkill, KillEffect::Delayed);
        let f = &d.findings[0];
        assert_eq!(f.title, "traced by 77 (strace), stopped at its exit");
        assert!(f.next_step.contains("kill -CONT 77"), "{}", f.next_step);
        assert!(
            outcome(&d, Signal::KILL)
                .effect
                .contains("held at its exit by its tracer")
        );
        assert!(!outcome(&d, Signal::KILL).ends_it_now);
        assert_eq!(outcome(&d, Signal::TERM).effect, "little: it is already dying");
        // In an ordinary tracing stop, SIGTERM waits for the tracer, not SIGCONT.
        facts.flags &= !crate::resist::facts::PF_SIGNALED;
        let d = decide(&facts);
        assert!(
            outcome(&d, Signal::TERM).effect.contains("once its tracer lets it run"),
            "{:?}",
            outcome(&d, Signal::TERM)
        );
    }

    #[test]
    fn a_tracer_is_named() {
        let mut facts = base(ProcessState::TracingStop);
        facts.tracer_pid = 77;
        facts.tracer = Some(peer(77, "gdb", ProcessState::Sleeping));
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::Traced]);
        let f = &d.findings[0];
        assert_eq!(f.title, "traced by 77 (gdb), in a tracing stop (t)");
        assert!(
            f.evidence
                .iter()
                .any(|e| e.source == "/proc/4242/status TracerPid" && e.value == "77")
        );
        assert!(f.evidence.iter().any(|e| e.value == "gdb --flag"));
        assert!(outcome(&d, Signal::KILL).ends_it_now);
        assert!(!outcome(&d, Signal::TERM).ends_it_now);
    }

    #[test]
    fn a_zombie_names_its_parent_and_what_keeps_it() {
        let mut facts = base(ProcessState::Zombie);
        facts.zombie_for = Some(Duration::from_secs(90));
        facts.parent = Some(ParentFacts {
            peer: peer(100, "server", ProcessState::Stopped),
            sigchld: Disposition::Ignored,
            is_namespace_init: false,
        });
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::Zombie]);
        assert_eq!(d.sigkill, KillEffect::AlreadyDead);
        let f = &d.findings[0];
        assert!(f.explanation.contains("100 (server: server --flag)"));
        assert!(f.explanation.contains("ignores SIGCHLD"));
        assert!(f.explanation.contains("itself stopped"));
        assert!(f.explanation.contains("It has been a zombie for about 1m 30s."));
        facts.zombie_for = None;
        let d = decide(&facts);
        assert!(
            d.findings[0]
                .explanation
                .contains("How long it has been one is unknown.")
        );
        assert!(f.next_step.contains("kill -CONT 100"));
        assert!(d.signals.iter().all(|o| !o.ends_it_now && o.handling == "discarded"));
    }

    #[test]
    fn a_traced_zombie_is_held_by_its_tracer_not_its_parent() {
        let mut facts = base(ProcessState::Zombie);
        facts.tracer_pid = 77;
        facts.tracer = Some(peer(77, "gdb", ProcessState::Sleeping));
        facts.parent = Some(ParentFacts {
            peer: peer(100, "server", ProcessState::Sleeping),
            sigchld: Disposition::Caught,
            is_namespace_init: false,
        });
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::Zombie]);
        let f = &d.findings[0];
        assert_eq!(f.title, "zombie (Z): already dead, held by its tracer 77 (gdb)");
        assert!(
            f.explanation.contains("traced (ptrace) by 77 (gdb: gdb --flag)"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation.contains("the parent is not at fault"),
            "{}",
            f.explanation
        );
        assert!(!f.explanation.contains("SIGCHLD"), "{}", f.explanation);
        assert!(
            f.next_step.starts_with("Detach or end the tracer 77"),
            "{}",
            f.next_step
        );
        assert!(!f.next_step.contains("kill 100"), "{}", f.next_step);
        assert!(
            f.evidence
                .iter()
                .any(|e| e.source == "/proc/4242/status TracerPid" && e.value == "77")
        );
        assert_eq!(
            outcome(&d, Signal::KILL).effect,
            "nothing: it is already dead; only a wait() by its tracer removes it"
        );
    }

    #[test]
    fn signals_blocked_ignored_caught() {
        let mut facts = base(ProcessState::Sleeping);
        facts.threads[0].blocked = bit(Signal::TERM);
        facts.masks.ignored = bit(Signal::INT);
        facts.masks.caught = bit(Signal::HUP);
        let d = decide(&facts);
        assert_eq!(
            kinds(&d),
            vec![
                FindingKind::Running,
                FindingKind::SignalBlocked,
                FindingKind::SignalIgnored,
                FindingKind::SignalCaught
            ]
        );
        assert_eq!(outcome(&d, Signal::TERM).handling, "blocked");
        assert_eq!(outcome(&d, Signal::INT).handling, "ignored");
        assert_eq!(outcome(&d, Signal::HUP).handling, "caught");
        assert_eq!(outcome(&d, Signal::QUIT).handling, "default");
        assert_eq!(d.findings[1].signals, vec![Signal::TERM]);
    }

    #[test]
    fn the_next_step_of_a_process_that_ignores_or_blocks_sigterm_is_a_signal_that_works() {
        // trap '' TERM in a background job of a script: INT is ignored too.
        let mut facts = base(ProcessState::Sleeping);
        facts.masks.ignored = bit(Signal::TERM) | bit(Signal::INT);
        assert_eq!(
            decide(&facts).findings[0].next_step,
            "SIGTERM would do nothing (it is ignored); SIGHUP ends it (afterlife kill --signal HUP 4242), or \
SIGKILL at once (afterlife kill --signal KILL 4242)."
        );
        // Every gentle one held: SIGQUIT would dump core, so SIGKILL.
        facts.masks.ignored = bit(Signal::TERM) | bit(Signal::INT);
        facts.masks.caught = bit(Signal::HUP);
        assert_eq!(
            decide(&facts).findings[0].next_step,
            "SIGTERM would do nothing (it is ignored): send SIGKILL, which cannot be caught, blocked or ignored \
(afterlife kill --signal KILL 4242)."
        );
        let mut facts = base(ProcessState::Sleeping);
        facts.threads[0].blocked = bit(Signal::TERM) | bit(Signal::INT) | bit(Signal::HUP);
        assert_eq!(
            decide(&facts).findings[0].next_step,
            "SIGTERM would do nothing now (it stays pending: every thread blocks it): send SIGKILL, which cannot be \
caught, blocked or ignored (afterlife kill --signal KILL 4242)."
        );
        // A handler decides: a grace period is worth giving.
        let mut facts = base(ProcessState::Sleeping);
        facts.masks.caught = bit(Signal::TERM);
        assert_eq!(
            decide(&facts).findings[0].next_step,
            "Send SIGTERM and give it a grace period; SIGKILL ends it in any case (afterlife kill 4242 does both)."
        );
        assert_eq!(
            decide(&base(ProcessState::Sleeping)).findings[0].next_step,
            "SIGTERM ends it (afterlife kill 4242); SIGKILL if it must end at once."
        );
    }

    #[test]
    fn every_caught_signal_is_in_one_finding() {
        let mut facts = base(ProcessState::Sleeping);
        facts.masks.caught = bit(Signal::TERM) | bit(Signal::INT) | bit(Signal::HUP) | bit(Signal::QUIT);
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::Running, FindingKind::SignalCaught]);
        let f = &d.findings[1];
        assert_eq!(f.title, "SIGTERM, SIGINT, SIGHUP and SIGQUIT caught by handlers");
        assert_eq!(f.signals, TERMINATION_SIGNALS.to_vec());
        assert!(
            f.explanation
                .starts_with("SIGTERM, SIGINT, SIGHUP and SIGQUIT are caught by handlers")
        );
        let mut one = base(ProcessState::Sleeping);
        one.masks.caught = bit(Signal::INT);
        assert_eq!(decide(&one).findings[1].title, "SIGINT caught by a handler");
    }

    #[test]
    fn a_signal_blocked_in_one_thread_only_is_not_blocked() {
        let mut facts = base(ProcessState::Sleeping);
        facts.threads[0].blocked = bit(Signal::TERM);
        facts.threads.push(thread(PID + 1, ProcessState::Sleeping));
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::Running]);
        assert!(outcome(&d, Signal::TERM).ends_it_now);
    }

    #[test]
    fn an_ignored_signal_the_main_thread_does_not_block_is_dropped() {
        // The main thread has exited without blocking SIGINT; the one live
        // thread blocks it, and SIGINT is ignored: kill() checks the main
        // thread's mask, so the signal is dropped, not left pending.
        let mut facts = base(ProcessState::Sleeping);
        facts.threads[0].state = ProcessState::Zombie;
        let mut worker = thread(PID + 1, ProcessState::Sleeping);
        worker.blocked = bit(Signal::INT) | bit(Signal::TERM);
        facts.threads.push(worker);
        facts.masks.ignored = bit(Signal::INT);
        let d = decide(&facts);
        assert_eq!(outcome(&d, Signal::INT).handling, "ignored");
        assert_eq!(outcome(&d, Signal::TERM).handling, "blocked");
        // Blocked by the main thread too, it is queued and stays pending.
        facts.threads[0].blocked = bit(Signal::INT);
        assert_eq!(outcome(&decide(&facts), Signal::INT).handling, "blocked");
    }

    #[test]
    fn namespace_init_inside_and_outside() {
        let mut facts = base(ProcessState::Sleeping);
        facts.ns_pids = vec![PID, 1];
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::NamespaceInit]);
        assert_eq!(d.sigkill, KillEffect::EndsIt);
        assert_eq!(outcome(&d, Signal::TERM).handling, "discarded");
        assert!(outcome(&d, Signal::KILL).ends_it_now);

        facts.ns_pids = vec![1];
        facts.masks.caught = bit(Signal::TERM);
        let d = decide(&facts);
        assert_eq!(d.sigkill, KillEffect::Ignored);
        assert_eq!(outcome(&d, Signal::KILL).handling, "discarded");
        assert_eq!(outcome(&d, Signal::TERM).handling, "caught");
    }

    fn frozen_v1(cgroup: &str) -> FreezerV1 {
        FreezerV1 {
            cgroup: cgroup.to_string(),
            dir: PathBuf::from(format!("/sys/fs/cgroup/freezer{cgroup}")),
            state: "FROZEN".to_string(),
            self_freezing: Some(true),
            parent_freezing: Some(false),
        }
    }

    #[test]
    fn one_thread_in_d_in_a_v1_freezer_is_named() {
        let mut facts = base(ProcessState::Sleeping);
        let mut worker = thread(PID + 1, ProcessState::DiskSleep);
        worker.name = "worker".to_string();
        worker.wchan = Readable::Value("hrtimer_nanosleep".to_string());
        worker.stack = Readable::Value(vec!["hrtimer_nanosleep+0x74/0xf0".to_string()]);
        worker.freezer_v1 = Some(frozen_v1("/jail"));
        facts.threads.push(worker);
        let d = decide(&facts);
        assert_eq!(
            kinds(&d),
            vec![FindingKind::UninterruptibleSleep, FindingKind::FrozenCgroupV1]
        );
        assert_eq!(d.sigkill, KillEffect::Delayed);
        let f = &d.findings[0];
        assert_eq!(f.title, "uninterruptible sleep (D) in thread 4243 (worker)");
        assert!(f.explanation.contains("keeps the whole process alive"));
        assert!(
            f.next_step
                .contains("echo THAWED > /sys/fs/cgroup/freezer/jail/freezer.state")
        );
        assert!(f.evidence.iter().any(|e| e.source == "/proc/4242/task/4243/wchan"));
        assert_eq!(d.findings[1].evidence[0].value, "FROZEN");
        assert!(!outcome(&d, Signal::KILL).ends_it_now);
    }

    #[test]
    fn threads_in_one_frozen_cgroup_make_one_finding() {
        let mut facts = base(ProcessState::DiskSleep);
        facts.threads[0].freezer_v1 = Some(frozen_v1("/jail"));
        let mut worker = thread(PID + 1, ProcessState::DiskSleep);
        worker.freezer_v1 = Some(frozen_v1("/jail"));
        facts.threads.push(worker);
        let d = decide(&facts);
        let frozen: Vec<&Finding> = d.findings_of(FindingKind::FrozenCgroupV1).collect();
        assert_eq!(frozen.len(), 1);
        let threads: Vec<&str> = frozen[0]
            .evidence
            .iter()
            .filter(|e| e.source.ends_with("cgroup freezer"))
            .map(|e| e.source.as_str())
            .collect();
        assert_eq!(
            threads,
            vec![
                "/proc/4242/task/4242/cgroup freezer",
                "/proc/4242/task/4243/cgroup freezer"
            ]
        );
        assert_eq!(d.findings_of(FindingKind::UninterruptibleSleep).count(), 2);
    }

    #[test]
    fn frozen_v2_lets_sigkill_through() {
        let mut facts = base(ProcessState::Sleeping);
        facts.cgroup_v2 = Some(CgroupV2 {
            cgroup: "/app".to_string(),
            dir: PathBuf::from("/sys/fs/cgroup/app"),
            freeze: vec![(PathBuf::from("/sys/fs/cgroup/app"), true)],
            events_frozen: Some(true),
        });
        facts.masks.caught = bit(Signal::INT);
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::FrozenCgroupV2, FindingKind::SignalCaught]);
        assert_eq!(d.sigkill, KillEffect::EndsIt);
        assert!(outcome(&d, Signal::KILL).ends_it_now);
        assert!(outcome(&d, Signal::TERM).ends_it_now);
        assert!(outcome(&d, Signal::INT).effect.contains("thawed"));
        assert!(
            d.findings[0]
                .next_step
                .contains("echo 0 > /sys/fs/cgroup/app/cgroup.freeze")
        );
    }

    #[test]
    fn kernel_threads_and_other_users() {
        let mut facts = base(ProcessState::Sleeping);
        facts.flags |= PF_KTHREAD;
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::KernelThread]);
        assert_eq!(d.sigkill, KillEffect::Ignored);

        let mut facts = base(ProcessState::Sleeping);
        facts.permission = Permission {
            our_ruid: 1001,
            our_euid: 1001,
            cap_kill: false,
            target_ruid: 0,
            target_suid: 0,
            kernel_allows: None,
        };
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::OtherUser]);
        assert_eq!(d.sigkill, KillEffect::NotPermitted);
        assert_eq!(outcome(&d, Signal::KILL).handling, "not_permitted");
        facts.permission.target_suid = 1001;
        assert!(facts.permission.may_signal());
    }

    #[test]
    fn cap_kill_of_a_user_namespace_does_not_reach_a_process_outside_it() {
        // The root of a user namespace: CAP_KILL and UID 0 there, and the
        // kernel refuses the null signal to a process outside it.
        let mut facts = base(ProcessState::Sleeping);
        facts.permission = Permission {
            our_ruid: 0,
            our_euid: 0,
            cap_kill: true,
            target_ruid: 65534,
            target_suid: 65534,
            kernel_allows: Some(false),
        };
        let d = decide(&facts);
        assert_eq!(kinds(&d), vec![FindingKind::OtherUser]);
        assert_eq!(d.sigkill, KillEffect::NotPermitted);
        assert!(d.findings[0].explanation.contains("whose CAP_KILL does not reach it"));
        // And the kernel's yes stands where the IDs alone would say no.
        facts.permission.cap_kill = false;
        facts.permission.kernel_allows = Some(true);
        assert!(facts.permission.may_signal());
    }

    #[test]
    fn a_dead_leader_with_a_live_thread_is_exiting_not_a_zombie() {
        let mut facts = base(ProcessState::Zombie);
        facts.flags |= PF_EXITING;
        facts.threads[0].state = ProcessState::Zombie;
        let mut worker = thread(PID + 1, ProcessState::DiskSleep);
        worker.freezer_v1 = Some(frozen_v1("/jail"));
        // The group exit sent it SIGKILL (zap_other_threads).
        worker.pending = 1 << (libc::SIGKILL - 1);
        facts.threads.push(worker);
        let d = decide(&facts);
        assert_eq!(
            kinds(&d),
            vec![
                FindingKind::Exiting,
                FindingKind::UninterruptibleSleep,
                FindingKind::FrozenCgroupV1,
                FindingKind::SignalsPending
            ]
        );
        assert!(d.findings[0].title.contains("4243 (t4243"), "{}", d.findings[0].title);
    }

    #[test]
    fn a_main_thread_that_ended_alone_leaves_a_live_process() {
        // pthread_exit in main: the main thread is a zombie, the other
        // thread runs with nothing queued; the process lives.
        let mut facts = base(ProcessState::Sleeping);
        facts.flags |= PF_EXITING;
        facts.threads[0].state = ProcessState::Zombie;
        facts.threads.push(thread(PID + 1, ProcessState::Sleeping));
        assert!(facts.main_thread_ended_alone());
        let d = decide(&facts);
        assert!(!kinds(&d).contains(&FindingKind::Exiting), "{:?}", kinds(&d));
        assert_eq!(d.sigkill, KillEffect::EndsIt);
        assert!(
            d.findings[0]
                .evidence
                .iter()
                .any(|e| e.source == "/proc/4242/task/4243/stat state"),
            "{:?}",
            d.findings[0].evidence
        );
    }

    #[test]
    fn core_dump_in_progress() {
        let mut facts = base(ProcessState::DiskSleep);
        facts.core_dumping = true;
        facts.threads[0].wchan = Readable::Value("vfs_coredump".to_string());
        let d = decide(&facts);
        assert_eq!(
            kinds(&d),
            vec![FindingKind::CoreDumping, FindingKind::UninterruptibleSleep]
        );
        assert!(d.findings[0].evidence.iter().any(|e| e.value == "vfs_coredump"));
        assert_eq!(d.sigkill, KillEffect::Delayed);
    }

    #[test]
    fn vfork_parent_names_the_child() {
        let mut facts = base(ProcessState::DiskSleep);
        facts.threads[0].syscall = Readable::Value(SyscallState::In {
            number: libc::SYS_clone3,
            name: Some("clone3"),
            args: [0; 6],
        });
        facts.vfork_child = Some((
            peer(5000, "python3", ProcessState::Sleeping),
            Readable::Value("wait_for_partner".to_string()),
        ));
        let d = decide(&facts);
        assert_eq!(
            kinds(&d),
            vec![FindingKind::VforkParent, FindingKind::UninterruptibleSleep]
        );
        assert_eq!(d.sigkill, KillEffect::EndsIt);
        assert!(d.findings[0].next_step.contains("wait_for_partner"));
        assert_eq!(d.findings[1].sigkill, KillEffect::EndsIt, "a vfork wait is killable");
        assert!(outcome(&d, Signal::KILL).ends_it_now);
    }

    fn on_fuse(servers: Vec<FuseHolder>) -> Finding {
        on_fuse_waiting(servers, Some(1))
    }

    /// The finding for a wait on a FUSE mount, its connection's waiting
    /// count read (`Some`) or not (fusectl not mounted).
    fn on_fuse_waiting(servers: Vec<FuseHolder>, waiting: Option<u64>) -> Finding {
        let mut facts = base(ProcessState::DiskSleep);
        facts.threads[0].wait_target = Some(WaitTarget {
            fd: None,
            path: "/mnt/remote/file".to_string(),
            mount: Some(Mount {
                mount_id: 40,
                device: "0:52".to_string(),
                mount_point: "/mnt/remote".to_string(),
                fs_type: "fuse.sshfs".to_string(),
                source: "host:/data".to_string(),
            }),
            fuse_servers: servers,
            fuse_waiting: waiting,
        });
        decide(&facts).findings.remove(0)
    }

    fn holder(pid: i32, name: &str, state: ProcessState, connection: Option<u64>) -> FuseHolder {
        FuseHolder {
            peer: peer(pid, name, state),
            fd: 3,
            connection,
        }
    }

    #[test]
    fn d_on_a_fuse_mount_names_the_server() {
        let f = on_fuse(vec![holder(900, "sshfs", ProcessState::Stopped, Some(52))]);
        assert!(
            f.explanation.contains("the FUSE server 900 (sshfs: sshfs --flag)"),
            "{}",
            f.explanation
        );
        assert!(f.next_step.contains("kill -CONT 900"));
        assert!(f.next_step.contains("/sys/fs/fuse/connections/52/abort"));
        assert!(
            f.evidence
                .iter()
                .any(|e| e.source == "/sys/fs/fuse/connections/52/waiting")
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.source == "/proc/900/fdinfo/3 fuse_connection" && e.value.starts_with("52: 900"))
        );
    }

    #[test]
    fn a_fuse_server_the_kernel_does_not_tie_to_the_mount_is_named_only_when_alone() {
        let f = on_fuse(vec![holder(900, "sshfs", ProcessState::Sleeping, None)]);
        assert!(
            f.explanation.contains(
                "the FUSE server 900 (sshfs: sshfs --flag) (sleeping), the only process here holding /dev/fuse"
            ),
            "{}",
            f.explanation
        );
        assert!(f.next_step.contains("(PID 900)"));
        let f = on_fuse(vec![
            holder(900, "sshfs", ProcessState::Sleeping, None),
            holder(901, "rclone", ProcessState::Sleeping, None),
        ]);
        assert!(
            f.explanation
                .contains("one of the 2 processes holding /dev/fuse (this kernel does not say which connection each serves: 900, 901)"),
            "{}",
            f.explanation
        );
        assert!(!f.next_step.contains("PID 90"), "no server named: {}", f.next_step);
        assert_eq!(
            f.evidence.iter().filter(|e| e.source.ends_with("-> /dev/fuse")).count(),
            2
        );
        let f = on_fuse(Vec::new());
        assert!(f.explanation.contains("not in this PID namespace"), "{}", f.explanation);
    }

    #[test]
    fn without_fusectl_the_abort_step_mounts_it_first() {
        let f = on_fuse_waiting(Vec::new(), None);
        assert!(
            f.next_step.contains(
                "mount -t fusectl none /sys/fs/fuse/connections, then echo 1 > /sys/fs/fuse/connections/52/abort"
            ),
            "{}",
            f.next_step
        );
        assert!(!on_fuse(Vec::new()).next_step.contains("mount -t fusectl"));
    }

    #[test]
    fn a_fuse_connection_is_the_kernel_device_number() {
        let mount = |device: &str| Mount {
            mount_id: 1,
            device: device.to_string(),
            mount_point: "/m".to_string(),
            fs_type: "fuseblk".to_string(),
            source: "/dev/sdb1".to_string(),
        };
        assert_eq!(mount("0:52").fuse_connection(), Some(52));
        assert_eq!(mount("8:17").fuse_connection(), Some((8 << 20) | 17));
        assert_eq!(mount("x").fuse_connection(), None);
    }

    #[test]
    fn d_on_nfs_points_at_the_server() {
        let mut facts = base(ProcessState::DiskSleep);
        facts.threads[0].wait_target = Some(WaitTarget {
            fd: Some(3),
            path: "/srv/nfs/log".to_string(),
            mount: Some(Mount {
                mount_id: 41,
                device: "0:60".to_string(),
                mount_point: "/srv/nfs".to_string(),
                fs_type: "nfs4".to_string(),
                source: "filer:/export".to_string(),
            }),
            fuse_servers: Vec::new(),
            fuse_waiting: None,
        });
        let d = decide(&facts);
        let f = &d.findings[0];
        assert!(f.explanation.contains("filer:/export"));
        assert!(f.next_step.contains("umount -f /srv/nfs"));
        assert_eq!(
            f.evidence
                .iter()
                .filter(|e| e.source == "/proc/4242/task/4242/fd/3")
                .count(),
            1
        );
    }

    #[test]
    fn the_summary_puts_the_most_important_first() {
        let mut facts = base(ProcessState::Stopped);
        facts.masks.caught = bit(Signal::TERM);
        let d = decide(&facts);
        assert_eq!(
            d.summary(),
            "4242 (app): stopped (T); SIGTERM caught by a handler — SIGKILL would end it now"
        );
    }
}
