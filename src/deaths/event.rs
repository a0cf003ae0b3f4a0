//! The records the sources give, before names and cgroups are looked up:
//! [`RawDeath`], and the decoding of the BPF program's record
//! (`struct death_event` in `bpf/deaths.bpf.c`; keep the two in step).

/// Size of `struct death_event`.
pub const RECORD_LEN: usize = 424;
const ARGS_AT: usize = 168;
const ARGS_LEN: usize = 256;
/// `signal_info.flags`: the signal was the parent-death signal.
const SIGNAL_PARENT_DEATH: u32 = 1;

/// The signal that a process died of, as `signal_generate` saw it queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSignal {
    /// The signal number.
    pub signo: i32,
    /// `si_code` (`SI_USER`, `SI_KERNEL`, `SEGV_MAPERR`, ...).
    pub code: i32,
    /// The process that generated it (`current` at the tracepoint).
    pub sender_pid: i32,
    /// Its real user ID.
    pub sender_uid: u32,
    /// Its name (`comm`).
    pub sender_name: String,
    /// When it was queued, `CLOCK_MONOTONIC` ns.
    pub time_ns: u64,
    /// The kernel sent it as the process's parent-death signal
    /// (`PR_SET_PDEATHSIG`) when the sender, its parent, exited.
    pub parent_death: bool,
}

/// What the OOM killer knew of its victim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOom {
    /// The kernfs ID of the memory cgroup whose limit applied (the
    /// victim's, or its nearest ancestor with a smaller limit).
    pub memcg_id: u64,
    /// That cgroup's limit in pages (`memory.max`; `PAGE_COUNTER_MAX` when
    /// unlimited).
    pub limit_pages: u64,
    /// Resident anonymous pages.
    pub anon_pages: u64,
    /// Resident file pages.
    pub file_pages: u64,
    /// Resident shared-memory pages.
    pub shmem_pages: u64,
    /// Virtual size in pages.
    pub total_vm_pages: u64,
}

/// One process death as a source reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawDeath {
    /// The process ID (the thread group's).
    pub pid: i32,
    /// The parent's PID at death.
    pub ppid: Option<i32>,
    /// Real user ID.
    pub uid: Option<u32>,
    /// The raw wait status.
    pub wait_status: i32,
    /// `comm`.
    pub name: Option<String>,
    /// The command line, when it could still be read.
    pub cmdline: Option<Vec<String>>,
    /// The command line fills the program's copy (`ARGS_LEN - 1` bytes):
    /// the rest of it, if any, is not there.
    pub cmdline_cut: bool,
    /// When it died, `CLOCK_MONOTONIC` ns.
    pub exit_ns: Option<u64>,
    /// When it started, `CLOCK_MONOTONIC` ns.
    pub start_ns: Option<u64>,
    /// Its cgroup v2 ID.
    pub cgroup_id: Option<u64>,
    /// Its cgroup v2 path, where the source read it directly.
    pub cgroup_path: Option<String>,
    /// The signal it died of, with its sender.
    pub signal: Option<RawSignal>,
    /// The OOM kill that chose it.
    pub oom: Option<RawOom>,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn comm_at(bytes: &[u8], at: usize) -> String {
    let field = &bytes[at..at + 16];
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Decodes one record of the BPF program; `None` if it is short. Pure.
pub fn parse_record(bytes: &[u8]) -> Option<RawDeath> {
    if bytes.len() < RECORD_LEN {
        return None;
    }
    let signo = u32_at(bytes, 56) as i32;
    let args_len = (u32_at(bytes, 60) as usize).min(ARGS_LEN);
    let signal = (signo != 0).then(|| RawSignal {
        signo,
        time_ns: u64_at(bytes, 64),
        code: u32_at(bytes, 80) as i32,
        sender_pid: u32_at(bytes, 84) as i32,
        sender_uid: u32_at(bytes, 88),
        sender_name: comm_at(bytes, 96),
        parent_death: u32_at(bytes, 92) & SIGNAL_PARENT_DEATH != 0,
    });
    let memcg_id = u64_at(bytes, 120);
    let oom = (memcg_id != 0 || u64_at(bytes, 112) != 0).then(|| RawOom {
        memcg_id,
        limit_pages: u64_at(bytes, 128),
        anon_pages: u64_at(bytes, 136),
        file_pages: u64_at(bytes, 144),
        shmem_pages: u64_at(bytes, 152),
        total_vm_pages: u64_at(bytes, 160),
    });
    let cgroup_id = u64_at(bytes, 16);
    Some(RawDeath {
        pid: u32_at(bytes, 24) as i32,
        ppid: Some(u32_at(bytes, 28) as i32),
        uid: Some(u32_at(bytes, 32)),
        wait_status: u32_at(bytes, 36) as i32,
        name: Some(comm_at(bytes, 40)),
        cmdline: (args_len > 0).then(|| crate::proc::cmdline::split(&bytes[ARGS_AT..ARGS_AT + args_len])),
        cmdline_cut: args_cut(&bytes[ARGS_AT..ARGS_AT + args_len]),
        exit_ns: Some(u64_at(bytes, 0)),
        start_ns: Some(u64_at(bytes, 8)).filter(|&n| n != 0),
        cgroup_id: (cgroup_id != 0).then_some(cgroup_id),
        cgroup_path: None,
        signal,
        oom,
    })
}

/// Whether the copy of a command line (`arg_start` to `arg_end`) holds
/// less than the kernel's `/proc/PID/cmdline` shows: it fills the copy, or
/// it does not end in NUL. A process that writes a title over its argv
/// (setproctitle: nginx, PostgreSQL) may run it past `arg_end` into the
/// environment's space; the kernel then reads on to the title's NUL, the
/// copy stops at `arg_end`. Pure.
fn args_cut(args: &[u8]) -> bool {
    args.len() >= ARGS_LEN - 1 || args.last().is_some_and(|&byte| byte != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
        bytes[at..at + value.len()].copy_from_slice(value);
    }

    #[test]
    fn a_record_with_a_signal_and_a_command_line() {
        let mut record = vec![0u8; RECORD_LEN];
        put(&mut record, 0, &5_000u64.to_ne_bytes());
        put(&mut record, 8, &1_000u64.to_ne_bytes());
        put(&mut record, 16, &77u64.to_ne_bytes());
        put(&mut record, 24, &4321u32.to_ne_bytes());
        put(&mut record, 28, &1u32.to_ne_bytes());
        put(&mut record, 32, &1000u32.to_ne_bytes());
        put(&mut record, 36, &10u32.to_ne_bytes());
        put(&mut record, 40, b"sleep");
        put(&mut record, 56, &10u32.to_ne_bytes());
        put(&mut record, 60, &10u32.to_ne_bytes());
        put(&mut record, 64, &4_000u64.to_ne_bytes());
        put(&mut record, 84, &99u32.to_ne_bytes());
        put(&mut record, 96, b"bash");
        put(&mut record, ARGS_AT, b"sleep\x00100\x00");
        let death = parse_record(&record).unwrap();
        assert_eq!(death.pid, 4321);
        assert_eq!(death.ppid, Some(1));
        assert_eq!(death.uid, Some(1000));
        assert_eq!(death.name.as_deref(), Some("sleep"));
        assert_eq!(death.cmdline, Some(vec!["sleep".to_string(), "100".to_string()]));
        assert!(!death.cmdline_cut);
        assert_eq!(death.cgroup_id, Some(77));
        let signal = death.signal.unwrap();
        assert_eq!((signal.signo, signal.code, signal.sender_pid), (10, 0, 99));
        assert_eq!(signal.sender_name, "bash");
        assert!(death.oom.is_none());
        assert!(parse_record(&record[..100]).is_none());
    }

    #[test]
    fn a_command_line_that_fills_the_copy_is_marked_cut() {
        let mut record = vec![0u8; RECORD_LEN];
        put(&mut record, 24, &4321u32.to_ne_bytes());
        let args: Vec<u8> = b"python3\0-c\0"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'x', 300))
            .collect();
        put(&mut record, ARGS_AT, &args[..ARGS_LEN - 1]);
        put(&mut record, 60, &((ARGS_LEN - 1) as u32).to_ne_bytes());
        let death = parse_record(&record).unwrap();
        assert!(death.cmdline_cut);
        let cmdline = death.cmdline.unwrap();
        assert_eq!(cmdline[..2], ["python3", "-c"]);
        // "python3\0-c\0": whole, ending in NUL.
        put(&mut record, 60, &11u32.to_ne_bytes());
        assert!(!parse_record(&record).unwrap().cmdline_cut);
    }

    #[test]
    fn a_title_written_past_the_end_of_argv_is_marked_cut() {
        let mut record = vec![0u8; RECORD_LEN];
        put(&mut record, 24, &4321u32.to_ne_bytes());
        // nginx's title over "nginx -c /etc/nginx/nginx.conf\0": the copy
        // stops at arg_end, in the middle of the title.
        let title = b"nginx: master process nginx -c /etc/nginx/nginx.conf";
        put(&mut record, ARGS_AT, &title[..31]);
        put(&mut record, 60, &31u32.to_ne_bytes());
        let death = parse_record(&record).unwrap();
        assert!(death.cmdline_cut);
        assert_eq!(death.cmdline, Some(vec!["nginx: master process nginx -c ".to_string()]));
        // A shorter title padded with NULs is whole.
        put(&mut record, ARGS_AT, b"nginx: worker process\0\0\0\0\0\0\0\0\0\0");
        assert!(!parse_record(&record).unwrap().cmdline_cut);
    }
}
