#!/usr/bin/env bash
# NAS benchmark (issue 11), in one run on this machine against one private nfs-ganesha (FSAL
# VFS, NFSv3 over TCP on 127.0.0.1, its export a directory of this script's work directory):
#   (a) Strata's NBD export of a thin VHD volume on an NFS datastore (nas driver, Strata's own
#       NFSv3 client; the datastore is the directory strata/ of the export),
#   (b) qemu-nbd serving a thin VHD (qemu-img create -f vpc -o subformat=dynamic,force_size=on)
#       in the same export through nfs:// (QEMU's libnfs driver, qemu-block-extra),
# each driven by fio's nbd engine: 4k random read QD32, 4k random write QD32, 1 MiB sequential
# read QD8, 1 MiB sequential write QD8, and a flush-heavy row: 4k random writes QD1 with an NBD
# flush after every 16 (fio fsync=16; NFS COMMIT on both, an fsync of the image file in ganesha).
# QD1 there: each flush then follows 16 completed writes, so both servers commit the same 64 KiB
# per flush and the row measures the write+flush chain a guest's fsync-bound work waits on (a
# database log); with writes in flight around the flush, what it covers would depend on each
# server's timing (an NBD flush covers completed writes only).
# Both images are written whole first (1 MiB sequential QD8, the "first write" row: allocation of
# the thin VHD's blocks), so the timed rows hit allocated blocks. The images' data then sits in
# this host's page cache, under ganesha, for both servers alike (no cache drop: it would stall
# everything else on the host): the rows compare the NFS clients and NBD servers, not the disk,
# except for the flush row, whose COMMITs reach the disk. A sync before each row keeps one row's
# write-back out of the next.
# What qemu-nbd's write rows measure: QEMU's vpc driver, on every write to another 2 MiB block
# than the write before it, rewrites that block's sector bitmap with bdrv_pwrite_sync (a WRITE
# and a COMMIT, so an fsync in ganesha): nearly every random write pays a flush, about every
# other 1 MiB sequential one does. That is the VHD driver, not libnfs (its WRITEs are UNSTABLE,
# its flush a COMMIT, as Strata's client); the read rows compare the NFS paths more closely.
# Turns alternate the servers, strata qemu-nbd qemu-nbd strata strata ..., REPEAT turns each (one
# turn = every row once), so drift of the machine's speed stays inside a pair of adjacent turns.
# Prints per row and server the medians of IOPS, MiB/s, p99 completion latency, the NBD server's
# and ganesha's CPU seconds per GiB moved (the flush row: IOPS of the writes, and the flushes'
# p99), and Strata/qemu-nbd (of IOPS in the 4k rows, of MiB/s in the 1 MiB rows) with the
# spread of the adjacent pairs' ratios.
#
# Usage: drivers/nas/bench/nfs.sh
#   RUNTIME=8   seconds per timed fio row (after RAMP=2 s of ramp)
#   SIZE=512M   volume and image size, and fio's working set
#   REPEAT=4    turns per server (an even number balances the order); the full default run takes
#               about 8 minutes (40 rows of RUNTIME + RAMP + ~0.5 s, ~40 s for Strata's start, the
#               first writes and the stops)
#   QUICK=1     the two 4k rows and the flush row, REPEAT=1 and SIZE=256M unless given: for trying
#               a change quickly (about 2 minutes); the figures of record come from a full run
#   KEEP=1      keep the work directory (ganesha's, Strata's and qemu-nbd's logs, fio's JSON)
#   e.g. RUNTIME=3 SIZE=256M REPEAT=1 drivers/nas/bench/nfs.sh   a smoke run of every row
# Needs: root (ganesha, rpcbind), a built distribution (mvn install -DskipTests), nfs-ganesha with
# nfs-ganesha-vfs, rpcbind (rpcinfo), fio (nbd engine), qemu-utils with qemu-block-extra, python3.
# Ports (127.0.0.1): SSH 8197, NBD 10921 (Strata) and 10922 (qemu-nbd), RMI 11197/44497, HTTPS
# 9487, NFS 14049, MOUNT 14048 (the tests' ganeshas take 12000-13999, their Karafs 20000-32000).
#
# The portmapper. QEMU 7.2's nfs:// URL takes no port (only uid, gid, tcp-syncnt, readahead,
# pagecache, debug: QEMU parses the URL itself, libnfs's nfsport/mountport never reach it), so
# libnfs asks the portmapper on port 111 for MOUNT and NFS; ganesha registers its ports there.
# The bench uses a portmapper already running, or starts `rpcbind -f -w` (as the tests do) and
# stops it at the end, unless another ganesha.nfsd runs then: one started meanwhile may be using
# it and needs it to start again (the tests' outage tests do), so it is left running, said so.
# Another ganesha (a test's) running at the same time: nothing of it is touched (ports, export,
# log, recovery directory are this bench's own), except its portmapper entries: a ganesha drops
# every NFS and MOUNT registration when it starts and when it stops, so the other server's are
# replaced by this one's and gone after the run. Strata's driver names its ports (nfsport=,
# mountport=) and never asks the portmapper; the one test that points QEMU at ganesha by nfs://
# (NasIT) first makes sure the portmapper names its own server (Ganesha.ensureRegistered); the bench says when it
# sees another ganesha. The other way round, a ganesha starting or stopping during the run takes
# this one's entries away: qemu-nbd is started right after ganesha, before Strata, the bench
# checks that its connection goes to this bench's ganesha, and when it does not (the entries were
# gone or another server's), restarts ganesha, which registers again, and tries again (5 tries).
# Once qemu-nbd is connected the portmapper no longer matters. A test that points QEMU at its
# ganesha by nfs:// (through the portmapper) cannot run at the same time as this bench.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
QUICK="${QUICK:-0}"
RUNTIME="${RUNTIME:-8}"
RAMP=2
if [[ "$QUICK" == 1 ]]; then
    SIZE="${SIZE:-256M}"
    REPEAT="${REPEAT:-1}"
else
    SIZE="${SIZE:-512M}"
    REPEAT="${REPEAT:-4}"
fi
SSH_PORT=8197
P_STRATA=10921
P_QEMU=10922
RMI_REG=11197
RMI_SRV=44497
METRICS=9487
NFS_PORT=14049
MNT_PORT=14048
NLM_PORT=14050
RQUOTA_PORT=14051

say() { echo "nfs-bench: $*" >&2; }
log() { echo "== $*" >&2; }
for t in fio qemu-nbd qemu-img ganesha.nfsd rpcbind rpcinfo python3 ss; do
    command -v "$t" >/dev/null || { say "$t is needed (fio, qemu-utils, nfs-ganesha, rpcbind, python3, iproute2)"; exit 1; }
done
[[ -e /usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so ]] || { say "nfs-ganesha-vfs is needed"; exit 1; }
[[ -e /usr/lib/x86_64-linux-gnu/qemu/block-nfs.so ]] || { say "qemu-block-extra is needed (QEMU's nfs driver)"; exit 1; }
[[ $EUID -eq 0 ]] || { say "needs root (ganesha, rpcbind)"; exit 1; }
fio --enghelp=nbd >/dev/null 2>&1 || { say "this fio has no nbd engine"; exit 1; }
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { say "REPEAT must be a positive number"; exit 1; }
DIST="$ROOT/karaf-features/distribution/target/assembly"
STAMP="$(compgen -G "$ROOT/karaf-features/distribution/target/strata-distribution-*.tar.gz" | head -n 1 || true)"
[[ -x "$DIST/bin/karaf" && -n "$STAMP" ]] || { say "build first (mvn install -DskipTests)"; exit 1; }
listening() { [[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]; }
for p in "$SSH_PORT" "$P_STRATA" "$P_QEMU" "$RMI_REG" "$RMI_SRV" "$METRICS" "$NFS_PORT" "$MNT_PORT"; do
    if listening "$p"; then
        say "port $p is in use (another run?)"
        exit 1
    fi
done

exec 3>&1 # the report's way out, whatever redirection is active when the EXIT trap runs (the
          # servers get no copy: a rpcbind left running must not hold a pipe the output goes to)
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/strata-nfs-bench.XXXXXX")"
OUT="$WORK/results"
EXPORT="$WORK/export"
mkdir -p "$OUT" "$EXPORT/strata" "$WORK/recovery"
qemu_pid=""
fio_pid=""
ganesha_pid=""
rpcbind_pid=""
strata_pid=""

# ------------------------------------------------------------------ report

# Prints whatever was measured; runs from the EXIT trap, so a failed run keeps its figures.
report() {
python3 - "$OUT" "$REPEAT" "$RAMP" "$RUNTIME" "$SIZE" "$QUICK" <<'PY'
import json, os, statistics, sys
out, repeat, ramp, runtime, size, quick = sys.argv[1:7]
repeat, ramp = int(repeat), float(ramp)
rows = [("first", "first write 1M seq QD8", "MiB/s"), ("randread", "4k random read QD32", "IOPS"),
        ("randwrite", "4k random write QD32", "IOPS"), ("read", "1M sequential read QD8", "MiB/s"),
        ("write", "1M sequential write QD8", "MiB/s"), ("flush", "4k rand write QD1 fsync=16", "IOPS")]
servers = [("strata", "Strata"), ("qemu", "qemu-nbd")]
def one(server, rw, turn):
    p = f"{out}/{server}-{rw}-{turn}.json"
    if not os.path.exists(p) or not os.path.exists(f"{out}/{server}-{rw}-{turn}.cpu"):
        return None
    j = json.load(open(p))["jobs"][0]
    side = j["read"] if rw in ("randread", "read") else j["write"]
    cpu, gcpu = (int(x) for x in open(f"{out}/{server}-{rw}-{turn}.cpu").read().split())
    total = j["job_runtime"] / 1000.0 + (0 if rw == "first" else ramp)  # CPU counted over the ramp too
    gib = side["bw_bytes"] * total / 1073741824.0
    sync = j.get("sync", {})
    flush99 = sync.get("lat_ns", {}).get("percentile", {}).get("99.000000", 0) / 1000.0 if sync.get("total_ios") else None
    return (side["iops"], side["bw_bytes"] / 1048576.0, side["clat_ns"]["percentile"].get("99.000000", 0) / 1000.0,
            cpu / 100.0 / gib if gib else 0, gcpu / 100.0 / gib if gib else 0, flush99, sync.get("total_ios", 0), j["error"])
def runs(server, rw):
    turns = sorted(int(f.rsplit("-", 1)[1][:-5]) for f in os.listdir(out)
                   if f.startswith(f"{server}-{rw}-") and f.endswith(".json"))
    return [x for x in (one(server, rw, t) for t in turns) if x]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def f(x, fmt):
    return format(x, fmt) if x is not None else format("-", ">" + fmt.split(".")[0])
if not any(runs(s, "first") for s, _ in servers):
    sys.exit(0)
print(f"NAS benchmark: fio nbd engine against Strata's NBD export of a thin VHD on an NFS datastore and against")
print(f"qemu-nbd serving a thin VHD through nfs:// (libnfs), one nfs-ganesha (VFS, NFSv3/TCP, 127.0.0.1) for both;")
print(f"images and working set {size}; {runtime}s per row after {ramp:.0f}s ramp; medians of {repeat} turn(s) per server,")
print(f"turns alternating (strata qemu-nbd qemu-nbd strata ...). 'first write' is the one pass that wrote each image")
print(f"whole before the timed rows (allocating the VHD's blocks), one sample each.")
print(f"CPU = CPU seconds per GiB moved (user+system) of the NBD server (Strata's JVM or qemu-nbd) and of ganesha.")
print(f"flush p99 = 99th percentile of the flushes' latency (NBD flush = NFS COMMIT) in the flush row.")
print(f"qemu-nbd's writes include its vpc driver's: a block bitmap write + flush whenever a write goes to another")
print(f"2 MiB block than the one before (see the script's header).")
print()
print(f"{'workload':27} {'server':9} {'IOPS':>8} {'MiB/s':>8} {'p99 us':>8} {'flush p99':>9} {'CPU':>7} {'ganesha':>8}")
errors = []
for rw, name, unit in rows:
    med_of = {}
    for s, label in servers:
        r = runs(s, rw)
        if not r:
            continue
        m = [med(x[i] for x in r) for i in range(6)]
        med_of[s] = m
        errors += [f"{label} {name}: fio error {x[7]}" for x in r if x[7]]
        if rw == "flush" and not all(x[6] for x in r):
            errors.append(f"{label} {name}: fio sent no flush")
        print(f"{name:27} {label:9} {f(m[0], '8.0f')} {f(m[1], '8.1f')} {f(m[2], '8.0f')} {f(m[5], '9.0f')}"
              f" {f(m[3], '7.2f')} {f(m[4], '8.2f')}")
    if "strata" in med_of and "qemu" in med_of:
        k = 0 if unit == "IOPS" else 1
        ratio = med_of["strata"][k] / med_of["qemu"][k] if med_of["qemu"][k] else 0
        pr = [a[k] / b[k] for a, b in zip(runs("strata", rw), runs("qemu", rw)) if b[k]]
        spread = (f"   pairs low/median/high {min(pr):.2f}/{statistics.median(pr):.2f}/{max(pr):.2f}"
                  if len(pr) > 1 else "")
        print(f"{'':27} {'ratio':9} Strata/qemu-nbd ({unit}) {ratio:.2f}{spread}")
loads = []
for s, label in servers:
    p = f"{out}/{s}.load"
    if os.path.exists(p):
        v = [float(x) for x in open(p).read().split()]
        loads.append(f"{label} {statistics.mean(v):.1f} (max {max(v):.1f})")
if loads:
    print("load average at the rows' start (other work on this host skews the figures): " + ", ".join(loads))
for e in errors:
    print("ERROR: " + e)
PY
}

# ------------------------------------------------------------------ cleanup

stop_pid() { # pid seconds: SIGTERM, then SIGKILL after that many seconds
    local pid="$1" i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$? pid others
    set +e
    [[ -d "$OUT" ]] && report >&3
    [[ -n "$fio_pid" ]] && stop_pid "$fio_pid" 5
    [[ -n "$qemu_pid" ]] && stop_pid "$qemu_pid" 5
    if [[ -d "$WORK/run/etc" ]]; then
        pid="$(cat "$WORK/run/karaf.pid" 2>/dev/null)"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            STRATA_RUN="$WORK/run" STRATA_STOP_TIMEOUT=40 "$ROOT/strata" stop >/dev/null 2>&1
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        fi
    fi
    # ganesha after Strata (its NFS client would wait for the server while stopping); SIGTERM
    # lets ganesha take its entries out of the portmapper
    [[ -n "$ganesha_pid" ]] && stop_ganesha
    if [[ -n "$rpcbind_pid" ]]; then
        others="$(pgrep -x ganesha.nfsd | paste -sd ' ')"
        if [[ -n "$others" ]]; then
            say "left the portmapper this run started (rpcbind, pid $rpcbind_pid) running: ganesha.nfsd $others" \
                "runs and may need it to start again; stop it with: kill $rpcbind_pid"
        else
            stop_pid "$rpcbind_pid" 5
            wait "$rpcbind_pid" 2>/dev/null
        fi
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs fio in the background, known to cleanup, and waits for it: an interrupted run leaves
# no fio behind (a script's background jobs ignore SIGINT). Its output (the JSON goes to a file)
# is dropped here, not by a redirection around the call: a trap running meanwhile would inherit
# that, and the report would go to /dev/null.
tracked() {
    local rc=0
    "$@" >/dev/null 3>&- &
    fio_pid=$!
    wait "$fio_pid" || rc=$?
    fio_pid=""
    return "$rc"
}

# ------------------------------------------------------------------ ganesha

others="$(pgrep -x ganesha.nfsd | paste -sd ' ' || true)"
if [[ -n "$others" ]]; then
    say "note: ganesha.nfsd $others already runs (a test's?); it keeps running untouched, but its" \
        "portmapper entries are replaced by this bench's ganesha (Strata's tests name their ports and do not use them)"
fi
# A portmapper on 111: the one running (maybe a test's, which the test stops with its last
# ganesha: then the next start of ours starts one), else rpcbind started here.
ensure_portmapper() {
    listening 111 && return 0
    log "portmapper: starting rpcbind -f -w (none listens on port 111)"
    mkdir -p /run/rpcbind
    rpcbind -f -w >>"$WORK/rpcbind.out" 2>&1 3>&- &
    rpcbind_pid=$!
    for _ in $(seq 100); do listening 111 && break; sleep 0.1; done
    if ! kill -0 "$rpcbind_pid" 2>/dev/null; then
        wait "$rpcbind_pid" 2>/dev/null || true
        rpcbind_pid="" # lost the port to another one starting at the same time
    fi
    listening 111 || { say "no portmapper: rpcbind did not start"; exit 1; }
}
listening 111 && log "portmapper: using the one running on port 111"

# The configuration of the tests' server (io.strata.testing.Ganesha) with one export, NFSv4
# recovery records in the work directory and a DBus name of its own.
cat > "$WORK/ganesha.conf" <<EOF
NFS_CORE_PARAM {
    Bind_addr = 127.0.0.1;
    NFS_Port = $NFS_PORT; MNT_Port = $MNT_PORT; NLM_Port = $NLM_PORT; Rquota_Port = $RQUOTA_PORT;
    Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false;
    Protocols = 3, 4;
    Dbus_Name_Prefix = strata_nfs_bench;
}
NFSV4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = $WORK/recovery; Lease_Lifetime = 20; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT {
    Export_Id = 1; Path = $EXPORT; Pseudo = /bench; Access_Type = RW;
    Squash = No_Root_Squash; SecType = sys; Protocols = 3, 4; Transports = TCP;
    FSAL { Name = VFS; }
}
EOF
registered() { # program port: the portmapper gives that port for the program over TCP
    rpcinfo -p 127.0.0.1 2>/dev/null | awk -v p="$1" -v port="$2" '$1 == p && $3 == "tcp" && $4 == port { f = 1 } END { exit !f }'
}
start_ganesha() {
    ensure_portmapper
    log "starting ganesha (NFS 127.0.0.1:$NFS_PORT, MOUNT $MNT_PORT), export $EXPORT"
    ganesha.nfsd -F -f "$WORK/ganesha.conf" -L "$WORK/ganesha.log" -N NIV_EVENT -p "$WORK/ganesha.pid" \
        >>"$WORK/ganesha.out" 2>&1 3>&- &
    ganesha_pid=$!
    for _ in $(seq 600); do
        kill -0 "$ganesha_pid" 2>/dev/null || { say "ganesha exited at start:"; tail -n 15 "$WORK/ganesha.log" >&2; exit 1; }
        listening "$NFS_PORT" && listening "$MNT_PORT" && break
        sleep 0.1
    done
    listening "$NFS_PORT" && listening "$MNT_PORT" || { say "ganesha did not listen within 60 s"; exit 1; }
}
stop_ganesha() {
    stop_pid "$ganesha_pid" 10
    wait "$ganesha_pid" 2>/dev/null || true
    ganesha_pid=""
}
start_ganesha

# ------------------------------------------------------------------ qemu-nbd

# Started right after ganesha registered, so that no other ganesha's start or stop (which take
# the portmapper's entries) falls in between. When one did, the entries are gone or another
# server's, and libnfs fails (no port, or a server without this export): ganesha is restarted,
# registering again, and qemu tried again. Once qemu-nbd is connected the portmapper no longer
# matters. force_size=on: the VHD's size is SIZE exactly (without it QEMU rounds it down to a CHS geometry
# and fio's working set would pass the end).
qemu_up() { # try: 0 when qemu-nbd serves a new image from this bench's ganesha
    # (a new file each try: qemu-img create mounts twice, to create the file and to format it,
    # and a try failing in between leaves an empty file)
    QURL="nfs://127.0.0.1$EXPORT/qemu-$1.vhd"
    if ! { registered 100003 "$NFS_PORT" && registered 100005 "$MNT_PORT"; }; then
        { echo "the portmapper does not give this bench's ports:"; rpcinfo -p 127.0.0.1; } >"$WORK/qemu.err" 2>&1
        return 1
    fi
    qemu-img create -q -f vpc -o subformat=dynamic,force_size=on "$QURL" "$SIZE" >"$WORK/qemu.err" 2>&1 || return 1
    qemu-nbd -f vpc -t -x vol -b 127.0.0.1 -p "$P_QEMU" "$QURL" >"$WORK/qemu.err" 2>&1 3>&- &
    qemu_pid=$!
    for _ in $(seq 100); do
        listening "$P_QEMU" && break
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 0.1
    done
    # the image's NFS connection goes to this bench's ganesha
    if listening "$P_QEMU" && [[ "$(ss -Htnp "dport = :$NFS_PORT")" == *"pid=$qemu_pid,"* ]]; then
        return 0
    fi
    ss -Htnp | grep -F "pid=$qemu_pid," >>"$WORK/qemu.err" || true
    stop_pid "$qemu_pid" 5
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    return 1
}
log "qemu-nbd: thin VHD of $SIZE at nfs://127.0.0.1$EXPORT/qemu-1.vhd, exported as 'vol' on $P_QEMU"
for try in 1 2 3 4 5; do
    qemu_up "$try" && break
    if ((try == 5)); then
        say "qemu-nbd could not serve $QURL from this bench's ganesha:"
        cat "$WORK/qemu.err" >&2
        exit 1
    fi
    say "qemu could not use $QURL through this bench's ganesha (try $try: $(head -n 1 "$WORK/qemu.err"));" \
        "restarting ganesha, which registers with the portmapper again, and trying a new image"
    stop_ganesha
    sleep 1
    start_ganesha
done
QEMU_PID="$qemu_pid"
GANESHA_PID="$ganesha_pid"

# ------------------------------------------------------------------ Strata

log "starting Strata (instance $WORK/run, ssh $SSH_PORT, NBD $P_STRATA)"
e="$WORK/run/etc"
mkdir -p "$WORK/run/data" "$WORK/run/deploy"
cp -R "$DIST/etc" "$e"
sed -i "s/^sshPort *=.*/sshPort = $SSH_PORT/" "$e/org.apache.karaf.shell.cfg"
grep -q '^sshPort' "$e/org.apache.karaf.shell.cfg" || echo "sshPort = $SSH_PORT" >> "$e/org.apache.karaf.shell.cfg"
sed -i "s/^port *=.*/port = $P_STRATA/" "$e/io.strata.nbd.cfg"
sed -i "s/^rmiRegistryPort *=.*/rmiRegistryPort = $RMI_REG/; s/^rmiServerPort *=.*/rmiServerPort = $RMI_SRV/" \
    "$e/org.apache.karaf.management.cfg"
sed -i "s/^org.osgi.service.http.port.secure *=.*/org.osgi.service.http.port.secure = $METRICS/" "$e/org.ops4j.pax.web.cfg"
touch -r "$STAMP" "$WORK/run/.distribution"   # made from this build: ./strata keeps these edits
export STRATA_RUN="$WORK/run" STRATA_NO_BUILD=1
# another instance may run from the same distribution (KARAF_HOME)
CHECK_ROOT_INSTANCE_RUNNING=false KARAF_REDIRECT="$WORK/karaf.out" STRATA_START_TIMEOUT=240 \
    "$ROOT/strata" start >/dev/null 2>"$WORK/strata-start.log" 3>&- \
    || { say "Strata did not start:"; tail -n 10 "$WORK/strata-start.log" >&2; exit 1; }
strata_pid="$(cat "$WORK/run/karaf.pid")"
S() { # one storage: command; fails saying so
    local out rc=0
    out="$("$ROOT/strata" client "$1" 2>&1)" || rc=$?
    ((rc == 0)) || say "$1: failed: $out"
    printf '%s\n' "$out"
    return "$rc"
}
# the nas driver's device id of an export: its path without the leading '/', ':' for '/'
DEV="${EXPORT#/}"
DEV="${DEV//\//:}"
log "Strata: nas resource, NFS datastore in $EXPORT/strata, thin VHD volume of $SIZE exported as 'vol'"
S "storage:resource-add nas nas server=127.0.0.1 nfsport=$NFS_PORT mountport=$MNT_PORT" >/dev/null
S "storage:datastore-create -o path=strata nfsds nfs nas/$DEV" >/dev/null
S "storage:volume-create --format vhd --provisioning thin nfsds/v $SIZE" >/dev/null
S "storage:export-add nfsds/v vol" >/dev/null
S "storage:datastore-info nfsds" > "$WORK/datastore-info.txt"

# ------------------------------------------------------------------ rows

declare -A URI=([strata]="nbd://127.0.0.1:$P_STRATA/vol" [qemu]="nbd://127.0.0.1:$P_QEMU/vol")
declare -A PID=([strata]="$strata_pid" [qemu]="$QEMU_PID")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks() { echo "$(cpu_ticks "$1") $(cpu_ticks "$GANESHA_PID")"; }
spent() { # server ticks-before file: CPU ticks of the server and of ganesha since then
    local now b0 g0
    read -r b0 g0 <<<"$2"
    now="$(ticks "${PID[$1]}")"
    echo "$((${now% *} - b0)) $((${now#* } - g0))" > "$3"
}

for s in strata qemu; do
    log "$s: first write, 1 MiB sequential QD8 over $SIZE"
    sync
    t0="$(ticks "${PID[$s]}")"
    tracked fio --name=pre --ioengine=nbd --uri="${URI[$s]}" --rw=write --bs=1M --iodepth=8 --size="$SIZE" \
        --output-format=json --output="$OUT/$s-first-1.json"
    spent "$s" "$t0" "$OUT/$s-first-1.cpu"
done

WORKLOADS=("randread 4k 32" "randwrite 4k 32" "read 1M 8" "write 1M 8" "flush 4k 1")
[[ "$QUICK" == 1 ]] && WORKLOADS=("randread 4k 32" "randwrite 4k 32" "flush 4k 1")
turn() { # server n: every row once
    local s="$1" n="$2" w rw bs qd mode extra t0
    for w in "${WORKLOADS[@]}"; do
        read -r rw bs qd <<<"$w"
        mode="$rw" extra=()
        [[ "$rw" == flush ]] && mode=randwrite extra=(--fsync=16)
        sync # no row pays for the write-back of an earlier one
        log "turn $n/$REPEAT: $s: $rw $bs QD$qd, ${RUNTIME}s"
        cut -d' ' -f1 /proc/loadavg >> "$OUT/$s.load"
        t0="$(ticks "${PID[$s]}")"
        tracked fio --name=b --ioengine=nbd --uri="${URI[$s]}" --rw="$mode" --bs="$bs" --iodepth="$qd" \
            "${extra[@]}" --size="$SIZE" --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
            --output-format=json --output="$OUT/$s-$rw-$n.json"
        spent "$s" "$t0" "$OUT/$s-$rw-$n.cpu"
    done
}
for ((n = 1; n <= REPEAT; n++)); do
    if ((n % 2)); then
        turn strata "$n"
        turn qemu "$n"
    else
        turn qemu "$n"
        turn strata "$n"
    fi
done
log "done; stopping qemu-nbd, Strata, ganesha"
