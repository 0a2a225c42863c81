// Counts the calls of live_filter's check() with fentry (ctx[0] is its one argument, the frame length), and how
// many of them were for frames of 64 bytes or more.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 calls = 0, long_frames = 0;

SEC("fentry/check")
int count_check(__u64 *ctx)
{
    __sync_fetch_and_add(&calls, 1);
    if (ctx[0] >= 64)
        __sync_fetch_and_add(&long_frames, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
