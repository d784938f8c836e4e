#!/usr/bin/env bash
# VIMS benchmark, in one run on this machine:
#  1. Data path. On one device at a time, (i) an iSCSI LUN from a private tgtd and (ii) a
#     file-backed LUN (local driver), Strata's NBD export of
#       - a thin VHD volume on VIMS on that device,
#       - the same device mapped whole as a volume (raw device mapping, storage:volume-map),
#     and, on a file LUN of the same size, a thin VHD volume on EXT4 (loop device), each driven
#     by fio's nbd engine: 4k random read QD32, 4k random write QD32, 1 MiB sequential read QD8,
#     1 MiB sequential write QD8. Every volume is preconditioned first (its whole working set
#     written once, 1 MiB sequential QD8): the timed rows measure steady state, not first
#     allocation; that pass is reported as the "first write" row. Prints IOPS (4k rows) or
#     MiB/s (1 MiB rows), Strata's CPU per GiB moved, and the VIMS/raw ratio per row.
#  2. Metadata. Three Strata instances (own run dirs and ports, host names h1..h3) mount one
#     VIMS on a file LUN; OPS volume creates, then OPS snapshots, then OPS deletes, first from
#     h1 alone, then from the three at once (one storage: script per host and kind, through the
#     SSH shell). ops/s = ops / (wall time of the scripts - wall time of an empty script).
#  3. Takeover. h2 holds an exported volume a fio client writes to; kill -9 of h2; h3 polls
#     storage:export-add of that volume, then a qemu-io write through its own export, with the
#     default lease timings. Prints the seconds from the kill to the acknowledged write.
#
# Usage: filesystems/vims/bench/vims.sh
#   RUNTIME=6     seconds per timed fio row (after RAMP=2 s of ramp)
#   SIZE=1G       fio working set and volume size; LUN_SIZE=2G the LUNs (at least SIZE + 256M)
#   REPEAT=1      rounds of the timed rows per volume and pass (volumes take turns on the device,
#                 see ORDER); the table shows the medians of all rounds. A full run takes about
#                 30 minutes
#   OPS=20        metadata operations of each kind per host
#   PARTS="data meta takeover"   a subset of the three parts
#   QUICK=1       fast subset: file LUN only, raw and VIMS, the two 4k rows, metadata from one
#                 host (OPS=5); no iSCSI, EXT4, three hosts or takeover
#   DEVICES="iscsi file"   the data part's devices (QUICK: file); EXT4 runs with file
#   ORDER="vims raw raw vims vims raw raw vims"   the volumes of a device in the order measured; a
#                 volume named again is measured again, from a new datastore or mapping. Turns next
#                 to each other are paired (the k-th VIMS round with the k-th raw one), so drift of
#                 the machine's speed stays inside a pair; the table shows the medians of all
#                 rounds and the spread of the pairs' ratios
#   TGT_BSOFLAGS=direct   tgtd's backing file is opened O_DIRECT (tgtadm --bsoflags): a write tgtd
#                 acknowledges is on this host's disk, as an array's is in its non-volatile
#                 cache, and a flush has little to do. TGT_BSOFLAGS= (empty): tgtd writes
#                 through the host's page cache, which is then the LUN's volatile write-back
#                 cache, and a flush (SYNCHRONIZE CACHE or a FUA write: both an fdatasync of the
#                 whole file in tgtd) writes back every page the guest dirtied; VIMS's lease
#                 renewals (a durable write every 3 s) pay that, the raw mapping never flushes
#   KEEP=1        keep the work directory (instances' logs) after the run
# Needs: root (tgtd, loop devices, mount), a built distribution (mvn install -DskipTests),
# fio (nbd engine), tgt, qemu-utils (qemu-io), e2fsprogs, mount, python3, openssh-client.
# Ports (127.0.0.1): SSH 8191-8193, NBD 10931-10933, RMI 11191-11193/44491-44493,
# HTTPS (REST API) 9481-9483, iSCSI 13251, tgtd control port 78.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
QUICK="${QUICK:-0}"
RUNTIME="${RUNTIME:-6}"
RAMP=2
SIZE="${SIZE:-1G}"
LUN_SIZE="${LUN_SIZE:-2G}"
REPEAT="${REPEAT:-1}"
OPS="${OPS:-20}"
PARTS="${PARTS:-data meta takeover}"
ORDER="${ORDER:-vims raw raw vims vims raw raw vims}"
TGT_BSOFLAGS="${TGT_BSOFLAGS-direct}"   # unset: direct; set and empty: buffered
export TGT_BSOFLAGS ORDER
if [[ "$QUICK" == 1 ]]; then
    OPS="${QUICK_OPS:-5}"
    PARTS="${PARTS/takeover/}"
fi
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
if [[ "$QUICK" == 1 ]]; then
    DEVICES="${DEVICES:-file}"
else
    DEVICES="${DEVICES:-iscsi file}"
fi
has_dev() { [[ " $DEVICES " == *" $1 "* ]]; }

SSH_PORTS=(8191 8192 8193)
NBD_PORTS=(10931 10932 10933)
RMI_REG=(11191 11192 11193)
RMI_SRV=(44491 44492 44493)
METRICS=(9481 9482 9483)
ISCSI_PORT=13251
CTL=78
IQN=iqn.2026-12.io.strata.bench:vims
T=(tgtadm -C "$CTL" --lld iscsi)

for t in fio qemu-io tgtd tgtadm mkfs.ext4 losetup mount umount python3 ssh ssh-keygen; do
    command -v "$t" >/dev/null || { echo "vims-bench: $t is needed (fio, tgt, qemu-utils, e2fsprogs, mount, python3, openssh-client)" >&2; exit 1; }
done
[[ $EUID -eq 0 ]] || { echo "vims-bench: needs root (tgtd, loop devices and mounts for EXT4)" >&2; exit 1; }
fio --enghelp=nbd >/dev/null 2>&1 || { echo "vims-bench: this fio has no nbd engine" >&2; exit 1; }
DIST="$ROOT/karaf-features/distribution/target/assembly"
STAMP="$(compgen -G "$ROOT/karaf-features/distribution/target/strata-distribution-*.tar.gz" | head -n 1 || true)"
[[ -x "$DIST/bin/karaf" && -n "$STAMP" ]] || { echo "vims-bench: build first (mvn install -DskipTests)" >&2; exit 1; }
for p in "${SSH_PORTS[@]}" "${NBD_PORTS[@]}" "${METRICS[@]}" "$ISCSI_PORT"; do
    if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
        echo "vims-bench: port $p is in use (another run?)" >&2
        exit 1
    fi
done

WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/strata-vims-bench.XXXXXX")"
OUT="$WORK/results"
mkdir -p "$OUT"
pids=()
tgtd_pid=""
log() { echo "== $*" >&2; }

# ------------------------------------------------------------------ report

# Prints whatever was measured; runs from the EXIT trap, so a failed later part keeps the figures
# of the earlier ones.
report() {
python3 - "$OUT" "$REPEAT" "$RAMP" "$RUNTIME" "$SIZE" "$LUN_SIZE" "$OPS" "$hosts" "$QUICK" "${configs[@]}" <<'PY'
import json, os, statistics, sys
out, repeat, ramp, runtime, size, lun, ops, hosts, quick = sys.argv[1:10]
repeat, ramp, ops, hosts = int(repeat), float(ramp), int(ops), int(hosts)
configs = sys.argv[10:]
rows = [("first", "first write 1M seq QD8", "MiB/s"), ("randread", "4k random read QD32", "IOPS"),
        ("randwrite", "4k random write QD32", "IOPS"), ("read", "1M sequential read QD8", "MiB/s"),
        ("write", "1M sequential write QD8", "MiB/s")]
def one(label, rw, r):
    p = f"{out}/{label}-{rw}-{r}.json"
    if not os.path.exists(p):
        return None
    j = json.load(open(p))["jobs"][0]
    side = j["read"] if rw in ("randread", "read") else j["write"]
    ticks = int(open(f"{out}/{label}-{rw}-{r}.cpu").read())
    total = j["job_runtime"] / 1000.0 + (0 if rw == "first" else ramp)
    cpu = ticks / 100.0 / (side["bw_bytes"] * total / 1073741824.0) if side["bw_bytes"] else 0
    return side["iops"], side["bw_bytes"] / 1048576.0, cpu
def runs_of(label, rw):
    # every round of the label in the order measured (ORDER may measure a volume more than once:
    # its rounds add up)
    rounds = sorted(int(f.rsplit("-", 1)[1][:-5]) for f in os.listdir(out)
                    if f.startswith(f"{label}-{rw}-") and f.endswith(".json"))
    return [x for x in (one(label, rw, r) for r in rounds) if x]
def fig(label, rw):
    runs = runs_of(label, rw)
    if not runs:
        return None
    return tuple(statistics.median(x[i] for x in runs) for i in range(3))
def pairs(dev, rw, unit):
    # the k-th round of VIMS against the k-th of raw: with ORDER "vims raw raw vims ...", rounds
    # measured next to each other, so drift of the machine between them stays small
    k = 0 if unit == "IOPS" else 1
    v, r = runs_of(f"{dev}-vims", rw), runs_of(f"{dev}-raw", rw)
    return [a[k] / b[k] for a, b in zip(v, r) if b[k]]
if configs:
    print(f"VIMS benchmark: data path (fio nbd engine against Strata's NBD export; working set and volumes {size},"
          f" LUNs {lun}; {runtime}s per row after {ramp:.0f}s ramp; medians of every round: {repeat} per turn,"
          f" turns in the order {os.environ.get('ORDER', '')})")
    print("Every volume was preconditioned (its whole working set written once, 1M sequential QD8) before the timed")
    print("rows: they measure steady state, not first allocation. 'first write' is that preconditioning pass.")
    print("raw = the same device mapped whole (storage:volume-map); VIMS = thin VHD on VIMS on it;"
          " EXT4 = thin VHD on EXT4 on a file LUN (loop).")
    print("CPU = Strata's CPU seconds per GiB moved (user+system).")
    if any(c.startswith("iscsi") for c in configs):
        flags = os.environ.get("TGT_BSOFLAGS", "")
        print("tgtd's backing file: " + (f"opened with --bsoflags {flags}" if flags else
              "buffered (the host's page cache is the LUN's write-back cache)"))
    print()
    print("VIMS/raw = median VIMS / median raw; pairs = VIMS/raw of each round against the raw round"
          " measured next to it: lowest, median, highest, and how many of them reach 0.9.")
    print()
    print(f"{'device':7} {'workload':24} {'unit':>5} {'raw':>9} {'VIMS':>9} {'EXT4':>9} {'VIMS/raw':>9}"
          f" {'CPU raw':>8} {'CPU VIMS':>8} {'CPU EXT4':>8}  pairs (low/median/high, >= 0.9)")
    for dev in ("iscsi", "file"):
        if f"{dev}-raw" not in configs:
            continue
        for rw, name, unit in rows:
            f = {k: fig(f"{dev}-{k}", rw) for k in ("raw", "vims")}
            f["ext4"] = fig("file-ext4", rw) if dev == "file" and "file-ext4" in configs else None
            if not f["raw"] or not f["vims"]:
                continue
            val = lambda x: (x[0] if unit == "IOPS" else x[1]) if x else None
            s = lambda x, fmt: format(x, fmt) if x is not None else format("-", ">" + fmt.split(".")[0])
            ratio = val(f["vims"]) / val(f["raw"]) if val(f["raw"]) else 0
            flag = "" if ratio >= 0.9 else "  < 0.9"
            pr = pairs(dev, rw, unit)
            spread = (f"  {min(pr):.2f}/{statistics.median(pr):.2f}/{max(pr):.2f}, {sum(x >= 0.9 for x in pr)} of {len(pr)}"
                      if pr else "")
            print(f"{dev:7} {name:24} {unit:>5} {s(val(f['raw']), '9.0f')} {s(val(f['vims']), '9.0f')}"
                  f" {s(val(f['ext4']), '9.0f')} {ratio:9.2f} {s(f['raw'] and f['raw'][2], '8.2f')}"
                  f" {s(f['vims'][2], '8.2f')} {s(f['ext4'] and f['ext4'][2], '8.2f')}{spread}{flag}")
    loads = []
    for c in configs:
        p = f"{out}/{c}.load"
        if os.path.exists(p):
            v = [float(x) for x in open(p).read().split()]
            loads.append(f"{c} {statistics.mean(v):.1f} (max {max(v):.1f})")
    if loads:
        print("machine load average during the rows (other work on this host skews the figures): " + ", ".join(loads))
    print()

def t(name):
    return float(open(f"{out}/{name}.time").read())
if os.path.exists(f"{out}/one-delete.time"):
    print(f"VIMS benchmark: metadata (one VIMS on a file LUN of {lun}, {hosts} host(s) mounted;"
          f" {ops} ops of each kind per host, 64M thin VHD volumes, one storage: script per host and kind over SSH;")
    print("time = script wall time minus an empty script's (the SSH login))")
    if os.path.exists(f"{out}/meta-hosts.txt"):
        print(open(f"{out}/meta-hosts.txt").read().strip())
    print(f"{'':22} {'creates/s':>10} {'snapshots/s':>12} {'deletes/s':>10}")
    for label, n, what in (("one", 1, "one host (h1)"), ("three", 3, "three hosts at once")):
        if not os.path.exists(f"{out}/{label}-delete.time"):
            continue
        base = statistics.median(t(f"{label}-empty-{j}") for j in (1, 2, 3))
        rates = []
        for kind in ("create", "snapshot", "delete"):
            rates.append(n * ops / max(t(f"{label}-{kind}") - base, 1e-3))
        print(f"{what:22} {rates[0]:10.2f} {rates[1]:12.2f} {rates[2]:10.2f}"
              f"   (empty script {base:.2f}s)")
    print()
if os.path.exists(f"{out}/takeover.txt"):
    total, exp, ok, tries, err = open(f"{out}/takeover.txt").read().split("\n")[:5]
    print("VIMS benchmark: takeover (h2 exports a volume a client writes to; kill -9 of h2; h3 polls"
          " storage:export-add, then qemu-io write + flush; default lease timings)")
    if ok == "1":
        print(f"kill -9 -> export-add succeeded on h3: {float(exp):.1f} s; -> write acknowledged on h3: {float(total):.1f} s"
              f" (goal <= 20 s; {tries} polls, one every {float(exp) / max(int(tries) - 1, 1):.2f} s over SSH)")
    else:
        print(f"FAILED: no write through h3 within {float(total):.0f} s")
    if err:
        print(f"first refusal on h3: {err}")
PY
}

cleanup() {
    local rc=$? i run pid m f l
    set +e
    [[ -d "$OUT" ]] && report
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for i in 1 2 3; do
        run="$WORK/h$i"
        [[ -d "$run/etc" ]] || continue
        pid="$(cat "$run/karaf.pid" 2>/dev/null)"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            STRATA_RUN="$run" STRATA_STOP_TIMEOUT=40 "$ROOT/strata" stop >/dev/null 2>&1
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        fi
    done
    # mounts (EXT4 datastores) and loop devices left by an instance that did not stop cleanly
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done \
        < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r)
    for f in "$WORK"/*.lun; do
        [[ -e "$f" ]] || continue
        for l in $(losetup -j "$f" -O NAME -n 2>/dev/null); do losetup -d "$l" 2>/dev/null; done
    done
    if [[ -n "$tgtd_pid" ]]; then
        "${T[@]}" --op delete --mode target --tid 1 --force >/dev/null 2>&1
        tgtadm -C "$CTL" --op delete --mode system >/dev/null 2>&1
        sleep 1
        kill -9 "$tgtd_pid" 2>/dev/null
        rm -f "/var/run/tgtd/socket.$CTL" "/var/run/tgtd/socket.$CTL.lock" # left by a killed tgtd
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "vims-bench: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ Strata instances

# make_host i: instance h<i> in $WORK/h<i> with its own ports and host name
make_host() {
    local i="$1" k=$(($1 - 1)) run="$WORK/h$1" e
    e="$run/etc"
    mkdir -p "$run/data" "$run/deploy"
    cp -R "$DIST/etc" "$e"
    sed -i "s/^sshPort *=.*/sshPort = ${SSH_PORTS[$k]}/" "$e/org.apache.karaf.shell.cfg"
    grep -q '^sshPort' "$e/org.apache.karaf.shell.cfg" || echo "sshPort = ${SSH_PORTS[$k]}" >> "$e/org.apache.karaf.shell.cfg"
    sed -i "s/^port *=.*/port = ${NBD_PORTS[$k]}/" "$e/io.strata.nbd.cfg"
    sed -i "s/^rmiRegistryPort *=.*/rmiRegistryPort = ${RMI_REG[$k]}/; s/^rmiServerPort *=.*/rmiServerPort = ${RMI_SRV[$k]}/" \
        "$e/org.apache.karaf.management.cfg"
    sed -i "s/^org.osgi.service.http.port.secure *=.*/org.osgi.service.http.port.secure = ${METRICS[$k]}/" "$e/org.ops4j.pax.web.cfg"
    echo "host.name = h$i" >> "$e/io.strata.core.cfg"
    # the metadata scripts log in with a key (OpenSSH, no JVM start per script)
    [[ -f "$WORK/id" ]] || ssh-keygen -q -t rsa -b 2048 -N '' -f "$WORK/id"
    echo "karaf=$(awk '{print $2}' "$WORK/id.pub"),_g_:admingroup" >> "$e/keys.properties"
    # made from this build: ./strata does not refresh etc/ over these edits
    touch -r "$STAMP" "$run/.distribution"
}
# Every instance shares the distribution (KARAF_HOME), whose bin/karaf refuses a second "root"
# instance unless CHECK_ROOT_INSTANCE_RUNNING=false.
start_host() { # i; a second try when the first start failed
    local try
    for try in 1 2; do
        if CHECK_ROOT_INSTANCE_RUNNING=false KARAF_REDIRECT="$WORK/h$1.karaf.out" STRATA_RUN="$WORK/h$1" STRATA_NO_BUILD=1 STRATA_START_TIMEOUT=240 \
            "$ROOT/strata" start >/dev/null 2>"$WORK/h$1.start.log"; then
            return 0
        fi
        echo "vims-bench: h$1 did not start (try $try):" >&2
        tail -n 5 "$WORK/h$1.start.log" "$WORK/h$1.karaf.out" >&2 2>/dev/null
        STRATA_RUN="$WORK/h$1" "$ROOT/strata" stop >/dev/null 2>&1 || true
    done
    return 1
}
host_pid() { cat "$WORK/h$1/karaf.pid"; }
# S i "command": one storage: command on host i, its output on stdout; fails with the command,
# saying so on stderr
S() {
    local out rc=0
    out="$(STRATA_RUN="$WORK/h$1" STRATA_NO_BUILD=1 "$ROOT/strata" client "$2" 2>&1)" || rc=$?
    if ((rc != 0)) && [[ -z "${S_QUIET:-}" ]]; then
        echo "vims-bench: h$1: $2: failed: $out" >&2
    fi
    printf '%s\n' "$out"
    return "$rc"
}
# batch i: runs the commands on stdin (one a line) in one SSH session of host i (OpenSSH, key
# login); stops at the first failing command and then fails
batch() {
    ssh -i "$WORK/id" -p "${SSH_PORTS[$(($1 - 1))]}" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o LogLevel=ERROR karaf@127.0.0.1 "$(cat)" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# ------------------------------------------------------------------ 1. data path

WORKLOADS=("randread 4k 32" "randwrite 4k 32" "read 1M 8" "write 1M 8")
[[ "$QUICK" == 1 ]] && WORKLOADS=("randread 4k 32" "randwrite 4k 32")
configs=()

# bench_volume label uri: precondition, then REPEAT rounds of the timed rows
bench_volume() {
    local label="$1" uri="$2" pid r w rw bs qd c0 pass n
    pid="$(host_pid 1)"
    # the how-many-th pass of this volume (the default ORDER measures each twice)
    pass=$(($(find "$OUT" -maxdepth 1 -name "$label-first-*.json" | wc -l) + 1))
    log "$label: preconditioning (1 MiB sequential writes QD8 over $SIZE; the first-write row)"
    # Every volume starts with nothing of its device in the host's page cache: what the volume
    # before it left there (pages, and the folio sizes its writes made, which set the cost of
    # later small writes into a file-backed LUN) would favour one of them.
    sync
    echo 3 > /proc/sys/vm/drop_caches
    c0=$(cpu_ticks "$pid")
    fio --name=pre --ioengine=nbd --uri="$uri" --rw=write --bs=1M --iodepth=8 --size="$SIZE" \
        --output-format=json --output="$OUT/$label-first-$pass.json" >/dev/null
    echo $(($(cpu_ticks "$pid") - c0)) > "$OUT/$label-first-$pass.cpu"
    for ((r = 1; r <= REPEAT; r++)); do
        n=$(((pass - 1) * REPEAT + r))
        for w in "${WORKLOADS[@]}"; do
            read -r rw bs qd <<<"$w"
            sync # no row pays for the write-back of an earlier one
            log "round $r/$REPEAT: $label: $rw $bs QD$qd, ${RUNTIME}s"
            cut -d' ' -f1 /proc/loadavg >> "$OUT/$label.load"
            c0=$(cpu_ticks "$pid")
            fio --name=b --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth="$qd" --size="$SIZE" \
                --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
                --output-format=json --output="$OUT/$label-$rw-$n.json" >/dev/null
            echo $(($(cpu_ticks "$pid") - c0)) > "$OUT/$label-$rw-$n.cpu"
        done
    done
    [[ " ${configs[*]} " == *" $label "* ]] || configs+=("$label")
}

# on_device dev resource/device: a thin VHD on VIMS and the raw mapping, one after the other on
# that device, in the order ORDER names. The second format of VIMS over the raw rows' data is
# forced (-f): the LUN holds data then.
vims_volume() {
    local dev="$1" rd="$2" force="$3" nbd="nbd://127.0.0.1:${NBD_PORTS[0]}"
    log "$dev: VIMS on $rd, thin VHD of $SIZE"
    S 1 "storage:datastore-create $force vims-$dev vims $rd" > "$OUT/$dev-vims-datastore.txt"
    S 1 "storage:volume-create vims-$dev/v $SIZE" >/dev/null
    S 1 "storage:export-add vims-$dev/v vims-$dev" >/dev/null
    bench_volume "$dev-vims" "$nbd/vims-$dev"
    S 1 "storage:export-remove -f vims-$dev" >/dev/null
    S 1 "storage:volume-delete vims-$dev/v" >/dev/null
    S 1 "storage:datastore-remove vims-$dev" >/dev/null
}
raw_volume() {
    local dev="$1" rd="$2" nbd="nbd://127.0.0.1:${NBD_PORTS[0]}"
    log "$dev: raw device mapping of $rd"
    S 1 "storage:volume-map local/raw-$dev $rd" >/dev/null
    S 1 "storage:export-add local/raw-$dev raw-$dev" >/dev/null
    bench_volume "$dev-raw" "$nbd/raw-$dev"
    S 1 "storage:export-remove -f raw-$dev" >/dev/null
    S 1 "storage:volume-delete local/raw-$dev" >/dev/null
}
on_device() {
    local dev="$1" rd="$2" v force=""
    for v in $ORDER; do
        case "$v" in
            vims) vims_volume "$dev" "$rd" "$force" ;;
            raw) raw_volume "$dev" "$rd" ;;
            *) echo "vims-bench: ORDER names raw and vims, not '$v'" >&2; exit 1 ;;
        esac
        force="-f"
    done
}

make_host 1
log "starting Strata h1 (instance $WORK/h1, ssh ${SSH_PORTS[0]}, NBD ${NBD_PORTS[0]})"
start_host 1

if has_part data; then
    if has_dev iscsi; then
        log "starting tgtd (control port $CTL, portal 127.0.0.1:$ISCSI_PORT), LUN of $LUN_SIZE (preallocated file)"
        fallocate -l "$LUN_SIZE" "$WORK/iscsi.img"
        tgtd -f -C "$CTL" --iscsi portal=127.0.0.1:$ISCSI_PORT >"$WORK/tgtd.log" 2>&1 &
        tgtd_pid=$!
        for _ in $(seq 50); do "${T[@]}" --op show --mode target >/dev/null 2>&1 && break; sleep 0.2; done
        "${T[@]}" --op new --mode target --tid 1 -T "$IQN"
        "${T[@]}" --op new --mode logicalunit --tid 1 --lun 1 -b "$WORK/iscsi.img" \
            ${TGT_BSOFLAGS:+--bsoflags "$TGT_BSOFLAGS"}
        "${T[@]}" --op bind --mode target --tid 1 -I ALL
        S 1 "storage:resource-add san iscsi portal=127.0.0.1:$ISCSI_PORT" >/dev/null
        sdev="$(S 1 "storage:device-list --no-format san" | awk -F'\t' 'NR == 1 { print $1 }')"
        [[ -n "$sdev" ]] || { echo "vims-bench: the iSCSI LUN did not show up" >&2; exit 1; }
        on_device iscsi "$sdev"
        S 1 "storage:resource-remove san" >/dev/null
    fi
    if has_dev file; then
        log "file LUN of $LUN_SIZE (preallocated file)"
        fallocate -l "$LUN_SIZE" "$WORK/file.lun"
        S 1 "storage:resource-add flun local kind=file-lun path=$WORK/file.lun size=$LUN_SIZE" >/dev/null
        on_device file flun/lun
    fi
    if [[ "$QUICK" != 1 ]] && has_dev file; then
        log "EXT4 on a file LUN of $LUN_SIZE (loop device), thin VHD of $SIZE"
        fallocate -l "$LUN_SIZE" "$WORK/ext4.lun"
        S 1 "storage:resource-add elun local kind=file-lun path=$WORK/ext4.lun size=$LUN_SIZE" >/dev/null
        S 1 "storage:datastore-create ext4 ext4 elun" >/dev/null
        S 1 "storage:volume-create ext4/v $SIZE" >/dev/null
        S 1 "storage:export-add ext4/v ext4" >/dev/null
        bench_volume "file-ext4" "nbd://127.0.0.1:${NBD_PORTS[0]}/ext4"
        S 1 "storage:export-remove -f ext4" >/dev/null
        S 1 "storage:volume-delete ext4/v" >/dev/null
        S 1 "storage:datastore-remove ext4" >/dev/null
    fi
fi

# ------------------------------------------------------------------ 2. metadata

hosts=1
[[ "$QUICK" != 1 ]] && hosts=3
if has_part meta || has_part takeover; then
    log "metadata LUN: VIMS on a file LUN of $LUN_SIZE, mounted by $hosts host(s)"
    S 1 "storage:resource-add mlun local kind=file-lun path=$WORK/meta.lun size=$LUN_SIZE" >/dev/null
    S 1 "storage:datastore-create md vims mlun" >/dev/null
    if ((hosts == 3)); then
        make_host 2
        make_host 3
        log "starting Strata h2 and h3"
        start_host 2
        start_host 3
        for i in 2 3; do
            S "$i" "storage:resource-add mlun local kind=file-lun path=$WORK/meta.lun size=$LUN_SIZE" >/dev/null
            S "$i" "storage:datastore-create md vims mlun" >/dev/null
        done
    fi
    S 1 "storage:datastore-info md" | grep '^hosts' > "$OUT/meta-hosts.txt" || true
fi

# timed_batches label host...: runs $WORK/ops-<label>-h<i> on each host at once; writes the wall
# time (s) to $OUT/<label>.time; fails when a script did not run through
timed_batches() {
    local label="$1" i t0 t1 ok=1
    shift
    local bp=()
    t0=$EPOCHREALTIME
    for i in "$@"; do
        batch "$i" < "$WORK/ops-$label-h$i" > "$OUT/$label-h$i.out" & bp+=($!)
    done
    for i in "${!bp[@]}"; do wait "${bp[$i]}" || ok=0; done
    t1=$EPOCHREALTIME
    python3 -c "print(f'{$t1 - $t0:.3f}')" > "$OUT/$label.time"
    for i in "$@"; do
        if ! grep -q "^MARK-END" "$OUT/$label-h$i.out"; then
            echo "vims-bench: the $label script of h$i stopped early:" >&2
            grep -i "error" "$OUT/$label-h$i.out" | head -n 3 >&2 || true
            ok=0
        fi
    done
    ((ok))
}
# meta_round label host...: OPS creates, snapshots, deletes per host, each kind one script per host
meta_round() {
    local label="$1" i j kind
    shift
    for i in "$@"; do
        echo "echo MARK-END" > "$WORK/ops-$label-empty-h$i"
        for kind in create snapshot delete; do
            for ((j = 1; j <= OPS; j++)); do
                case "$kind" in
                    create) echo "storage:volume-create md/$label-h$i-$j 64M" ;;
                    snapshot) echo "storage:snapshot-create md/$label-h$i-$j s1" ;;
                    delete) echo "storage:volume-delete md/$label-h$i-$j" ;;
                esac
            done > "$WORK/ops-$label-$kind-h$i"
            echo "echo MARK-END" >> "$WORK/ops-$label-$kind-h$i"
        done
    done
    # the cost of the SSH login itself: an empty script, three times
    for j in 1 2 3; do
        timed_batches "$label-empty" "$@"
        mv "$OUT/$label-empty.time" "$OUT/$label-empty-$j.time"
    done
    for kind in create snapshot delete; do
        log "metadata, $label: $OPS x $kind on each of host(s) $*"
        timed_batches "$label-$kind" "$@"
    done
}
if has_part meta; then
    meta_round one 1
    ((hosts == 3)) && meta_round three 1 2 3
fi

# ------------------------------------------------------------------ 3. takeover

if has_part takeover && ((hosts == 3)); then
    log "takeover: h2 exports md/tk, fio writes to it; kill -9 of h2; h3 polls export-add, then writes with qemu-io"
    S 2 "storage:volume-create md/tk 256M" >/dev/null
    S 2 "storage:export-add md/tk tk" >/dev/null
    fio --name=w --ioengine=nbd --uri="nbd://127.0.0.1:${NBD_PORTS[1]}/tk" --rw=randwrite --bs=4k --iodepth=8 \
        --size=256M --time_based --runtime=300 --output-format=terse >/dev/null 2>&1 &
    fio_pid=$!
    pids+=("$fio_pid")
    sleep 4
    kill -0 "$fio_pid" 2>/dev/null || { echo "vims-bench: the writing client did not run" >&2; exit 1; }
    h2_pid="$(host_pid 2)"
    t0=$EPOCHREALTIME
    kill -9 "$h2_pid"
    exported="" first_err="" tries=0 t_export="" done_ok=0
    while python3 -c "import sys; sys.exit(0 if $EPOCHREALTIME - $t0 < 90 else 1)"; do
        tries=$((tries + 1))
        if [[ -z "$exported" ]]; then
            if out="$(batch 3 <<<"storage:export-add md/tk tk")"; then
                exported=1
                t_export=$EPOCHREALTIME
            else
                [[ -z "$first_err" ]] && first_err="$(echo "$out" | grep -m1 -i error || echo "$out" | tail -n 1)"
                continue
            fi
        fi
        if qemu-io -f raw -c 'write -P 0x5a 0 64k' -c 'flush' "nbd://127.0.0.1:${NBD_PORTS[2]}/tk" >"$WORK/qemu-io.out" 2>&1; then
            done_ok=1
            break
        fi
        sleep 0.2
    done
    t1=$EPOCHREALTIME
    kill "$fio_pid" 2>/dev/null || true
    python3 - "$OUT" "$t0" "$t1" "${t_export:-0}" "$done_ok" "$tries" "$first_err" <<'PY'
import sys
out, t0, t1, te, ok, tries, err = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1", sys.argv[6], sys.argv[7]
with open(f"{out}/takeover.txt", "w") as f:
    f.write(f"{t1 - t0:.1f}\n{(te - t0) if te else -1:.1f}\n{int(ok)}\n{tries}\n{err}\n")
PY
fi
