// The replacement policy, loaded against live_filter and attached live: only frames of 128 bytes or more pass.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 replaced_calls = 0;

SEC("freplace/check")
int strict_check(int len)
{
    __sync_fetch_and_add(&replaced_calls, 1);
    return len >= 128 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
