#!/bin/sh
# Chain benchmarks (issue 3), in one run on this machine, through the core with the real
# dir layer and formats:
#   - snapshot-create on 1 GiB and 1 TiB thin volumes (VHD and qcow2): must be alike, < 50 ms;
#   - linked-clone creation: < 50 ms;
#   - snapshot-delete merge of MERGE_MIB (default 2048) of allocated data, beside cp of the
#     snapshot's image file in the same run: the merge must reach 0.8 of cp's speed.
# Both the merge and cp run with the page cache warm (the data was just written).
# Usage: bundles/core/bench/run.sh [dir]   (after: mvn -q install -DskipTests)
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$(mktemp -d)}
mib=${MERGE_MIB:-2048}
cpfile="$here/target/bench-classpath.txt"
(cd "$here" && mvn -q -o test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$cpfile" >/dev/null)
cp="$here/target/test-classes:$here/target/classes:$(cat "$cpfile")"
bench() { java -Xmx1g -cp "$cp" io.strata.core.internal.ChainBench "$@"; }

for f in vhd qcow2; do
    rm -rf "$dir/$f"
    bench "$dir/$f" snapshot $f 1
    bench "$dir/$f" snapshot $f 1024
    bench "$dir/$f" clone $f
done
for f in vhd qcow2; do
    rm -rf "$dir/m-$f"
    src=$(bench "$dir/m-$f" merge-prepare $f "$mib" | tail -1)
    # cp of the snapshot's image, the bytes the merge reads, with the cache as warm as for the
    # merge and nothing left to write back for either
    cat "$src" > /dev/null
    sync
    t0=$(date +%s.%N)
    cp "$src" "$dir/cp-dst"
    sync -f "$dir/cp-dst"
    t1=$(date +%s.%N)
    rm -f "$dir/cp-dst"
    sync
    cpm=$(( $(stat -c %s "$src") >> 20 ))
    echo "cp of the $f snapshot image ($cpm MiB): $(echo "$t0 $t1 $cpm" | awk '{ printf "%.3f s, %.1f MiB/s", $2 - $1, $3 / ($2 - $1) }')"
    bench "$dir/m-$f" merge $f "$mib"
done
rm -rf "$dir"/vhd "$dir"/qcow2 "$dir"/m-vhd "$dir"/m-qcow2
