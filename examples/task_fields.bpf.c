// build-compiler: clang-19
// A CO-RE program that reads kernel structures: socket filters returning where task_struct's fields are on the
// kernel it is loaded into (offsets, sizes, existence), relocated at load time against that kernel's BTF.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
} __attribute__((preserve_access_index));

SEC("socket")
int pid_offset(void *ctx)
{
	return bpf_core_field_offset(struct task_struct, pid);
}

SEC("socket")
int comm_size(void *ctx)
{
	return bpf_core_field_size(struct task_struct, comm);
}

SEC("socket")
int tgid_exists(void *ctx)
{
	return bpf_core_field_exists(struct task_struct, tgid);
}

char LICENSE[] SEC("license") = "GPL";
