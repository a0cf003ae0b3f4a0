// SPDX-License-Identifier: GPL-2.0
/* afterlife deaths: one record per process death, joined in the kernel with
 * the signal that caused it and the OOM kill that chose it.
 *
 * - tp_btf/signal_generate: every signal the kernel queues, with the task
 *   that generates it (`current`: the sender) and its si_code; the last one
 *   of each number per target process is kept in `signals`.
 * - tp_btf/mark_victim: the OOM killer chose a victim; its memory cgroup,
 *   that cgroup's limit and the victim's size are kept in `ooms`.
 * - tp_btf/sched_process_exit: a thread exits; when it is the last of its
 *   process (signal->live reached 0) one record goes to the ring buffer,
 *   with the signal and OOM entries of that process taken out of the maps.
 *
 * A record that finds no room in the ring buffer is counted in `lost`.
 * Rebuild with scripts/build-bpf.sh; the object is committed beside this.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define ARGS_LEN 256
#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000
#define SIGNAL_GROUP_EXIT 0x00000004
#define TRACE_SIGNAL_DELIVERED 0
#define SEND_SIG_PRIV ((struct kernel_siginfo *)1)
#define SI_USER 0
#define SI_KERNEL 0x80
#define MEMCG_LEVELS 8
#define SIGCHLD 17
#define SIGCONT 18
#define SIGURG 23
#define SIGWINCH 28

char LICENSE[] SEC("license") = "GPL";

struct signal_key {
	__u32 tgid;
	__u32 signo;
};

struct signal_info {
	__u64 time_ns;
	__u64 target_start_ns;
	__s32 code;
	__u32 sender_pid;
	__u32 sender_uid;
	__u32 flags;
	char sender_comm[TASK_COMM_LEN];
};

/* signal_info.flags: the kernel sent the target its parent-death signal
 * (PR_SET_PDEATHSIG) as the sender, its parent, exited. */
#define SIGNAL_PARENT_DEATH 1

struct oom_info {
	__u64 target_start_ns;
	__u64 memcg_id;
	__u64 limit_pages;
	__u64 anon_pages;
	__u64 file_pages;
	__u64 shmem_pages;
	__u64 total_vm_pages;
};

/* The layout read by src/deaths/event.rs: keep the two in step. */
struct death_event {
	__u64 exit_ns;
	__u64 start_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__s32 status;
	char comm[TASK_COMM_LEN];
	__u32 signo;
	__u32 args_len;
	struct signal_info signal;
	struct oom_info oom;
	char args[ARGS_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct signal_key);
	__type(value, struct signal_info);
} signals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct oom_info);
} ooms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline __u64 process_start(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_time);
}

SEC("tp_btf/signal_generate")
int BPF_PROG(signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	if (result != TRACE_SIGNAL_DELIVERED)
		return 0;
	/* Signals whose default action is to be ignored kill no one. */
	if (sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH)
		return 0;
	struct task_struct *current = (struct task_struct *)bpf_get_current_task_btf();
	struct signal_key key = { .tgid = BPF_CORE_READ(task, tgid), .signo = sig };
	struct signal_info value = {};
	value.time_ns = bpf_ktime_get_ns();
	value.target_start_ns = process_start(task);
	/* SEND_SIG_NOINFO (0) is what kill_pid(), send_sig() and the pipe
	 * code pass: the tracepoint itself reads it as SI_USER. */
	if (info == 0)
		value.code = SI_USER;
	else if (info == SEND_SIG_PRIV)
		value.code = SI_KERNEL;
	else
		value.code = BPF_CORE_READ(info, si_code);
	/* forget_original_parent() sends each child its pdeath_signal with
	 * SEND_SIG_NOINFO from the exiting parent; an exiting task makes no
	 * kill() of its own, and the kernel's other signals on exit (SIGHUP
	 * to an orphaned group or a terminal's session) are SEND_SIG_PRIV. */
	if (info == 0 && (BPF_CORE_READ(current, flags) & PF_EXITING) &&
	    BPF_CORE_READ(task, pdeath_signal) == sig)
		value.flags = SIGNAL_PARENT_DEATH;
	value.sender_pid = BPF_CORE_READ(current, tgid);
	value.sender_uid = BPF_CORE_READ(current, real_cred, uid.val);
	/* The sending process's name, as its PID is the process's: the
	 * current thread's own comm may be a thread name (a runtime's
	 * worker, a test harness's test). */
	BPF_CORE_READ_STR_INTO(&value.sender_comm, current, group_leader, comm);
	bpf_map_update_elem(&signals, &key, &value, BPF_ANY);
	return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(mark_victim, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct oom_info value = {};
	value.target_start_ns = process_start(task);
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	if (mm) {
		value.file_pages = BPF_CORE_READ(mm, rss_stat[0].count);
		value.anon_pages = BPF_CORE_READ(mm, rss_stat[1].count);
		value.shmem_pages = BPF_CORE_READ(mm, rss_stat[3].count);
		value.total_vm_pages = BPF_CORE_READ(mm, total_vm);
	}
	int memory = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css = 0;
	if (memory >= 0 && memory < 12)
		css = BPF_CORE_READ(task, cgroups, subsys[memory]);
	/* The victim's memory cgroup, or the nearest ancestor with a limit. */
	for (int level = 0; level < MEMCG_LEVELS && css; level++) {
		struct mem_cgroup *memcg = (struct mem_cgroup *)css;
		unsigned long max = BPF_CORE_READ(memcg, memory.max);
		if (level == 0 || max < value.limit_pages) {
			value.limit_pages = max;
			value.memcg_id = BPF_CORE_READ(css, cgroup, kn, id);
		}
		css = BPF_CORE_READ(css, parent);
	}
	bpf_map_update_elem(&ooms, &tgid, &value, BPF_ANY);
	return 0;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&lost, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
}

static __always_inline void read_args(struct death_event *event, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	if (!mm)
		return;
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	if (end <= start)
		return;
	unsigned long len = end - start;
	if (len >= ARGS_LEN)
		len = ARGS_LEN - 1;
	len &= ARGS_LEN - 1;
	if (bpf_probe_read_user(event->args, len, (void *)start) == 0)
		event->args_len = len;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	/* A thread that is not the last of its process. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	struct death_event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		count_lost();
		return 0;
	}
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u64 start = process_start(task);
	event->exit_ns = bpf_ktime_get_ns();
	event->start_ns = start;
	event->cgroup_id = bpf_get_current_cgroup_id();
	event->pid = tgid;
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);
	event->uid = BPF_CORE_READ(task, real_cred, uid.val);
	/* As wait_task_zombie() reads it. */
	if (BPF_CORE_READ(task, signal, flags) & SIGNAL_GROUP_EXIT)
		event->status = BPF_CORE_READ(task, signal, group_exit_code);
	else
		event->status = BPF_CORE_READ(task, exit_code);
	BPF_CORE_READ_STR_INTO(&event->comm, task, group_leader, comm);
	event->signo = 0;
	event->args_len = 0;
	__builtin_memset(&event->signal, 0, sizeof(event->signal));
	__builtin_memset(&event->oom, 0, sizeof(event->oom));
	int signo = event->status & 0x7f;
	if (signo != 0) {
		struct signal_key key = { .tgid = tgid, .signo = signo };
		struct signal_info *info = bpf_map_lookup_elem(&signals, &key);
		if (info && info->target_start_ns == start) {
			event->signal = *info;
			event->signo = signo;
		}
		if (info)
			bpf_map_delete_elem(&signals, &key);
	}
	struct oom_info *oom = bpf_map_lookup_elem(&ooms, &tgid);
	if (oom) {
		if (oom->target_start_ns == start)
			event->oom = *oom;
		bpf_map_delete_elem(&ooms, &tgid);
	}
	if (!(BPF_CORE_READ(task, flags) & PF_KTHREAD))
		read_args(event, task);
	bpf_ringbuf_submit(event, 0);
	return 0;
}
