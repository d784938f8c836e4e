#!/usr/bin/env bash
# SAN mode of the NBD harness (issue 9), in one run on this machine against one tgtd:
#   (a) Strata's NBD export of an iSCSI LUN mapped whole as a volume (raw device mapping),
#       through the iscsi driver over one path,
#   (b) qemu-nbd serving the same LUN through iscsi:// (QEMU's libiscsi driver), one path,
#   (c) Strata again with the LUN reached over two portals, policy round-robin,
# each driven by fio's nbd engine: 4k random read QD32, 4k random write QD32, 1 MiB
# sequential read QD8, 1 MiB sequential write QD8. Then the time from a path's failure to I/O
# flowing on the other path, for a dropped connection (tgtadm) and for a portal whose packets
# are dropped (iptables; detected by the command time limit, timeout=TIMEOUT).
#
# Usage: bundles/nbd/bench/san.sh   (RUNTIME=8 SIZE=512M REPEAT=3 TIMEOUT=5 by default)
#        QUICK=1 bundles/nbd/bench/san.sh   only the 4k rows over one path, no failover: for
#        trying a change quickly; the figures of record come from a full run.
# Needs: root, a built distribution, tgt, iptables, fio, qemu-utils with qemu-block-extra.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
RUNTIME="${RUNTIME:-8}"
SIZE="${SIZE:-512M}"
REPEAT="${REPEAT:-3}"
TIMEOUT="${TIMEOUT:-5}"
QUICK="${QUICK:-0}"
RAMP=2
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/strata-san-bench.XXXXXX")"
SSH_PORT=8198
P_STRATA=10911
P_QEMU=10912
ISCSI_PORT=13299
CTL=77
IQN=iqn.2026-12.io.strata.bench:lun
T=(tgtadm -C "$CTL" --lld iscsi)
pids=()
tgtd_pid=""
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    iptables -D INPUT -d 127.0.0.2 -p tcp --dport "$ISCSI_PORT" -j DROP 2>/dev/null || true
    STRATA_RUN="$WORK/run" "$ROOT/strata" stop >/dev/null 2>&1 || true
    if [[ -n "$tgtd_pid" ]]; then
        "${T[@]}" --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
        tgtadm -C "$CTL" --op delete --mode system >/dev/null 2>&1 || true
        sleep 1
        kill -9 "$tgtd_pid" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
for t in fio qemu-nbd qemu-img tgtd tgtadm iptables python3; do
    command -v "$t" >/dev/null || { echo "bench: $t is needed" >&2; exit 1; }
done
[[ $EUID -eq 0 ]] || { echo "bench: tgtd and iptables need root" >&2; exit 1; }

echo "== starting tgtd (portals 127.0.0.1 and 127.0.0.2 on $ISCSI_PORT), LUN of $SIZE" >&2
tgtd -f -C "$CTL" --iscsi portal=127.0.0.2:$ISCSI_PORT >"$WORK/tgtd.log" 2>&1 &
tgtd_pid=$!
for _ in $(seq 50); do "${T[@]}" --op show --mode target >/dev/null 2>&1 && break; sleep 0.2; done
"${T[@]}" --op new --mode portal --param portal=127.0.0.1:$ISCSI_PORT
"${T[@]}" --op new --mode target --tid 1 -T "$IQN"
truncate -s "$SIZE" "$WORK/lun.img"
"${T[@]}" --op new --mode logicalunit --tid 1 --lun 1 -b "$WORK/lun.img"
"${T[@]}" --op bind --mode target --tid 1 -I ALL

echo "== starting Strata (instance in $WORK/run) and qemu-nbd" >&2
DIST="$ROOT/karaf-features/distribution/target/assembly"
[[ -x "$DIST/bin/karaf" ]] || { echo "bench: build first (mvn install -DskipTests)" >&2; exit 1; }
mkdir -p "$WORK/run/data" "$WORK/run/deploy"
cp -R "$DIST/etc" "$WORK/run/etc"
sed -i "s/^sshPort *=.*/sshPort = $SSH_PORT/" "$WORK/run/etc/org.apache.karaf.shell.cfg"
grep -q '^sshPort' "$WORK/run/etc/org.apache.karaf.shell.cfg" || echo "sshPort = $SSH_PORT" >> "$WORK/run/etc/org.apache.karaf.shell.cfg"
sed -i "s/^port *=.*/port = $P_STRATA/" "$WORK/run/etc/io.strata.nbd.cfg"
sed -i "s/^rmiRegistryPort *=.*/rmiRegistryPort = 11198/; s/^rmiServerPort *=.*/rmiServerPort = 44498/" \
    "$WORK/run/etc/org.apache.karaf.management.cfg"
touch -r "$(compgen -G "$ROOT/karaf-features/distribution/target/strata-distribution-*.tar.gz" | head -n 1)" \
    "$WORK/run/.distribution"
export STRATA_RUN="$WORK/run" STRATA_NO_BUILD=1
S() { "$ROOT/strata" client "$@"; }
"$ROOT/strata" start >/dev/null

# Maps the LUN through a resource with the given portals and policy and exports it as "lun".
map_lun() { # portals policy
    S "storage:resource-add san iscsi portal=$1 policy=$2 timeout=$TIMEOUT checker-interval=1" >/dev/null
    local dev
    dev="$(S "storage:device-list --no-format san" | awk -F'\t' 'NR == 1 { sub("san/", "", $1); print $1 }')"
    S "storage:volume-map local/lun san/$dev" >/dev/null
    S "storage:export-add local/lun lun" >/dev/null
}
unmap_lun() {
    S "storage:export-remove -f lun" >/dev/null
    S "storage:volume-delete local/lun" >/dev/null
    S "storage:resource-remove san" >/dev/null
}
map_lun "127.0.0.1:$ISCSI_PORT" service-time
qemu-nbd -f raw -t -x vol -b 127.0.0.1 -p "$P_QEMU" "iscsi://127.0.0.1:$ISCSI_PORT/$IQN/1" &
pids+=($!)
sleep 2
STRATA_PID="$(pgrep -f "karaf.base=$WORK/run" | head -n 1)"
QEMU_PID="${pids[0]}"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_fio() { # uri rw bs qd json
    fio --name=b --ioengine=nbd --uri="$1" --rw="$2" --bs="$3" --iodepth="$4" --size="$SIZE" \
        --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --output-format=json --output="$5" >/dev/null
}
echo "== preconditioning the LUN (sequential 1 MiB writes over $SIZE)" >&2
fio --name=pre --ioengine=nbd --uri="nbd://127.0.0.1:$P_STRATA/lun" --rw=write --bs=1M --iodepth=8 \
    --size="$SIZE" --output-format=terse >/dev/null

WORKLOADS=("randread 4k 32" "randwrite 4k 32" "read 1M 8" "write 1M 8")
[[ "$QUICK" == 1 ]] && WORKLOADS=("randread 4k 32" "randwrite 4k 32")
declare -A URI=([strata]="nbd://127.0.0.1:$P_STRATA/lun" [qemu-nbd]="nbd://127.0.0.1:$P_QEMU/vol")
declare -A PID=([strata]="$STRATA_PID" [qemu-nbd]="$QEMU_PID")
measure() { # server label round
    local s="$1" label="$2" r="$3" w rw bs qd c0
    for w in "${WORKLOADS[@]}"; do
        read -r rw bs qd <<<"$w"
        echo "== round $r/$REPEAT: $label: $rw $bs QD$qd, ${RUNTIME}s" >&2
        c0=$(cpu_ticks "${PID[$s]}")
        run_fio "${URI[$s]}" "$rw" "$bs" "$qd" "$WORK/$label-$rw-$r.json"
        echo $(($(cpu_ticks "${PID[$s]}") - c0)) > "$WORK/$label-$rw-$r.cpu"
    done
}
# Rounds alternate the servers, so noise on this shared machine hits one round of one server.
for ((r = 1; r <= REPEAT; r++)); do
    measure strata strata-1path "$r"
    measure qemu-nbd qemu-nbd "$r"
done

if [[ "$QUICK" != 1 ]]; then
echo "== the same LUN over two portals, round-robin" >&2
unmap_lun
map_lun "127.0.0.1:$ISCSI_PORT,127.0.0.2:$ISCSI_PORT" round-robin
for ((r = 1; r <= REPEAT; r++)); do
    measure strata strata-2path-rr "$r"
done

# Failover: 4k random reads QD8 over both paths (round-robin); one path fails 4 s in. The
# longest completion time fio saw is how long the I/O caught on the failed path waited before
# it completed on the other path: the failover time.
failover() { # label action
    local label="$1" action="$2"
    fio --name=f --ioengine=nbd --uri="${URI[strata]}" --rw=randread --bs=4k --iodepth=8 --size="$SIZE" \
        --time_based --runtime=$((TIMEOUT + 12)) --output-format=json --output="$WORK/$label.json" >/dev/null &
    local fio_pid=$!
    sleep 4
    eval "$action"
    wait "$fio_pid"
    iptables -D INPUT -d 127.0.0.2 -p tcp --dport "$ISCSI_PORT" -j DROP 2>/dev/null || true
    sleep $((TIMEOUT + 3)) # the checker brings the path back
}
echo "== failover: connection dropped by the target" >&2
failover drop 'for sid in $("${T[@]}" --op show --mode conn --tid 1 | sed -n "s/^Session: \([0-9]*\).*/\1/p" | tail -n 1); do "${T[@]}" --op delete --mode conn --tid 1 --sid "$sid" --cid 0; done'
echo "== failover: portal 127.0.0.2 silent (iptables DROP), timeout=$TIMEOUT s" >&2
failover silent 'iptables -I INPUT -d 127.0.0.2 -p tcp --dport "$ISCSI_PORT" -j DROP'
fi

python3 - "$WORK" "$REPEAT" "$RAMP" "$QUICK" <<'PY'
import json, statistics, sys
work, repeat, ramp, quick = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
rows = [("randread", "4k random read QD32"), ("randwrite", "4k random write QD32"),
        ("read", "1M sequential read QD8"), ("write", "1M sequential write QD8")]
labels = ["strata-1path", "qemu-nbd", "strata-2path-rr"]
if quick:
    rows, labels = rows[:2], labels[:2]
def one(label, rw, r):
    j = json.load(open(f"{work}/{label}-{rw}-{r}.json"))["jobs"][0]
    side = j["read"] if rw in ("randread", "read") else j["write"]
    ticks = int(open(f"{work}/{label}-{rw}-{r}.cpu").read())
    total = j["job_runtime"] / 1000.0 + ramp
    cpu = ticks / 100.0 / (side["bw_bytes"] * total / 1073741824.0) if side["bw_bytes"] else 0
    return side["iops"], side["bw_bytes"] / 1048576.0, side["clat_ns"]["percentile"].get("99.000000", 0) / 1000.0, cpu
print(f"{'workload':24} {'server':16} {'IOPS':>9} {'MiB/s':>8} {'p99 us':>8} {'CPU s/GiB':>10}   (medians of {repeat})")
for rw, name in rows:
    med = {}
    for label in labels:
        runs = [one(label, rw, r) for r in range(1, repeat + 1)]
        med[label] = [statistics.median(x[i] for x in runs) for i in range(4)]
        iops, mib, p99, cpu = med[label]
        print(f"{name:24} {label:16} {iops:9.0f} {mib:8.1f} {p99:8.0f} {cpu:10.3f}")
    rr = "" if quick else f"   2 paths rr / 1 path {med['strata-2path-rr'][0] / med['strata-1path'][0]:5.2f}"
    print(f"{'':24} {'ratios':16} Strata/qemu-nbd {med['strata-1path'][0] / med['qemu-nbd'][0]:5.2f}{rr}")
for label, what in () if quick else (("drop", "connection dropped by the target"), ("silent", "portal silent (iptables DROP)")):
    j = json.load(open(f"{work}/{label}.json"))["jobs"][0]["read"]
    print(f"failover, {what}: longest I/O {j['clat_ns']['max'] / 1e9:.2f} s, errors: "
          f"{json.load(open(f'{work}/{label}.json'))['jobs'][0]['error']}")
PY
