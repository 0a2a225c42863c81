#!/usr/bin/env bash
# Regenerates helper-availability.tsv, the reference profile's helper table: for every program type, the helper ids
# that pass its get_func_proto gate at full privilege, as `ebpf feature probe --helpers` finds them on the running
# kernel (root, bpf(2)). Two corrections keep the table "mainline 6.18" rather than "this machine":
#   - MAINLINE_ADDITIONS: helpers mainline allows that a distribution build may refuse (6.18.44-fc-v1300 refuses
#     bpf_xdp_adjust_meta#54 in XDP; mainline and the build the corpus was recorded on allow it);
#   - types that cannot be probed without a BTF attach target (tracing, lsm, struct_ops, ext) keep their rows from
#     the existing file (program-types.md Appendix A).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../../.." && pwd)
dotnet build "$top/src/Ebpf.Cli" -c Release -v q >/dev/null
json=$(dotnet "$top/src/Ebpf.Cli/bin/Release/net10.0/Ebpf.Cli.dll" --json feature probe --helpers)
python3 - "$here/helper-availability.tsv" "$(uname -r)" <<PY
import json, sys
data = json.loads('''$json''')
out, release = sys.argv[1], sys.argv[2]
MAINLINE_ADDITIONS = {"xdp": [54]}
UNPROBEABLE = {"tracing", "lsm", "struct_ops", "ext"}
kept = {}
try:
    for line in open(out):
        if line.startswith("#") or not line.strip():
            continue
        t, ids = line.rstrip("\n").split("\t")
        if t in UNPROBEABLE:
            kept[t] = ids
except FileNotFoundError:
    pass
rows = {}
for t, ids in (data.get("helpers") or {}).items():
    if t in UNPROBEABLE:
        continue
    rows[t] = ",".join(str(i) for i in sorted(set(ids) | set(MAINLINE_ADDITIONS.get(t, []))))
rows.update(kept)
with open(out, "w") as f:
    f.write(f"# program type\thelper ids that pass get_func_proto at full privilege; probed on Linux {release}\n")
    f.write("# mainline additions: " + "; ".join(f"{t} +{','.join(map(str, ids))}" for t, ids in MAINLINE_ADDITIONS.items()) + "\n")
    f.write("# not probe-able (kept from program-types.md Appendix A): " + ",".join(sorted(UNPROBEABLE)) + "\n")
    for t in sorted(rows):
        f.write(t + "\t" + rows[t] + "\n")
PY
echo "wrote $here/helper-availability.tsv"
