using Ebpf.Runtime;
using Ebpf.Runtime.Objects;

namespace Ebpf.Collections;

// The managed runtime's way into the common live types: a handle on a runtime object owns one of its references.

public sealed partial class BpfMap
{
    internal BpfMap(MapObject map, MapAccess access)
        : this(map.Runtime.Backend, map, map.Id, access, map.Type, map.Definition.KeySize, map.Definition.ValueSize,
            map.Maps?.MaxEntries ?? map.Definition.MaxEntries, map.Definition.Flags, map.Name)
    {
    }
}

public sealed partial class BpfProgram
{
    internal BpfProgram(ProgramObject program)
        : this(program.Runtime.Backend, program, program.Id, program.Type, program.Name, program.Verification?.Log)
    {
    }
}

public sealed partial class BpfLink
{
    internal BpfLink(LinkObject link) : this(link.Runtime.Backend, link, link.Id)
    {
    }
}

public sealed partial class BtfHandle
{
    internal BtfHandle(BtfObject btf) : this(btf.Runtime.Backend, btf, btf.Id)
    {
    }
}
