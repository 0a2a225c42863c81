// While strict_check replaces check(), check() itself cannot be traced (a function is either extended or traced:
// EBUSY); fentry may attach to the extension program instead and count the calls it now serves.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 calls = 0;

SEC("fentry/strict_check")
int count_replaced(__u64 *ctx)
{
    __sync_fetch_and_add(&calls, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
