// Counts the calls of live_filter and its PASS verdicts with fexit (it sees the return value after the ctx argument).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 calls = 0, passed = 0;

SEC("fexit/live_filter")
int count_check(__u64 *ctx)
{
    __sync_fetch_and_add(&calls, 1);
    if (ctx[1] == XDP_PASS)
        __sync_fetch_and_add(&passed, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
