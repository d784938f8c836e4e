#!/bin/sh
# qcow2 throughput, Strata vs qemu-img bench, on the same images in one run.
# Sequential: 64 KiB requests over 1 GiB. "Random": 4 KiB requests at i*step modulo
# the size with a large prime step (qemu-img bench has no random mode; the stride
# scatters requests the same way for both). Both go through the page cache
# (qemu: -t writeback; Strata: the local datastore's buffered file).
# Each row runs ROUNDS times (default 3), Strata then qemu, fresh images for the fresh
# rows; it prints each round's seconds and the medians. The main figure is what qemu-img
# bench reports, "Run completed in": first request to last answer, without the flush qemu
# does when it closes the image; Strata's is measured the same way. "speed" is qemu's
# median over Strata's: above 1, Strata is faster. Write rows add a second comparison with
# the closing flush (fsync) in: Strata's requests plus its flush against qemu-img's whole
# wall-clock time (process start and image open included, which favours Strata by a few
# tens of milliseconds).
# Usage: bench/run.sh [dir]   (after: mvn -q install -pl bundles/posix,bundles/format-qcow2)
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${1:-}" ]; then dir=$1 made=; else dir=$(mktemp -d) made=1; fi
mkdir -p "$dir"
# The images go however the run ends; a directory made here goes with them.
cleanup() {
    rm -f "$dir/s.qcow2" "$dir/b.qcow2" "$dir/fs.qcow2" "$dir/fq.qcow2"
    if [ -n "$made" ]; then rmdir "$dir" 2>/dev/null || true; fi
}
trap cleanup EXIT
m2=${HOME}/.m2/repository
s=$m2/io/strata
jna=$(ls "$m2"/net/java/dev/jna/jna/5.14.0/jna-5.14.0.jar)
cp="$here/target/classes:$s/strata-api/0.1.0-SNAPSHOT/strata-api-0.1.0-SNAPSHOT.jar:$s/strata-posix/0.1.0-SNAPSHOT/strata-posix-0.1.0-SNAPSHOT.jar:$jna"
size=$((1 << 30))
seq_n=$((size / 65536))
rnd_n=65536
step=$((4096 * 7919))
threads=${THREADS:-4}
depth=${DEPTH:-16}
rounds=${ROUNDS:-3}

strata() { java -cp "$cp" "$here/bench/Qcow2Bench.java" "$@"; }
# "<requests> <requests+flush>" in seconds
strata_s() { strata "$@" | sed -n 's/.*: *\([0-9.]*\) s,.*flush \([0-9.]*\) s/\1 \2/p' | awk '{printf "%.3f %.3f\n", $1, $1 + $2}'; }
# "<reported> <wall>" in seconds
qemu_s() {
    t0=$(date +%s.%N)
    rep=$(qemu-img bench -f qcow2 -t writeback -d "$depth" "$@" | sed -n 's/Run completed in \([0-9.]*\) seconds./\1/p')
    echo "$rep $(date +%s.%N) $t0" | awk '{printf "%.3f %.3f\n", $1, $2 - $3}'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# row <title> <fresh: 1 makes new images each round> <strata args...> -- <qemu args...>
row() {
    title=$1 fresh=$2
    shift 2
    sargs="" qargs="" side=s
    for x in "$@"; do
        if [ "$x" = "--" ]; then side=q; continue; fi
        if [ $side = s ]; then sargs="$sargs $x"; else qargs="$qargs $x"; fi
    done
    st="" qt="" stf="" qtf=""
    r=0
    while [ $r -lt "$rounds" ]; do
        if [ "$fresh" = 1 ]; then
            rm -f "$dir/fs.qcow2" "$dir/fq.qcow2"
            strata "$dir/fs.qcow2" create $size 0 0 0 1
            qemu-img create -q -f qcow2 "$dir/fq.qcow2" $size
        fi
        # shellcheck disable=SC2086
        set -- $(strata_s $sargs)
        st="$st $1" stf="$stf $2"
        # shellcheck disable=SC2086
        set -- $(qemu_s $qargs)
        qt="$qt $1" qtf="$qtf $2"
        r=$((r + 1))
    done
    sm=$(echo "$st" | median) qm=$(echo "$qt" | median)
    printf '%-50s strata %6.3f s (%s)  qemu %6.3f s (%s)  speed %.2f\n' "$title" "$sm" "${st# }" "$qm" "${qt# }" \
        "$(echo "$qm $sm" | awk '{print $1 / $2}')"
    case "$qargs" in
    *" -w "*)
        sm=$(echo "$stf" | median) qm=$(echo "$qtf" | median)
        printf '%-50s strata %6.3f s (%s)  qemu %6.3f s (%s)  speed %.2f\n' "  ... with the closing flush" "$sm" \
            "${stf# }" "$qm" "${qtf# }" "$(echo "$qm $sm" | awk '{print $1 / $2}')"
        ;;
    esac
}

echo "qcow2 bench: $rounds rounds, Strata $threads threads, qemu-img bench depth $depth, 1 GiB images (one of 1 TiB) in $dir"
rm -f "$dir/s.qcow2"
strata "$dir/s.qcow2" create $size 0 0 0 1
strata "$dir/s.qcow2" write $size 65536 $seq_n 65536 $threads >/dev/null
row "sequential write 64 KiB, fresh image, 1 GiB" 1 \
    "$dir/fs.qcow2" write $size 65536 $seq_n 65536 $threads -- -w -s 65536 -c $seq_n -S 65536 "$dir/fq.qcow2"
row "sequential read 64 KiB, 1 GiB" 0 \
    "$dir/s.qcow2" read $size 65536 $seq_n 65536 $threads -- -s 65536 -c $seq_n -S 65536 "$dir/s.qcow2"
row "4 KiB strided write, allocated clusters, 65536" 0 \
    "$dir/s.qcow2" write $size 4096 $rnd_n $step $threads -- -w -s 4096 -c $rnd_n -S $step "$dir/s.qcow2"
row "4 KiB strided read, 65536" 0 \
    "$dir/s.qcow2" read $size 4096 $rnd_n $step $threads -- -s 4096 -c $rnd_n -S $step "$dir/s.qcow2"
# The L2 tables of a 1 TiB image, one cluster written under each, are 128 MiB: four times
# what either side caches (Strata 32 MiB; qemu 32 MiB at most, its default on Linux), so
# most lookups of this row miss the cache and read their table from the file.
big=$((1 << 40)) tstride=$((1 << 29))
bstep=$((tstride * 3 + 4096 * 7919))
rm -f "$dir/b.qcow2"
strata "$dir/b.qcow2" create $big 0 0 0 1
strata "$dir/b.qcow2" write $big 4096 $((big / tstride)) $tstride $threads >/dev/null
row "4 KiB strided read, 1 TiB, tables 4x the cache" 0 \
    "$dir/b.qcow2" read $big 4096 $rnd_n $bstep $threads -- -s 4096 -c $rnd_n -S $bstep "$dir/b.qcow2"
row "4 KiB strided allocating write, fresh image, 4096" 1 \
    "$dir/fs.qcow2" write $size 4096 4096 $step $threads -- -w -s 4096 -c 4096 -S $step "$dir/fq.qcow2"
row "4 KiB strided allocating write, fresh image, 16384" 1 \
    "$dir/fs.qcow2" write $size 4096 16384 $step $threads -- -w -s 4096 -c 16384 -S $step "$dir/fq.qcow2"
qemu-img check -q "$dir/s.qcow2" && qemu-img check -q "$dir/b.qcow2" && qemu-img check -q "$dir/fs.qcow2" \
    && qemu-img check -q "$dir/fq.qcow2" \
    && echo "qemu-img check: clean (the allocated images, and the last fresh images of both)"
