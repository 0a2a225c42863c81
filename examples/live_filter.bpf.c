// The demo's live target: an XDP program serving traffic whose verdict comes from a global function, check(),
// which an extension can replace and an fentry program can observe while the program runs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The original policy: frames shorter than 64 bytes are dropped.
__attribute__((noinline)) int check(int len)
{
    return len >= 64 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int live_filter(struct xdp_md *ctx)
{
    return check(ctx->data_end - ctx->data);
}

char LICENSE[] SEC("license") = "GPL";
