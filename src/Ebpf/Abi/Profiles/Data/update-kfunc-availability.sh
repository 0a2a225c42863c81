#!/usr/bin/env bash
# Regenerates kfunc-availability.tsv from the running kernel (root, bpf(2)): for every vmlinux kfunc, the program
# types that may call it, as `ebpf feature probe --kfuncs` finds them. The verifier reads the table to refuse a
# kfunc the program type may not call ("calling kernel function X is not allowed"), as the kernel does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../../.." && pwd)
dotnet build "$top/src/Ebpf.Cli" -c Release -v q >/dev/null
json=$(dotnet "$top/src/Ebpf.Cli/bin/Release/net10.0/Ebpf.Cli.dll" --json feature probe --kfuncs)
python3 - "$here/kfunc-availability.tsv" "$(uname -r)" <<PY
import json, sys
data = json.loads('''$json''')
out, release = sys.argv[1], sys.argv[2]
kf = data["kfuncs"]
types = sorted(kf)
names = sorted(data["vmlinux_kfuncs"])  # every kfunc, so one no probed type may call has an empty list
with open(out, "w") as f:
    f.write(f"# kfunc\tprogram types allowed to call it (empty: none of the probed types); probed on Linux {release}\n")
    f.write("# probed types: " + ",".join(types) + "\n")
    for n in names:
        f.write(n + "\t" + ",".join(t for t in types if n in kf[t]) + "\n")
PY
echo "wrote $here/kfunc-availability.tsv"
