// Demo step 6, first in line (priority 10): counts every frame and its bytes, then lets the chain go on.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 frames = 0;
__u64 bytes = 0;

SEC("xdp")
int xdp_counter(struct xdp_md *ctx)
{
    __sync_fetch_and_add(&frames, 1);
    __sync_fetch_and_add(&bytes, ctx->data_end - ctx->data);
    return XDP_PASS;
}

// libxdp's run config (kernel-semantics.md 6.3): priority 10, continue after XDP_PASS.
struct {
    __uint(priority, 10);
    __uint(XDP_PASS, 1);
} _xdp_counter SEC(".xdp_run_config");

char _license[] SEC("license") = "GPL";
