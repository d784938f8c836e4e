#!/bin/sh
# qcow2 throughput, Strata vs qemu-img bench, on the same images in one run.
# Sequential: 64 KiB requests over 1 GiB. "Random": 4 KiB requests at i*step modulo
# the size with a large prime step (qemu-img bench has no random mode; the stride
# scatters requests the same way for both). Both go through the page cache
# (qemu: -t writeback; Strata: buffered FileChannel); writes end with a flush.
# Usage: bench/run.sh [dir]   (after: mvn -q install -pl bundles/format-qcow2)
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
m2=${HOME}/.m2/repository/io/strata
cp="$here/target/classes:$m2/strata-api/0.1.0-SNAPSHOT/strata-api-0.1.0-SNAPSHOT.jar:$m2/strata-testing/0.1.0-SNAPSHOT/strata-testing-0.1.0-SNAPSHOT.jar"
size=$((1 << 30))
seq_n=$((size / 65536))
rnd_n=65536
step=$((4096 * 7919))
threads=${THREADS:-4}
depth=${DEPTH:-16}
strata() { java -cp "$cp" "$here/bench/Qcow2Bench.java" "$@"; }
qbench() { printf 'qemu   %-5s ' "$1"; shift; qemu-img bench -f qcow2 -t writeback -d "$depth" "$@" | tail -1; }

echo "== sequential write, 64 KiB, fresh thin images (Strata-made for Strata, qemu-made for qemu)"
rm -f "$dir/s.qcow2" "$dir/q.qcow2"
strata "$dir/s.qcow2" create $size 0 0 0 1
qemu-img create -q -f qcow2 "$dir/q.qcow2" $size
strata "$dir/s.qcow2" write $size 65536 $seq_n 65536 $threads
qbench write -w -s 65536 -c $seq_n -S 65536 "$dir/q.qcow2"
echo "== sequential read, 64 KiB, the Strata-written image"
strata "$dir/s.qcow2" read $size 65536 $seq_n 65536 $threads
qbench read -s 65536 -c $seq_n -S 65536 "$dir/s.qcow2"
echo "== random write, 4 KiB, allocated clusters, the Strata-written image"
strata "$dir/s.qcow2" write $size 4096 $rnd_n $step $threads
qbench write -w -s 4096 -c $rnd_n -S $step "$dir/s.qcow2"
echo "== random read, 4 KiB, the Strata-written image"
strata "$dir/s.qcow2" read $size 4096 $rnd_n $step $threads
qbench read -s 4096 -c $rnd_n -S $step "$dir/s.qcow2"
echo "== random allocating write, 4 KiB, fresh thin images"
rm -f "$dir/s2.qcow2" "$dir/q2.qcow2"
strata "$dir/s2.qcow2" create $size 0 0 0 1
qemu-img create -q -f qcow2 "$dir/q2.qcow2" $size
strata "$dir/s2.qcow2" write $size 4096 4096 $step $threads
qbench write -w -s 4096 -c 4096 -S $step "$dir/q2.qcow2"
qemu-img check -q "$dir/s.qcow2" && qemu-img check -q "$dir/s2.qcow2" && echo "qemu-img check: clean"
