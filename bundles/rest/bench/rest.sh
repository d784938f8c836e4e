#!/usr/bin/env bash
# REST management API benchmark: what the API costs a management system that polls it, and
# what it costs the host, measured against one private Strata instance on this machine.
#
# What it does. Unpacks the built distribution (the tar.gz) into a private directory, sets
# private ports in its etc/, starts it (bin/karaf server), waits for HTTPS (the self-signed
# certificate is made at first start and the connector turned on a few seconds later), makes
# an API token (POST /api/v1/tokens as karaf/karaf, role admin) and creates VOLUMES (1000)
# thin raw volumes of 1 MiB on the datastore "local" through the API, one after another over
# one kept-alive connection (curl -K), reporting the time taken and the create rate. Then,
# with wrk (HTTP/1.1 keep-alive over TLS; wrk does not verify the certificate), each row
# DURATION seconds after an untimed warm-up of WARMUP seconds per endpoint (the JIT):
#   row 1   GET /api/v1/datastores/local/volumes?limit=1000 (the whole list, ~270 KB of JSON)
#           with 1 connection, then with 4, token (Bearer);
#   row 2   GET /api/v1/host (a small answer, ~70 bytes) with 32 connections, token (Bearer);
#   row 2b  the same with HTTP Basic karaf:karaf. The API remembers a successful password login
#           for 10 s (io.strata.rest login.cache.seconds), so this row runs one JAAS login per
#           10 s and otherwise measures the cache (a SHA-256 of user:password and a map lookup)
#           against the token path (a SHA-256 of the secret and a map lookup).
#
# Why wrk: it drives many keep-alive HTTPS connections from one process with little CPU of its
# own (C, an event loop per thread), reports latency percentiles (--latency; its Lua done()
# hook here prints them to the microsecond for the table) and counts non-2xx answers, which
# this script treats as a failed row. It measures closed-loop: each connection sends its next
# request when the answer arrives, so the latencies are those seen at saturation for the
# concurrency given, not at a fixed offered rate.
#
# How to read the table. req/s: answered requests per second (all 2xx, else the errors column
# says otherwise); mean/p50/p99: latency of one request as wrk saw it, in milliseconds (TLS,
# Jetty, CXF, the API and the JSON included; connection setup excluded, connections are kept
# alive); CPU us/req: the Karaf JVM's CPU time (utime + stime of the process, all its threads,
# from /proc/<pid>/stat, before and after the row) divided by the requests answered, in
# microseconds; it includes whatever else the JVM did meanwhile (GC, Strata's own timers), which
# is small next to these loads. host busy: the share of all CPUs this host spent busy during
# the row (/proc/stat), wrk and the JVM included: near 100 % means the row was CPU-bound and
# req/s is what the cores could give. load: the 1-minute load average when the row started.
#
# The machine must otherwise be idle: the figures are CPU-bound and anything else running takes
# cores from the server and from wrk alike (the load and host busy columns show it; a run on a
# busy host is a smoke run, not figures of record). On a 2-core host wrk and the server share
# the two cores: wrk's threads (2 for 4 and 32 connections, 1 for 1) take part of them, so
# req/s at 32 connections is below what the server alone could answer and the latencies include
# waiting for a core; the CPU us/req column is the server's own and does not depend on that
# as much. With 1 connection latency is the figure (one request in flight, cores mostly free).
#
# Usage: bundles/rest/bench/rest.sh
#   DURATION=20   seconds per timed row (QUICK=1: 5), after WARMUP=3 s (QUICK=1: 2) per endpoint
#   VOLUMES=1000  volumes created for the list rows (the list's limit is 1000 at most)
#   QUICK=1       DURATION=5 and WARMUP=2 unless given: a smoke run (about 1.5 minutes)
#   PROFILE=1     after the rows, PROFILE_SAMPLES=15 jstack samples of the server during an extra,
#                 untimed run of row 1 (1 connection), summarised by where the request threads
#                 were (statx of volume files, Jackson, TLS, ...); not part of the figures
#   KEEP=1        keep the Karaf instance (logs, audit log) in the run directory
#   DIST_TGZ=...  the distribution archive (default: the one in karaf-features/distribution/target)
# The run directory is ${TMPDIR:-/var/tmp}/strata-rest-bench.XXXXXX; it keeps results.md (the
# table) and wrk's output per row; the instance in it (karaf/, with its 1000 volumes) is deleted
# at the end unless KEEP=1.
# Needs: a built distribution (mvn package -DskipTests -pl karaf-features/distribution -am),
# a JDK (java; jstack for PROFILE=1), wrk (apt-get install -y wrk), curl, python3, ss (iproute2).
# Ports (127.0.0.1): HTTPS 8495, SSH 8195, RMI 11195/44495, NBD 10941 (the other benches take SSH
# 8191-8199 but 8195, NBD 10901-10933, RMI 11191-11199/44491-44499 but 11195/44495, metrics
# 9481-9487; the tests' Karafs 20000-32000). Plain HTTP (8181) stays off, as in the distribution.
# Everything started here (Karaf, by its PID and its launcher's, wrk, jstack) is stopped on exit,
# on failure and on Ctrl-C; nothing is killed by name.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
QUICK="${QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
    DURATION="${DURATION:-5}"
    WARMUP="${WARMUP:-2}"
else
    DURATION="${DURATION:-20}"
    WARMUP="${WARMUP:-3}"
fi
VOLUMES="${VOLUMES:-1000}"
PROFILE="${PROFILE:-0}"
PROFILE_SAMPLES="${PROFILE_SAMPLES:-15}"
HTTPS_PORT=8495
SSH_PORT=8195
RMI_REG=11195
RMI_SRV=44495
NBD_PORT=10941
BASE="https://127.0.0.1:$HTTPS_PORT/api/v1"
LIST_URL="$BASE/datastores/local/volumes?limit=1000"
HOST_URL="$BASE/host"

say() { echo "rest-bench: $*" >&2; }
log() { echo "== $*" >&2; }
for t in wrk curl python3 ss java; do
    command -v "$t" >/dev/null || { say "$t is needed (wrk: apt-get install -y wrk; curl, python3, iproute2, a JDK)"; exit 1; }
done
[[ "$PROFILE" != 1 ]] || command -v jstack >/dev/null || { say "PROFILE=1 needs jstack (a JDK)"; exit 1; }
[[ "$DURATION" =~ ^[1-9][0-9]*$ && "$WARMUP" =~ ^[0-9]+$ ]] || { say "DURATION and WARMUP are whole seconds"; exit 1; }
[[ "$VOLUMES" =~ ^[1-9][0-9]*$ ]] && ((VOLUMES <= 1000)) || { say "VOLUMES must be 1 to 1000"; exit 1; }
TGZ="${DIST_TGZ:-$(compgen -G "$ROOT/karaf-features/distribution/target/strata-distribution-*.tar.gz" | head -n 1 || true)}"
[[ -n "$TGZ" && -f "$TGZ" ]] || { say "build first (mvn package -DskipTests -pl karaf-features/distribution -am)"; exit 1; }
listening() { [[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]; }
for p in "$HTTPS_PORT" "$SSH_PORT" "$RMI_REG" "$RMI_SRV" "$NBD_PORT"; do
    if listening "$p"; then
        say "port $p is in use (another run?)"
        exit 1
    fi
done
if [[ -z "${JAVA_HOME:-}" ]]; then
    JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    export JAVA_HOME
fi
HZ="$(getconf CLK_TCK)"

exec 3>&1 # the report's way out, whatever redirection is active when the EXIT trap runs
RUN="$(mktemp -d "${TMPDIR:-/var/tmp}/strata-rest-bench.XXXXXX")"
INST="$RUN/karaf"
OUT="$RUN/rows"
mkdir -p "$INST" "$OUT"
launcher_pid="" # bin/karaf (a shell that runs java as its child)
karaf_pid=""    # the JVM
job_pid=""      # wrk or jstack running now

# ------------------------------------------------------------------ report

# Prints the table of whatever was measured and writes it to $RUN/results.md; runs from the
# EXIT trap, so a run that failed half-way keeps the rows it finished.
report() {
python3 - "$OUT" "$HZ" "$DURATION" "$WARMUP" "$VOLUMES" "$QUICK" "$(nproc)" "$RUN/results.md" <<'PY'
import os, sys
out, hz, duration, warmup, volumes, quick, ncpu, md = sys.argv[1:9]
hz = int(hz)
def read(name):
    p = os.path.join(out, name)
    return open(p).read().strip() if os.path.exists(p) else None
def result(row):
    text = read(f"{row}.wrk")
    if text is None or read(f"{row}.cpu") is None:
        return None
    line = [l for l in text.splitlines() if l.startswith("RESULT ")]
    if not line:
        return None
    r = {k: float(v) for k, v in (x.split("=") for x in line[0].split()[1:])}
    ticks, busy, load = read(f"{row}.cpu").split()
    r["cpu_s"] = int(ticks) / hz
    r["busy"] = float(busy)
    r["load"] = float(load)
    return r
rows = [("list1", "1 list 1000 volumes", "GET /datastores/local/volumes?limit=1000", "token", 1),
        ("list4", "1 list 1000 volumes", "GET /datastores/local/volumes?limit=1000", "token", 4),
        ("host32", "2 small GET", "GET /host", "token", 32),
        ("host32basic", "2b small GET, Basic", "GET /host", "Basic (cached login)", 32)]
lines = []
create = read("create")
if create is None and not any(result(r[0]) for r in rows):
    sys.exit(0)
lines.append(f"## Strata REST API benchmark ({'QUICK smoke run, ' if quick == '1' else ''}"
             f"{duration} s per row after {warmup} s warm-up per endpoint, {ncpu} CPUs, wrk and the server on the same host)")
lines.append("")
if create:
    n, ok, secs, ticks, busy, load = create.split()
    n, ok, secs, ticks = int(n), int(ok), float(secs), int(ticks)
    lines.append(f"Created {ok} of {n} thin raw 1 MiB volumes through POST /datastores/local/volumes, one at a time on one"
                 f" connection: {secs:.1f} s, {ok / secs if secs else 0:.0f} creates/s, {1000 * secs / max(ok, 1):.1f} ms and"
                 f" {1e6 * ticks / hz / max(ok, 1):.0f} us of server CPU per create (host busy {float(busy):.0f} %,"
                 f" load {float(load):.1f}).")
    lines.append("")
if any(result(r[0]) for r in rows):
    lines.append("| row | request | auth | conns | req/s | mean ms | p50 ms | p99 ms | CPU us/req | host busy | load | errors |")
    lines.append("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
failed, done = [], []
for key, row, what, auth, conns in rows:
    r = result(key)
    if r is None:
        continue
    done.append(key)
    req = r["requests"]
    rate = req / (r["duration_us"] / 1e6) if r["duration_us"] else 0
    errors = int(r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_status"] + r["errors_timeout"])
    if errors:
        failed.append(f"{row} ({conns} conns): {errors} errors (non-2xx {int(r['errors_status'])},"
                      f" timeouts {int(r['errors_timeout'])}, connect/read/write"
                      f" {int(r['errors_connect'])}/{int(r['errors_read'])}/{int(r['errors_write'])})")
    cpu = 1e6 * r["cpu_s"] / req if req else 0
    lines.append(f"| {row} | {what} | {auth} | {conns} | {rate:.0f} | {r['mean_us'] / 1000:.2f} | {r['p50_us'] / 1000:.2f}"
                 f" | {r['p99_us'] / 1000:.2f} | {cpu:.0f} | {r['busy']:.0f} % | {r['load']:.1f} | {errors} |")
lines.append("")
lines.append("req/s: answers per second; mean/p50/p99: latency per request as wrk saw it (kept-alive TLS connections);"
             " CPU us/req: the Karaf JVM's CPU time (user+system) per request; host busy: all CPUs of this host busy"
             " during the row (wrk included); load: 1-minute load average at the row's start.")
if len(done) < len(rows):
    lines.append(f"Only {len(done)} of {len(rows)} rows ran (the run failed or was interrupted).")
if quick == "1":
    lines.append("QUICK=1: a smoke run; the figures of record come from a full run on an otherwise idle host.")
prof = read("profile.txt")
if prof:
    lines.append("")
    lines.append(prof)
for f in failed:
    lines.append("")
    lines.append("ERROR: " + f)
text = "\n".join(lines) + "\n"
sys.stdout.write(text)
open(md, "w").write(text)
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
# The JVM's PID: karaf.pid of this instance, when that process is the launcher's child or a JVM
# of this instance (never another process that took a stale PID).
find_karaf() {
    local pid
    pid="$(cat "$INST/karaf.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/stat" ]] || return 1
    [[ -n "$launcher_pid" && "$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)" == "$launcher_pid" ]] && { echo "$pid"; return 0; }
    tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "-Dkaraf.base=$INST" || return 1
    echo "$pid"
}
cleanup() {
    local rc=$? pid
    set +e
    [[ -n "$job_pid" ]] && stop_pid "$job_pid" 5
    report >&3
    # the JVM: SIGTERM lets Karaf stop its bundles (Strata closes its datastores), SIGKILL after 40 s;
    # when it never wrote karaf.pid, the launcher's child (found by parent PID) is the JVM
    [[ -z "$karaf_pid" ]] && karaf_pid="$(find_karaf)"
    [[ -z "$karaf_pid" && -n "$launcher_pid" ]] && karaf_pid="$(ps -o pid= --ppid "$launcher_pid" | tr -d ' ' | head -n 1)"
    [[ -n "$karaf_pid" ]] && stop_pid "$karaf_pid" 40
    if [[ -n "$launcher_pid" ]]; then
        stop_pid "$launcher_pid" 5
        wait "$launcher_pid" 2>/dev/null
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then
        say "kept the instance in $INST"
    else
        rm -rf "$INST"
    fi
    if [[ -f "$RUN/results.md" ]]; then
        say "results in $RUN (results.md, rows/)"
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs a command in the background, known to cleanup, and waits for it: an interrupted run
# leaves no wrk behind (a script's background jobs ignore SIGINT).
tracked() {
    local rc=0
    "$@" 3>&- &
    job_pid=$!
    wait "$job_pid" || rc=$?
    job_pid=""
    return "$rc"
}

# ------------------------------------------------------------------ Strata

log "unpacking $(basename "$TGZ") into $INST"
tar -xzf "$TGZ" -C "$INST" --strip-components=1
e="$INST/etc"
set_port() { # file key port: "key = port", which must be in the file already
    grep -qE "^$2 *=" "$e/$1" || { say "$1 has no $2"; exit 1; }
    sed -i -E "s/^$2 *=.*/$2 = $3/" "$e/$1"
}
set_port org.apache.karaf.shell.cfg sshPort "$SSH_PORT"
set_port org.apache.karaf.management.cfg rmiRegistryPort "$RMI_REG"
set_port org.apache.karaf.management.cfg rmiServerPort "$RMI_SRV"
set_port io.strata.nbd.cfg port "$NBD_PORT"
set_port org.ops4j.pax.web.cfg 'org\.osgi\.service\.http\.port\.secure' "$HTTPS_PORT"

log "starting Strata (HTTPS 127.0.0.1:$HTTPS_PORT, SSH $SSH_PORT, RMI $RMI_REG/$RMI_SRV, NBD $NBD_PORT)"
# its own KARAF_HOME: the launcher's "root instance running" check concerns this copy only
(cd "$INST" && exec bin/karaf server) </dev/null >"$INST/karaf.out" 2>&1 3>&- &
launcher_pid=$!
t0=$(date +%s)
until karaf_pid="$(find_karaf)"; do
    kill -0 "$launcher_pid" 2>/dev/null || { say "Karaf exited at start:"; tail -n 20 "$INST/karaf.out" >&2; exit 1; }
    (($(date +%s) - t0 < 120)) || { say "Karaf wrote no karaf.pid within 120 s"; exit 1; }
    sleep 0.2
done
# HTTPS answers once the certificate is made, the connector on and the API registered: the
# public API description answers 200 (before that: no connection, or Jetty's 404)
until [[ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/openapi.json" 2>/dev/null)" == 200 ]]; do
    kill -0 "$karaf_pid" 2>/dev/null || { say "Karaf exited:"; tail -n 20 "$INST/karaf.out" >&2; exit 1; }
    (($(date +%s) - t0 < 180)) || { say "no HTTPS API on $BASE within 180 s"; tail -n 20 "$INST/data/log/karaf.log" >&2; exit 1; }
    sleep 0.5
done
log "HTTPS API up after $(($(date +%s) - t0)) s (JVM pid $karaf_pid)"

TOKEN="$(curl -sk --fail-with-body -u karaf:karaf -H 'Content-Type: application/json' \
    -d '{"user":"bench","role":"admin","description":"rest.sh"}' "$BASE/tokens" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')" \
    || { say "could not create a token"; exit 1; }
BEARER="Authorization: Bearer $TOKEN"
BASIC="Authorization: Basic $(printf 'karaf:karaf' | base64)"

# ------------------------------------------------------------------ rows

cpu_ticks() { awk '{print $14 + $15}' "/proc/$karaf_pid/stat"; }
host_jiffies() { awk '/^cpu / {busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6}' /proc/stat; }
# mark: "server-ticks host-busy host-total load" now
mark() { echo "$(cpu_ticks) $(host_jiffies) $(cut -d' ' -f1 /proc/loadavg)"; }
# spent mark: "server-ticks host-busy% load" since mark
spent() {
    local c0 b0 t0 l0 c1 b1 t1
    read -r c0 b0 t0 l0 <<<"$1"
    c1="$(cpu_ticks)"
    read -r b1 t1 <<<"$(host_jiffies)"
    echo "$((c1 - c0)) $(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.1f", t ? 100 * b / t : 0 }') $l0"
}

# The creates: one curl, one kept-alive connection, VOLUMES requests (a config file with a block
# per request; the token is in it, so it lives in the instance directory, deleted at the end).
log "creating $VOLUMES thin raw volumes of 1 MiB through the API"
cfg="$INST/create.curl"
: >"$cfg"
for ((i = 1; i <= VOLUMES; i++)); do
    ((i > 1)) && echo next >>"$cfg"
    printf 'url = "%s"\ninsecure\nsilent\nheader = "%s"\nheader = "Content-Type: application/json"\n' \
        "$BASE/datastores/local/volumes" "$BEARER" >>"$cfg"
    printf 'data = "{\\"name\\":\\"v%04d\\",\\"size\\":1048576,\\"format\\":\\"raw\\",\\"provisioning\\":\\"thin\\"}"\n' "$i" >>"$cfg"
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' >>"$cfg"
done
m="$(mark)"
s0="$(date +%s.%N)"
tracked curl -K "$cfg" >"$OUT/create.codes" || true
s1="$(date +%s.%N)"
read -r ticks busy load <<<"$(spent "$m")"
ok="$(grep -c '^201$' "$OUT/create.codes" || true)"
echo "$VOLUMES $ok $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.3f", b - a }') $ticks $busy $load" >"$OUT/create"
((ok == VOLUMES)) || { say "only $ok of $VOLUMES creates answered 201: $(sort "$OUT/create.codes" | uniq -c | tr '\n' ' ')"; exit 1; }
total="$(curl -sk --fail -H "$BEARER" "$LIST_URL" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["total"], len(d["items"]))')"
[[ "$total" == "$VOLUMES $VOLUMES" ]] || { say "the list has total/items $total, not $VOLUMES"; exit 1; }
[[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "$BASIC" "$HOST_URL")" == 200 ]] || { say "HTTP Basic karaf:karaf is refused"; exit 1; }

# wrk's summary for the table, to the microsecond (its --latency lines round to 10 us)
cat >"$OUT/summary.lua" <<'EOF'
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d bytes=%d errors_connect=%d errors_read=%d"
    .. " errors_write=%d errors_status=%d errors_timeout=%d mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
EOF
wrk_run() { # seconds connections header url [output]
    local threads=2
    (($2 < 2)) && threads=1
    tracked wrk -t"$threads" -c"$2" -d"$1"s --timeout 10s --latency -s "$OUT/summary.lua" -H "$3" "$4" \
        >"${5:-/dev/null}" 2>&1
}
row() { # name connections header url
    log "row $1: $2 connection(s), $4, ${DURATION}s"
    sleep 1 # the previous row's connections closed
    local m
    m="$(mark)"
    wrk_run "$DURATION" "$2" "$3" "$4" "$OUT/$1.wrk"
    spent "$m" >"$OUT/$1.cpu"
}
warm() { # connections header url
    ((WARMUP > 0)) || return 0
    log "warm-up: $3, ${WARMUP}s"
    wrk_run "$WARMUP" "$1" "$2" "$3"
}

warm 4 "$BEARER" "$LIST_URL"
row list1 1 "$BEARER" "$LIST_URL"
row list4 4 "$BEARER" "$LIST_URL"
warm 32 "$BEARER" "$HOST_URL"
row host32 32 "$BEARER" "$HOST_URL"
warm 32 "$BASIC" "$HOST_URL"
row host32basic 32 "$BASIC" "$HOST_URL"

# ------------------------------------------------------------------ profile (PROFILE=1)

if [[ "$PROFILE" == 1 ]]; then
    log "profile: $PROFILE_SAMPLES jstack samples of the server during row 1 (1 connection), not timed"
    # wrk runs until the samples are taken (each jstack starts a JVM of its own: about a second here)
    wrk -t1 -c1 -d600s -H "$BEARER" "$LIST_URL" >/dev/null 2>&1 3>&- &
    wrk_pid=$!
    job_pid=$wrk_pid
    sleep 2
    for ((i = 1; i <= PROFILE_SAMPLES; i++)); do
        jstack "$karaf_pid" >"$OUT/jstack.$i.txt" 2>/dev/null 3>&- || true
        sleep 0.2
    done
    stop_pid "$wrk_pid" 5
    wait "$wrk_pid" 2>/dev/null || true
    job_pid=""
    python3 - "$OUT" "$PROFILE_SAMPLES" >"$OUT/profile.txt" <<'PY'
import collections, glob, os, sys
out, n = sys.argv[1], int(sys.argv[2])
# the first frame from the top that names one of these says where a request thread was (JDK
# frames say nothing alone: Files.readAttributes and a socket write look alike until their caller)
kinds = [("io.strata.posix.Posix.statx", "statx of each volume file (Posix.allocatedBytes, JNA)"),
         ("io.strata.posix.Posix.allocatedBytes", "statx of each volume file (Posix.allocatedBytes, JNA)"),
         ("LocalDirectoryDatastore.stat", "Files.readAttributes of each volume file (LocalDirectoryDatastore.stat)"),
         ("io.strata.core", "Strata core, other (MountedDatastore.volumes ...)"),
         ("com.fasterxml.jackson", "JSON serialization (Jackson)"),
         ("sun.security.ssl", "TLS and socket writes (SSLEngine, Jetty SslConnection)"),
         ("com.sun.crypto", "TLS and socket writes (SSLEngine, Jetty SslConnection)"),
         ("org.eclipse.jetty.io", "TLS and socket writes (SSLEngine, Jetty SslConnection)"),
         ("io.strata.rest", "Strata REST, other"),
         ("org.apache.cxf", "CXF (JAX-RS)"),
         ("org.eclipse.jetty", "Jetty, other")]
idle = ("sun.nio.ch.Net.accept", "EPoll.wait", "ManagedSelector", "SelectorImpl")
count, where = 0, collections.Counter()
for f in glob.glob(os.path.join(out, "jstack.*.txt")):
    for block in open(f).read().split("\n\n"):
        lines = block.split("\n")
        if not lines[0].startswith('"qtp') or "State: RUNNABLE" not in block:
            continue
        frames = [l.strip()[3:].split("(")[0] for l in lines if l.strip().startswith("at ")]
        if not frames or any(i in x for x in frames[:6] for i in idle):
            continue
        count += 1
        kind = next((k for fr in frames for key, k in kinds if key in fr), "other (JDK only)")
        where[kind] += 1
print(f"### Profile of row 1 (list, 1 connection): {n} jstack samples, {count} of a running request thread")
print()
print("| where the request thread was | samples | share |")
print("|---|--:|--:|")
for k, v in where.most_common():
    print(f"| {k} | {v} | {100 * v / count:.0f} % |")
PY
fi
log "done; stopping Strata"
