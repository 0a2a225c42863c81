using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// The struct_ops types' <c>btf_struct_access</c> verifier ops (6.18): check_ptr_to_btf_access calls them for a
/// WRITE through a PTR_TO_BTF_ID (reads take the generic btf_struct_access). Each returns the kernel's line for a
/// refused write, or null when the write is allowed. A type without the op refuses every write ("only read is
/// supported").
/// </summary>
internal static class StructOpsWrites
{
    /// <summary>bpf_tcp_ca_btf_struct_access: only tcp_sock, only the fields a congestion control owns.</summary>
    public static string? TcpCongestionOps(BtfSpec kernel, string structName, int off, int size)
    {
        if (structName != "tcp_sock")
            return "only read is supported";
        // (start, end) of each writable field, in tcp_sock (sock and inet_connection_sock sit at its start).
        foreach (var (start, end, wholeRange) in TcpWritableFields(kernel))
        {
            if (wholeRange ? off < start || off >= end : off != start)
                continue;
            return off + size > end
                ? $"write access at off {off} with size {size} beyond the member of tcp_sock ended at {end}"
                : null;
        }
        return $"no write support to tcp_sock at off {off}";
    }

    /// <summary>bpf_dummy_ops_btf_struct_access: only the test state, within its size.</summary>
    public static string? DummyOps(BtfSpec kernel, string structName, int off, int size)
    {
        if (structName != "bpf_dummy_ops_state")
            return "only access to bpf_dummy_ops_state is supported";
        uint stateSize = kernel.TryFindByName("bpf_dummy_ops_state", BtfKind.Struct, out var t) ? ((BtfComposite)t).Size : 0;
        return off + size > stateSize ? $"write access at off {off} with size {size}" : null;
    }

    private static List<(int Start, int End, bool WholeRange)> TcpWritableFields(BtfSpec kernel)
    {
        var fields = new List<(int, int, bool)>();
        void Add(string structName, string path, bool wholeRange = false)
        {
            if (FieldOf(kernel, structName, path) is { } f)
                fields.Add((f.Offset, f.Offset + f.Size, wholeRange));
        }
        Add("sock", "sk_pacing_rate");
        Add("sock", "sk_pacing_status");
        Add("inet_connection_sock", "icsk_ca_priv", wholeRange: true); // bpf_ctx_range: any offset inside it
        Add("inet_connection_sock", "icsk_ack.pending");
        Add("tcp_sock", "snd_cwnd");
        Add("tcp_sock", "snd_cwnd_cnt");
        Add("tcp_sock", "snd_cwnd_stamp");
        Add("tcp_sock", "snd_ssthresh");
        Add("tcp_sock", "ecn_flags");
        Add("tcp_sock", "app_limited");
        return fields;
    }

    /// <summary>Byte offset and size of a (dotted) member path of a kernel struct; null when absent or a bitfield.</summary>
    private static (int Offset, int Size)? FieldOf(BtfSpec kernel, string structName, string path)
    {
        if (!kernel.TryFindByName(structName, BtfKind.Struct, out var t))
            return null;
        int offset = 0;
        uint memberType = 0;
        foreach (string name in path.Split('.'))
        {
            if (t is not BtfComposite composite)
                return null;
            var member = composite.Members.FirstOrDefault(m => m.Name == name);
            if (member.Name is null || member.IsBitfield)
                return null;
            offset += (int)member.ByteOffset;
            memberType = member.Type;
            t = kernel.ResolveType(member.Type);
        }
        return (offset, (int)kernel.SizeOf(memberType));
    }
}
