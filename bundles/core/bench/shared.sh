#!/bin/sh
# Shared datastores (issue 8), in one run on this machine:
#   - the cost of a catalog change (volume-create, volume-delete) on a shared dir datastore
#     against the same directory used by one host (SharedBench);
#   - lease acquire and release latency (the lease library's LeaseBenchmark).
# The time from kill -9 of a host to another host's first write of its volume is printed by
# SharedDatastoreIT (three real distributions, default timing) and SharedKillTest (short timing).
# Usage: bundles/core/bench/shared.sh [dir] [rounds]   (after: mvn -q install -DskipTests)
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$(mktemp -d)}
rounds=${2:-200}
cpfile="$here/target/bench-classpath.txt"
(cd "$here" && mvn -q -o test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$cpfile" >/dev/null)
cp="$here/target/test-classes:$here/target/classes:$(cat "$cpfile")"
rm -rf "$dir/plain" "$dir/shared"
java -Xmx512m -cp "$cp" io.strata.core.internal.SharedBench "$dir" "$rounds"
rm -rf "$dir/plain" "$dir/shared"
