// Demo step 6, last (priority 30): sees only what the filter let through and samples one frame in 16.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 seen = 0;
__u64 sampled = 0;

SEC("xdp")
int xdp_sampler(struct xdp_md *ctx)
{
    __u64 n = __sync_fetch_and_add(&seen, 1);

    if (n % 16 == 0)
        __sync_fetch_and_add(&sampled, 1);
    return XDP_PASS;
}

struct {
    __uint(priority, 30);
    __uint(XDP_PASS, 1);
} _xdp_sampler SEC(".xdp_run_config");

char _license[] SEC("license") = "GPL";
