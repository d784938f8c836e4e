#!/usr/bin/env bash
# NBD performance harness (issue 4): the same fio workloads, in one run on this machine,
# against
#   (a) Strata's NBD export of a dynamic (thin) VHD volume, in a Strata instance of its own,
#   (b) qemu-nbd serving a dynamic VHD made by qemu-img,
#   (c) nbdkit's file plugin serving a raw file,
# each driven by fio's nbd engine (libnbd, one connection): 4k random read QD32, 4k random
# write QD32, 1 MiB sequential read QD8, 1 MiB sequential write QD8, after preconditioning
# (the whole image written once, so every VHD block is allocated). Prints IOPS, MiB/s and
# p99 completion latency per row and the ratios Strata/qemu-nbd and Strata/nbdkit.
#
# Usage: bundles/nbd/bench/run.sh   (RUNTIME=10 SIZE=1G REPEAT=1 ROWS="randread randwrite read write" by default;
#        REPEAT=5 alternates the servers over five rounds and prints medians;
#        REPEAT=20 RUNTIME=2 ROWS=write makes many short rounds of one row: the median of the
#        rounds' own Strata/nbdkit ratios then resolves differences of a few per cent;
#        WARMUP=5 serves every row from every server for that many seconds first, unmeasured;
#        TRANSPORT=unix connects every server through a Unix domain socket (Strata's own,
#        qemu-nbd -k, nbdkit -U) instead of TCP; JOBS=4 runs four fio jobs, each on its own
#        connection to the one export (CAN_MULTI_CONN), sequential jobs on their own quarter)
# Needs: a built distribution (mvn install), fio, qemu-utils, nbdkit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
RUNTIME="${RUNTIME:-10}"
SIZE="${SIZE:-1G}"
RAMP=2                                       # seconds of each fio run before it measures
# Seconds each server serves each row once, unmeasured, before the rounds: a JVM compiles a
# path the first time a workload takes it (Strata's user CPU per GiB on the four-connection
# 1 MiB read row was about 3x its later figure in its first 8 s), and a server that has run
# for a while is what a hypervisor meets. Every server gets the same pass; WARMUP=0 skips it.
WARMUP="${WARMUP:-5}"
REPEAT="${REPEAT:-1}"                        # rounds; the table shows the median of each figure
ROWS="${ROWS:-randread randwrite read write}" # a subset of the rows, e.g. ROWS=read
TRANSPORT="${TRANSPORT:-tcp}"                # tcp or unix
JOBS="${JOBS:-1}"                            # fio jobs, one connection each
# SENDFILE=false makes Strata copy large reads through its buffers instead of sendfile(2).
# INPLACE=true makes Strata receive large writes in place (receive.in.place), off by default.
# POLL=<us> sets how long a busy connection polls for its next request (poll.us, default 50).
# OVERLAP=true hands batches of small replies to a sender thread (send.overlap, off by default).
# FORMAT=raw (or qcow2) makes Strata's volume of that format instead of a dynamic VHD.
# NBDKIT_THREADS=1 gives nbdkit one thread per connection (--threads), the shape of Strata's
# connections; unset, nbdkit runs its default pool of threads on every connection.
# TCP_CC=<name> (cubic, bbr, ...) runs the whole harness, servers and fio, in a network
# namespace of its own whose TCP congestion control is <name>, leaving the host's alone (it is
# per namespace; needs root). Over loopback the four-connection 1 MiB rows ran about 1.5 times
# as fast under cubic as under BBR (README, Figures).
if [[ -n "${TCP_CC:-}" && -z "${STRATA_BENCH_NETNS:-}" ]]; then
    exec unshare --net -- env STRATA_BENCH_NETNS=1 bash -c \
        'ip link set lo up && sysctl -qw net.ipv4.tcp_congestion_control="$TCP_CC" && exec "$0" "$@"' \
        "${BASH_SOURCE[0]}" "$@"
fi
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/strata-nbd-bench.XXXXXX")"
SSH_PORT=8199
P_STRATA=10901
P_QEMU=10902
P_NBDKIT=10903
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    STRATA_RUN="$WORK/run" "$ROOT/strata" stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for t in fio qemu-nbd qemu-img nbdkit python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is needed" >&2; exit 1; }
done

echo "== starting Strata (instance in $WORK/run), qemu-nbd and nbdkit" >&2
DIST="$ROOT/karaf-features/distribution/target/assembly"
[[ -x "$DIST/bin/karaf" ]] || { echo "bench: build first (mvn install -DskipTests)" >&2; exit 1; }
mkdir -p "$WORK/run"
cp -R "$DIST/etc" "$WORK/run/etc"
sed -i "s/^sshPort *=.*/sshPort = $SSH_PORT/" "$WORK/run/etc/org.apache.karaf.shell.cfg"
grep -q '^sshPort' "$WORK/run/etc/org.apache.karaf.shell.cfg" || echo "sshPort = $SSH_PORT" >> "$WORK/run/etc/org.apache.karaf.shell.cfg"
sed -i "s/^port *=.*/port = $P_STRATA/; s/^sendfile *=.*/sendfile = ${SENDFILE:-true}/; s/^receive.in.place *=.*/receive.in.place = ${INPLACE:-false}/; s/^poll.us *=.*/poll.us = ${POLL:-50}/; s/^send.overlap *=.*/send.overlap = ${OVERLAP:-false}/" "$WORK/run/etc/io.strata.nbd.cfg"
sed -i "s/^rmiRegistryPort *=.*/rmiRegistryPort = 11199/; s/^rmiServerPort *=.*/rmiServerPort = 44499/" \
    "$WORK/run/etc/org.apache.karaf.management.cfg"
mkdir -p "$WORK/run/data" "$WORK/run/deploy"
# Marks the instance as made from this build, so ./strata does not refresh etc/ over these edits.
touch -r "$(compgen -G "$ROOT/karaf-features/distribution/target/strata-distribution-*.tar.gz" | head -n 1)" \
    "$WORK/run/.distribution"
export STRATA_RUN="$WORK/run" STRATA_NO_BUILD=1
"$ROOT/strata" start >/dev/null
"$ROOT/strata" client "storage:volume-create --format ${FORMAT:-vhd} local bench $SIZE" >/dev/null
"$ROOT/strata" client "storage:export-add local/bench" >/dev/null

qemu-img create -q -f vpc -o subformat=dynamic "$WORK/q.vhd" "$SIZE"
truncate -s "$SIZE" "$WORK/r.raw"
# qemu-nbd serves one client at a time unless told more (-e): with JOBS=4 the other three
# connections would wait in the listen backlog and its figures would mean nothing.
if [[ "$TRANSPORT" == unix ]]; then
    qemu-nbd -f vpc -t -e "$JOBS" -x vol -k "$WORK/qemu.sock" "$WORK/q.vhd" &
    pids+=($!)
    nbdkit -f ${NBDKIT_THREADS:+--threads="$NBDKIT_THREADS"} -U "$WORK/nbdkit.sock" file "$WORK/r.raw" &
    pids+=($!)
    declare -A URI=([strata]="nbd+unix:///bench?socket=$WORK/run/data/strata/nbd.sock"
        [qemu-nbd]="nbd+unix:///vol?socket=$WORK/qemu.sock" [nbdkit]="nbd+unix:///?socket=$WORK/nbdkit.sock")
else
    qemu-nbd -f vpc -t -e "$JOBS" -x vol -b 127.0.0.1 -p "$P_QEMU" "$WORK/q.vhd" &
    pids+=($!)
    nbdkit -f ${NBDKIT_THREADS:+--threads="$NBDKIT_THREADS"} -i 127.0.0.1 -p "$P_NBDKIT" file "$WORK/r.raw" &
    pids+=($!)
    declare -A URI=([strata]="nbd://127.0.0.1:$P_STRATA/bench" [qemu-nbd]="nbd://127.0.0.1:$P_QEMU/vol"
        [nbdkit]="nbd://127.0.0.1:$P_NBDKIT/")
fi
sleep 2
WORKLOADS=("randread 4k 32" "randwrite 4k 32" "read 1M 8" "write 1M 8")

BYTES=$(numfmt --from=iec "$SIZE")
JOB_ARGS=(--size="$SIZE")
if ((JOBS > 1)); then # each job its own connection; sequential ones on their own part
    JOB_ARGS=(--numjobs="$JOBS" --group_reporting --size=$((BYTES / JOBS)) --offset_increment=$((BYTES / JOBS)))
fi
run_fio() { # uri rw bs qd json
    fio --name=b --ioengine=nbd --uri="$1" --rw="$2" --bs="$3" --iodepth="$4" "${JOB_ARGS[@]}" \
        --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --output-format=json --output="$5" >/dev/null
}

# The server's CPU time (user + system, clock ticks) from /proc: what each byte costs it.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A PID=([strata]="$(pgrep -f "karaf.base=$WORK/run" | head -n 1)" [qemu-nbd]="${pids[0]}" [nbdkit]="${pids[1]}")
for s in strata qemu-nbd nbdkit; do
    [[ -n "${PID[$s]}" && -r "/proc/${PID[$s]}/stat" ]] || { echo "bench: no process for $s" >&2; exit 1; }
done
for s in strata qemu-nbd nbdkit; do
    echo "== $s: preconditioning (sequential 1 MiB writes over $SIZE)" >&2
    fio --name=pre --ioengine=nbd --uri="${URI[$s]}" --rw=write --bs=1M --iodepth=8 --size="$SIZE" \
        --output-format=terse >/dev/null
done
if ((WARMUP > 0)); then
    for w in "${WORKLOADS[@]}"; do
        read -r rw bs qd <<<"$w"
        [[ " $ROWS " == *" $rw "* ]] || continue
        for s in strata qemu-nbd nbdkit; do
            echo "== $s: warm-up, $rw $bs QD$qd, ${WARMUP}s (not measured)" >&2
            fio --name=warm --ioengine=nbd --uri="${URI[$s]}" --rw="$rw" --bs="$bs" --iodepth="$qd" \
                "${JOB_ARGS[@]}" --time_based --runtime="$WARMUP" --output-format=terse >/dev/null
        done
    done
fi
# Rounds alternate the servers row by row, so a burst of noise on this shared machine hits
# one server's figure of one round, not one server's whole column; the table shows medians.
for ((r = 1; r <= REPEAT; r++)); do
    for w in "${WORKLOADS[@]}"; do
        read -r rw bs qd <<<"$w"
        [[ " $ROWS " == *" $rw "* ]] || continue
        for s in strata qemu-nbd nbdkit; do
            sync # no server pays for another's (or its own earlier) write-back
            echo "== round $r/$REPEAT: $s: $rw $bs QD$qd, ${RUNTIME}s" >&2
            c0=$(cpu_ticks "${PID[$s]}")
            run_fio "${URI[$s]}" "$rw" "$bs" "$qd" "$WORK/$s-$rw-$r.json"
            echo $(($(cpu_ticks "${PID[$s]}") - c0)) > "$WORK/$s-$rw-$r.cpu"
        done
    done
done

# Over TCP the congestion control shapes the client's sends (BBR paces them with timers).
CC="$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)"
TRANSPORT="$TRANSPORT" JOBS="$JOBS" CC="$CC" python3 - "$WORK" "$REPEAT" "$ROWS" "$RAMP" <<'PY'
import json, os, statistics, sys
work, repeat, wanted, ramp = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), float(sys.argv[4])
rows = [("randread", "4k random read QD32"), ("randwrite", "4k random write QD32"),
        ("read", "1M sequential read QD8"), ("write", "1M sequential write QD8")]
servers = ["strata", "qemu-nbd", "nbdkit"]
def one(server, rw, r):
    j = json.load(open(f"{work}/{server}-{rw}-{r}.json"))["jobs"][0]
    side = j["read"] if rw in ("randread", "read") else j["write"]
    p99 = side["clat_ns"]["percentile"].get("99.000000", 0) / 1000.0
    ticks = int(open(f"{work}/{server}-{rw}-{r}.cpu").read())
    # The CPU was counted over the ramp too; with group_reporting job_runtime sums the jobs.
    total = j["job_runtime"] / 1000.0 / int(os.environ.get("JOBS", "1")) + ramp
    cpu = ticks / 100.0 / (side["bw_bytes"] * total / 1073741824.0) if side["bw_bytes"] else 0
    # fio's own CPU (user + system, % of one core; grouped jobs report their mean, so times
    # the jobs) and its context switches per I/O: on two cores the client's core often bounds
    # a row, and what the client pays per I/O depends on how the server answers.
    client = (j["usr_cpu"] + j["sys_cpu"]) * int(os.environ.get("JOBS", "1"))
    return side["iops"], side["bw_bytes"] / 1048576.0, p99, cpu, client, j["ctx"] / max(side["total_ios"], 1)
def fig(server, rw):
    runs = [one(server, rw, r) for r in range(1, repeat + 1)]
    return tuple(statistics.median(x[i] for x in runs) for i in range(6)), [x[0] for x in runs]
import os
print(f"transport {os.environ.get('TRANSPORT', 'tcp')}, fio jobs (connections) {os.environ.get('JOBS', '1')}"
      + (f", tcp congestion control {os.environ['CC']}" if os.environ.get('TRANSPORT', 'tcp') == 'tcp' else ""))
print(f"{'workload':24} {'server':9} {'IOPS':>10} {'MiB/s':>9} {'p99 us':>9} {'CPU s/GiB':>10} {'fio CPU%':>8} {'fio ctx/IO':>10}"
      + ("   (medians of %d rounds)" % repeat if repeat > 1 else ""))
for rw, label in rows:
    if rw not in wanted:
        continue
    f = {s: fig(s, rw) for s in servers}
    for s in servers:
        iops, mib, p99, cpu, client, ctx = f[s][0]
        print(f"{label:24} {s:9} {iops:10.0f} {mib:9.1f} {p99:9.0f} {cpu:10.3f} {client:8.0f} {ctx:10.2f}")
    st, q, n = f["strata"][0], f["qemu-nbd"][0], f["nbdkit"][0]
    print(f"{'':24} {'ratios':9} Strata/qemu-nbd {st[0] / q[0]:5.2f}   Strata/nbdkit {st[0] / n[0]:5.2f}")
    if repeat > 1:
        per = [a / b for a, b in zip(f["strata"][1], f["nbdkit"][1])]
        print(f"{'':24} {'':9} Strata/nbdkit per round: " + " ".join(f"{x:.2f}" for x in per))
        # Each round's two figures were measured seconds apart, so their ratio is a pair the
        # machine's drift touches less than it touches either column's median.
        print(f"{'':24} {'':9} median of the rounds' ratios {statistics.median(per):.2f}, "
              f"{sum(x > 1 for x in per)} of {len(per)} rounds above 1")
        for s in ("strata", "nbdkit"):
            print(f"{'':24} {'':9} {s} IOPS per round: " + " ".join(f"{x:.0f}" for x in f[s][1]))
PY
