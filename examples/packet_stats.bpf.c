// Demo program: an XDP filter that counts packets per IP protocol and drops telnet (TCP port 23).
// The demo loads this object into the managed runtime, feeds it packets through test_run and
// prints the per-protocol counters from the map.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 256);
    __type(key, __u32);   // IP protocol number
    __type(value, __u64); // packets seen
} proto_counts SEC(".maps");

const volatile __u16 blocked_port = 23; // .rodata: a host may change it before loading

static __always_inline void count(__u32 proto)
{
    __u64 one = 1, *value = bpf_map_lookup_elem(&proto_counts, &proto);
    if (value)
        __sync_fetch_and_add(value, 1);
    else
        bpf_map_update_elem(&proto_counts, &proto, &one, BPF_NOEXIST);
}

SEC("xdp")
int packet_stats(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return XDP_PASS;
    count(ip->protocol);
    if (ip->protocol == IPPROTO_TCP) {
        struct tcphdr *tcp = (void *)ip + ip->ihl * 4;
        if ((void *)(tcp + 1) <= data_end && tcp->dest == bpf_htons(blocked_port))
            return XDP_DROP;
    }
    return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
