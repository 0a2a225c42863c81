#!/usr/bin/env bash
# Regenerates the public API listings (PublicAPI.Unshipped.txt) of the library projects after an API change.
#
# The listing is rebuilt from scratch rather than patched: the unshipped file is reset to its header and the
# analyzer's own code fix for RS0016 ("symbol is not part of the declared API") adds every public symbol the
# compiler sees. Entries for symbols that no longer exist (RS0017) therefore disappear too; RS0017 has no
# code fix that dotnet format applies. PublicAPI.Shipped.txt is never touched: removing a shipped API is a
# deliberate act (a "*REMOVED*" line in the unshipped file), so a stale shipped entry stays an RS0017 report.
#
# The one command it runs per project:
#   dotnet format analyzers <project> --diagnostics RS0016 --severity warn
# Review the result with `git diff -- '*PublicAPI*.txt'`; the build then reports no RS0016/RS0017.
set -euo pipefail
cd "$(dirname "$0")/.."

projects=(src/Ebpf/Ebpf.csproj src/Ebpf.Linux/Ebpf.Linux.csproj)
for project in "${projects[@]}"; do
    dir=$(dirname "$project")
    [ -f "$dir/PublicAPI.Shipped.txt" ] || printf '#nullable enable\n' > "$dir/PublicAPI.Shipped.txt"
    # Keep removals of shipped API that were recorded on purpose; drop every other unshipped entry.
    removed=$(grep -E '^\*REMOVED\*' "$dir/PublicAPI.Unshipped.txt" 2>/dev/null || true)
    printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
    if [ -n "$removed" ]; then printf '%s\n' "$removed" >> "$dir/PublicAPI.Unshipped.txt"; fi
    echo "== $project"
    dotnet format analyzers "$project" --diagnostics RS0016 --severity warn
done

echo "Listings updated:"
git --no-pager diff --stat -- '*PublicAPI.*.txt' || true
