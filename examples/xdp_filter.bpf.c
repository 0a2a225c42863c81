// Demo step 6, second (priority 20): drops frames shorter than min_len (written into .rodata before load; the
// demo replaces a 64-byte filter with a 128-byte one while traffic flows). A drop ends the chain.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 min_len = 64;
__u64 dropped = 0;

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
    if (ctx->data_end - ctx->data < min_len) {
        __sync_fetch_and_add(&dropped, 1);
        return XDP_DROP;
    }
    return XDP_PASS;
}

struct {
    __uint(priority, 20);
    __uint(XDP_PASS, 1);
} _xdp_filter SEC(".xdp_run_config");

char _license[] SEC("license") = "GPL";
