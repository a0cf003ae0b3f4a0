/* The few kernel types the death programs read, written by hand.
 *
 * Every struct carries `preserve_access_index`: the compiler records each
 * member access as a CO-RE relocation, and the loader (aya) moves it to the
 * member's offset in the running kernel's BTF. Only the members read are
 * declared; their order and the padding here do not matter.
 */
#ifndef AFTERLIFE_DEATHS_KERNEL_H
#define AFTERLIFE_DEATHS_KERNEL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef _Bool bool;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

enum bpf_map_type {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

#define BPF_ANY 0

/* The value here is a placeholder: bpf_core_enum_value() reads the
 * running kernel's. */
enum cgroup_subsys_id {
	memory_cgrp_id = 4,
};

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	__u32 val;
} kuid_t;

struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct cgroup_subsys_state {
	struct cgroup *cgroup;
	struct cgroup_subsys_state *parent;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup_subsys_state *subsys[12];
} __attribute__((preserve_access_index));

struct page_counter {
	unsigned long max;
} __attribute__((preserve_access_index));

struct mem_cgroup {
	struct cgroup_subsys_state css;
	struct page_counter memory;
} __attribute__((preserve_access_index));

struct percpu_counter {
	__s64 count;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long total_vm;
	unsigned long arg_start;
	unsigned long arg_end;
	struct percpu_counter rss_stat[4];
} __attribute__((preserve_access_index));

struct signal_struct {
	atomic_t live;
	int group_exit_code;
	unsigned int flags;
} __attribute__((preserve_access_index));

struct cred {
	kuid_t uid;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	struct mm_struct *mm;
	int exit_code;
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	__u64 start_time;
	const struct cred *real_cred;
	struct signal_struct *signal;
	struct css_set *cgroups;
	char comm[16];
	int pdeath_signal;
} __attribute__((preserve_access_index));

struct kernel_siginfo {
	int si_signo;
	int si_errno;
	int si_code;
} __attribute__((preserve_access_index));

#endif
