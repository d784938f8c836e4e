package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import io.strata.testing.Tgt;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.After;
import org.junit.Test;

/**
 * VIMS in the real distribution: a datastore on a file LUN, volumes, snapshots and clones on
 * it, its details and checker; three real Strata instances (own homes, ports and host names
 * h1, h2, h3, default lease timing: renewal 3 s, dead after 16 s) sharing one VIMS:
 * <ul>
 * <li>on a file LUN: creates (VHD and qcow2), snapshots, linked clones and deletes from all three
 * at once; every host lists the same volumes, the checker is clean everywhere, the details show
 * three live hosts; kill -9 of a host in the middle of metadata work (a thick create, a loop of
 * snapshots, NBD writes that allocate blocks): another host takes its exported volume over once
 * its lease expired, with every write it had flushed, its journal is replayed and the checker
 * stays clean; a stopped host (SIGSTOP of its process) writes nothing after its heartbeat
 * expired: its lease watchdog kills it first; the killed hosts, restarted, join again and see
 * everything;</li>
 * <li>on an iSCSI LUN of a private tgtd: the same concurrent work, same results;</li>
 * <li>one host: a VHD and a qcow2 volume exported over NBD read back exactly the bytes qemu-io
 * wrote, compared with an image built locally with the same writes.</li>
 * </ul>
 * Prints the time from kill -9 to the first write of another host; asserts only that it is
 * not before the dead host's lease could have expired.
 */
public class VimsIT {
    private static final long MIB = 1 << 20;
    private static final Duration LONG = Duration.ofMinutes(3);
    private final List<KarafProcess> hosts = new ArrayList<>();
    private Tgt tgt;

    @After
    public void tearDown() {
        for (KarafProcess h : hosts) {
            try {
                h.signal("CONT");
            } catch (Exception e) {
                // not running
            }
            try {
                h.close();
            } catch (RuntimeException e) {
                // keep closing the others
            }
        }
        if (tgt != null) {
            tgt.close();
        }
    }

    // ---------------------------------------------------------------- helpers

    private static Path cleanDir(String name) throws IOException {
        Path dir = Paths.get("target", name).toAbsolutePath();
        KarafProcess.deleteTree(dir);
        Files.createDirectories(dir);
        return dir;
    }

    /** Unpacks and starts instances {@code <prefix><name>} with host.name {@code name}, in parallel. */
    private List<KarafProcess> startHosts(String prefix, String... names) throws Exception {
        List<KarafProcess> started = new ArrayList<>();
        for (String name : names) {
            KarafProcess k = new KarafProcess(prefix + name);
            hosts.add(k);
            k.configure("etc/io.strata.core.cfg", "host.name", name);
            started.add(k);
        }
        KarafProcess.startAll(started);
        return started;
    }

    private static String nbdUri(KarafProcess k, String export) {
        return "nbd://127.0.0.1:" + k.nbdPort + "/" + export;
    }

    private static List<String[]> rows(String out) {
        return out.lines().filter(l -> !l.isBlank()).map(l -> l.split("\t", -1)).toList();
    }

    /** The volumes of ds on a host: name to format. */
    private static Map<String, String> volumes(KarafProcess k) {
        return column(k, 1);
    }

    /** The volumes of ds on a host: name to state (READY, IN_USE where this host has it open, CREATING ...). */
    private static Map<String, String> states(KarafProcess k) {
        return column(k, 5);
    }

    private static Map<String, String> column(KarafProcess k, int column) {
        Map<String, String> m = new TreeMap<>();
        for (String[] r : rows(k.ok("storage:volume-list --no-format ds"))) {
            if (r[0].startsWith("ds/")) {
                m.put(r[0].substring("ds/".length()), r[column]);
            }
        }
        return m;
    }

    private static void await(String what, Duration timeout, BooleanSupplier done) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " waiting until " + what);
            }
            Thread.sleep(500);
        }
    }

    private static String qemuIo(String uri, String... commands) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(uri);
        String out = HostTools.run(cmd);
        assertTrue(out, !out.contains("Pattern verification failed") && !out.contains("failed"));
        return out;
    }

    /** Writes through an export until a write and flush succeed; returns when it did (nanoTime). */
    private static long writeWhenPossible(String uri, String write) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        String last = "";
        while (System.nanoTime() < end) {
            try {
                qemuIo(uri, write, "flush");
                return System.nanoTime();
            } catch (IOException | AssertionError | RuntimeException e) {
                last = e.getMessage();
                Thread.sleep(250);
            }
        }
        throw new AssertionError("could not `" + write + "` on " + uri + " within 3 minutes: " + last);
    }

    private static void assertCheckClean(KarafProcess k) {
        String check = k.ok("storage:datastore-check ds");
        assertTrue(check, check.contains("Checked datastore ds: 0 errors, 0 leaks"));
    }

    private static String awaitHostsAlive(KarafProcess k, int n) {
        return k.awaitOutput("storage:datastore-info ds", LONG,
                out -> out.contains("hosts: " + n + " alive") && out.contains("block size: 1 MiB"));
    }

    /**
     * Scenario (a): from every host at once, creates (VHD, every other one qcow2), snapshots,
     * linked clones of a shared VHD base and of a shared qcow2 base, deletes. Then every host
     * lists the same volumes, the checker is clean on each, and each sees every host alive.
     *
     * @return the volumes ds holds afterwards: name to format
     */
    private static Map<String, String> concurrentWork(List<KarafProcess> hs, List<String> names) throws Exception {
        KarafProcess first = hs.get(0);
        first.ok("storage:volume-create ds base 64M");
        first.ok("storage:snapshot-create ds/base s1");
        first.ok("storage:volume-create --format qcow2 ds qbase 64M");
        first.ok("storage:snapshot-create ds/qbase s1");
        Map<String, String> expected = Collections.synchronizedMap(new TreeMap<>());
        expected.put("base", "vhd");
        expected.put("qbase", "qcow2");
        ExecutorService pool = Executors.newFixedThreadPool(hs.size());
        try {
            List<Future<?>> work = new ArrayList<>();
            for (int n = 0; n < hs.size(); n++) {
                KarafProcess h = hs.get(n);
                String host = names.get(n);
                work.add(pool.submit(() -> {
                    for (int i = 0; i < 4; i++) {
                        String v = host + "-v" + i;
                        String c = host + "-c" + i;
                        String format = i % 2 == 1 ? "qcow2" : "vhd";
                        h.ok("storage:volume-create" + (format.equals("qcow2") ? " --format qcow2" : "") + " ds " + v
                                + " 16M");
                        h.ok("storage:snapshot-create ds/" + v + " s1");
                        // Linked clones of one base's snapshot from every host at once: no host waits for another.
                        h.ok("storage:volume-clone --linked ds/" + (i % 2 == 1 ? "qbase" : "base") + "@s1 ds " + c);
                        if (i == 2) {
                            h.ok("storage:volume-delete ds/" + c);
                            h.ok("storage:volume-delete ds/" + v);
                        } else {
                            expected.put(v, format);
                            expected.put(c, format);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get(15, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(2 + 6 * hs.size(), expected.size());
        Map<String, String> want = new TreeMap<>(expected);
        for (KarafProcess h : hs) {
            // a host sees the others' catalog changes within seconds (its maintenance thread reads the
            // catalog again): a clone another host just finished may still show CREATING here
            java.util.concurrent.atomic.AtomicReference<Map<String, String>> seen = new java.util.concurrent.atomic.AtomicReference<>();
            try {
                await("every host lists the same volumes " + want + ", all READY", LONG, () -> {
                    seen.set(states(h));
                    return volumes(h).equals(want) && seen.get().values().stream().allMatch("READY"::equals);
                });
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "; " + h.home().getFileName() + " lists " + seen.get(), e);
            }
        }
        for (KarafProcess h : hs) {
            assertCheckClean(h);
            String info = awaitHostsAlive(h, hs.size());
            for (String name : names) {
                assertTrue(info, info.contains(name + " (slot "));
            }
        }
        return want;
    }

    // ---------------------------------------------------------------- tests

    @Test
    public void oneHostMakesAndUsesAVimsDatastore() throws Exception {
        Path luns = Paths.get("target", "vims-luns").toAbsolutePath();
        Files.createDirectories(luns);
        Path lun = luns.resolve("one.lun");
        Files.deleteIfExists(lun);
        KarafProcess h1 = new KarafProcess("vims-one");
        hosts.add(h1);
        h1.configure("etc/io.strata.core.cfg", "host.name", "h1");
        h1.start();
        h1.ok("storage:resource-add lun local kind=file-lun path=" + lun + " size=2G");
        String created = h1.ok("storage:datastore-create ds vims lun");
        assertTrue(created, created.contains("vims") && created.contains("block size"));
        h1.ok("storage:volume-create ds base 64M");
        h1.ok("storage:snapshot-create ds/base s1");
        h1.ok("storage:volume-clone --linked ds/base@s1 ds kid");
        h1.ok("storage:volume-create --format qcow2 ds q 32M");
        String list = h1.ok("storage:volume-list --no-format ds");
        assertTrue(list, list.contains("ds/base\t") && list.contains("ds/kid\t") && list.contains("ds/q\t"));
        String info = h1.ok("storage:datastore-info ds");
        assertTrue(info, info.contains("hosts") && info.contains("h1"));
        String check = h1.ok("storage:datastore-check ds");
        assertTrue(check, check.contains("Checked datastore ds"));
        h1.ok("storage:volume-delete ds/kid");
        h1.ok("storage:volume-delete ds/q");
        // The LUN grows (as an array grows it): datastore-grow adds the room, the checker stays clean.
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(lun.toFile(), "rw")) {
            f.setLength(3L << 30);
        }
        String grown = h1.ok("storage:datastore-grow ds");
        assertTrue(grown, grown.contains("grown"));
        String after = h1.ok("storage:datastore-info ds");
        long capacity = Long.parseLong(after.lines().filter(l -> l.startsWith("capacity")).findFirst().orElseThrow()
                .replaceAll("[^0-9]", ""));
        assertTrue(after, capacity > (5L << 29));
        h1.ok("storage:volume-create ds big 1G");
        assertCheckClean(h1);
        System.out.println(h1.ok("storage:datastore-info ds"));
    }

    @Test
    public void threeHostsShareOneVimsOnAFileLun() throws Exception {
        assumeTrue("qemu-io is needed", HostTools.has("qemu-io"));
        Path lun = cleanDir("vims-shared-lun").resolve("shared.lun");
        List<String> names = List.of("h1", "h2", "h3");
        List<KarafProcess> hs = startHosts("vims-file-", names.toArray(String[]::new));
        KarafProcess h1 = hs.get(0);
        KarafProcess h2 = hs.get(1);
        KarafProcess h3 = hs.get(2);
        h1.ok("storage:resource-add lun local kind=file-lun path=" + lun + " size=4G");
        String created = h1.ok("storage:datastore-create ds vims lun");
        assertTrue(created, created.contains("block size: 1 MiB"));
        h2.ok("storage:resource-add lun local kind=file-lun path=" + lun);
        h2.ok("storage:datastore-create ds vims lun");
        h3.ok("storage:resource-add lun local kind=file-lun path=" + lun + " size=4G");
        h3.ok("storage:datastore-create ds vims lun");

        // (a) Concurrent creates, snapshots, linked clones and deletes from the three hosts.
        Map<String, String> expected = new TreeMap<>(concurrentWork(hs, names));

        // (b) h1 holds vm (its NBD export has it open) and has flushed writes on it.
        h1.ok("storage:volume-create ds vm 64M");
        h1.ok("storage:export-add ds/vm");
        qemuIo(nbdUri(h1, "vm"), "write -P 0x5a 0 1M", "write -P 0x3c 8M 1M", "flush");
        String refused = h2.error("storage:volume-delete ds/vm");
        assertTrue(refused, refused.startsWith("VOLUME_IN_USE") && refused.contains("h1"));
        h1.ok("storage:volume-create ds meta 16M");

        // h1 then does metadata-heavy work: a thick create, a loop of snapshots, and NBD writes
        // each into a new block of vm (an allocation each), and dies in the middle of it.
        AtomicBoolean halfDone = new AtomicBoolean();
        AtomicInteger snapshots = new AtomicInteger();
        AtomicInteger writes = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        Thread thick = new Thread(() -> {
            if (h1.exec("storage:volume-create --provisioning thick ds half 3G").ok()) {
                halfDone.set(true);
            }
        });
        Thread snaps = new Thread(() -> {
            for (int i = 1; i <= 25 && !stop.get(); i++) {
                if (!h1.exec(String.format("storage:snapshot-create ds/meta snap-%02d", i)).ok()) {
                    return;
                }
                snapshots.set(i);
            }
        });
        Thread writer = new Thread(() -> {
            for (int i = 0; i < 40 && !stop.get(); i++) {
                try {
                    qemuIo(nbdUri(h1, "vm"), String.format("write -P 0x%02x %dM 1M", 0x80 + i, 16 + i), "flush");
                } catch (Exception | AssertionError e) {
                    return;
                }
                writes.set(i + 1);
            }
        });
        for (Thread t : List.of(thick, snaps, writer)) {
            t.setDaemon(true);
            t.start();
        }
        await("h1's thick create is under way", LONG, () -> volumes(h2).containsKey("half") || halfDone.get());
        await("h1 made a few snapshots and writes", LONG,
                () -> snapshots.get() >= 3 && writes.get() >= 2 || !snaps.isAlive() && !writer.isAlive());
        int flushedWrites = writes.get();
        int madeSnapshots = snapshots.get();
        long killed = System.nanoTime();
        h1.kill9();
        stop.set(true);
        thick.join(TimeUnit.MINUTES.toMillis(3));
        snaps.join(TimeUnit.MINUTES.toMillis(3));
        writer.join(TimeUnit.MINUTES.toMillis(3));
        flushedWrites = Math.max(flushedWrites, writes.get());
        madeSnapshots = Math.max(madeSnapshots, snapshots.get());
        System.out.printf("VimsIT: h1 killed with %d NBD writes and %d snapshots done, thick create %s%n",
                flushedWrites, madeSnapshots, halfDone.get() ? "finished" : "under way");

        // h2 takes vm over once h1's lease expired, with everything h1 flushed.
        SharedScenario.exportWhenFree(h2, "vm", 3);
        long wrote = writeWhenPossible(nbdUri(h2, "vm"), "write -P 0x6b 1M 1M");
        long takeoverMillis = TimeUnit.NANOSECONDS.toMillis(wrote - killed);
        List<String> reads = new ArrayList<>(List.of("read -P 0x5a 0 1M", "read -P 0x6b 1M 1M", "read -P 0x3c 8M 1M"));
        for (int i = 0; i < flushedWrites; i++) {
            reads.add(String.format("read -P 0x%02x %dM 1M", 0x80 + i, 16 + i));
        }
        qemuIo(nbdUri(h2, "vm"), reads.toArray(String[]::new));
        System.out.printf("VimsIT: kill -9 of the holder to the first write on another host: %d ms "
                + "(expiry 16000 ms)%n", takeoverMillis);
        // A lease is never taken from a host that may still write: not before its expiry, less the
        // renewal period it may have renewed just before it died.
        assertTrue("taken over after " + takeoverMillis + " ms, before h1's lease could expire",
                takeoverMillis >= 16_000 - 3_000 - 1_000);

        // The survivors replay h1's journal and finish or roll back its intents.
        await("a survivor replayed the journal of h1", LONG,
                () -> logContains(h2, "replayed the journal of dead host") || logContains(h3, "replayed the journal of dead host"));
        boolean halfFinished = halfDone.get();
        for (KarafProcess h : List.of(h2, h3)) {
            await("h1's intents are finished or rolled back on " + h.home().getFileName(), LONG, () -> {
                Map<String, String> v = states(h);
                String half = v.get("half");
                return (halfFinished ? "READY".equals(half) : half == null || "READY".equals(half))
                        && "READY".equals(v.get("meta")) && v.containsKey("vm");
            });
        }
        String snapList = h2.ok("storage:snapshot-list ds/meta");
        for (int i = 1; i <= madeSnapshots; i++) {
            assertTrue(snapList, snapList.contains(String.format("snap-%02d", i)));
        }
        assertEquals(volumes(h2), volumes(h3));
        assertCheckClean(h2);
        assertCheckClean(h3);

        // (c) A stopped host writes nothing after its heartbeat expired. h3 holds vm2 through its
        // export; a client keeps writing 0x11 to its first MiB; h3's process is stopped (SIGSTOP:
        // a thread may halt between its lease check and its pwrite); its lease watchdog, a process
        // of its own, kills it before h2 may take vm2 over and write 0x22.
        h3.ok("storage:volume-create ds vm2 16M");
        h3.ok("storage:export-add ds/vm2");
        qemuIo(nbdUri(h3, "vm2"), "write -P 0x11 0 1M", "flush");
        assertTrue("h3 runs a lease watchdog", h3.watchdog().isPresent());
        Process client = new ProcessBuilder("sh", "-c", "while qemu-io -f raw -c 'write -P 0x11 0 1M' -c flush '"
                + nbdUri(h3, "vm2") + "' >/dev/null 2>&1; do :; done").start();
        try {
            Thread.sleep(1000);
            h3.freeze();
            SharedScenario.exportWhenFree(h2, "vm2", 3);
            writeWhenPossible(nbdUri(h2, "vm2"), "write -P 0x22 0 1M");
            assertTrue("the stopped h3 was not killed by its lease watchdog", h3.awaitExit(Duration.ofSeconds(60)));
            Thread.sleep(2_000);
        } finally {
            client.descendants().forEach(ProcessHandle::destroyForcibly);
            client.destroyForcibly();
            client.waitFor(30, TimeUnit.SECONDS);
            h3.signal("CONT");
        }
        String dog = Files.readString(h3.data().resolve("log/strata-watchdog.log"), StandardCharsets.UTF_8);
        assertTrue(dog, dog.contains("killing it before another host may take its leases"));
        qemuIo(nbdUri(h2, "vm2"), "read -P 0x22 0 1M");

        // (d) h1 and h3 come back: they join again and see everything.
        KarafProcess.startAll(List.of(h1, h3));
        Map<String, String> now = volumes(h2);
        assertTrue(now.toString(), now.keySet().containsAll(expected.keySet()) && now.containsKey("vm2"));
        await("the restarted h1 lists what the others list", LONG, () -> volumes(h1).equals(now));
        await("the restarted h3 lists what the others list", LONG, () -> volumes(h3).equals(now));
        for (KarafProcess h : hs) {
            awaitHostsAlive(h, 3);
            assertCheckClean(h);
        }
        System.out.println(h1.ok("storage:datastore-info ds"));
    }

    private static boolean logContains(KarafProcess k, String text) {
        try {
            return Files.readString(k.data().resolve("log/karaf.log"), StandardCharsets.UTF_8).contains(text);
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    public void threeHostsShareOneVimsOnAnIscsiLun() throws Exception {
        assumeTrue(Tgt.unavailableReason().orElse(""), Tgt.unavailableReason().isEmpty());
        Path dir = cleanDir("vims-iscsi");
        tgt = Tgt.start(dir);
        String iqn = "iqn.2026-12.io.strata.test:vims";
        Tgt.Target t = tgt.addTarget(1, iqn);
        tgt.addLun(t, 1, "vims", 2048 * MIB, true);
        List<String> names = List.of("h1", "h2", "h3");
        List<KarafProcess> hs = startHosts("vims-iscsi-", names.toArray(String[]::new));
        String device = null;
        for (int n = 0; n < hs.size(); n++) {
            KarafProcess h = hs.get(n);
            h.ok("storage:resource-add san iscsi portal=" + tgt.portal1() + " target=" + iqn
                    + " initiator=iqn.2026-12.io.strata.test:" + names.get(n));
            List<String[]> devices = rows(h.ok("storage:device-list --no-format san"));
            assertEquals("one LUN: " + devices.stream().map(Arrays::toString).toList(), 1, devices.size());
            String id = devices.get(0)[0];
            if (device == null) {
                device = id;
            }
            assertEquals("every host sees the LUN with the same identity", device, id);
            String ds = h.ok("storage:datastore-create ds vims " + id);
            assertTrue(ds, ds.contains("block size: 1 MiB"));
        }
        concurrentWork(hs, names);
    }

    @Test
    public void imagesOnVimsReadTheSameThroughNbd() throws Exception {
        assumeTrue("qemu-io and qemu-img are needed", HostTools.has("qemu-io") && HostTools.has("qemu-img"));
        Path dir = cleanDir("vims-nbd");
        Path lun = dir.resolve("nbd.lun");
        KarafProcess h1 = startHosts("vims-nbd-", "h1").get(0);
        h1.ok("storage:resource-add lun local kind=file-lun path=" + lun + " size=2G");
        h1.ok("storage:datastore-create -o block-size=256K ds vims lun");
        long size = 64 * MIB;
        // Patterns at block starts, across block boundaries (1 MiB and 256 KiB), at sector but not
        // page offsets, an overwrite of part of an earlier write, and the last sector.
        String[] writes = {
            "write -P 0x11 0 64k",
            "write -P 0x22 32k 4k",
            "write -P 0x33 " + (MIB - 4096) + " 8k",
            "write -P 0x44 " + (5 * MIB + 512) + " 3584",
            "write -P 0x55 " + (17 * MIB + 256 * 1024 - 512) + " 1M",
            "write -P 0x66 " + (40 * MIB) + " 3M",
            "write -P 0x77 " + (41 * MIB + 1536) + " 512",
            "write -P 0x88 " + (size - 512) + " 512",
        };
        Path expected = dir.resolve("expected.raw");
        HostTools.run(List.of("qemu-img", "create", "-f", "raw", expected.toString(), Long.toString(size)));
        List<String> local = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String w : writes) {
            local.add("-c");
            local.add(w);
        }
        local.add(expected.toString());
        HostTools.run(local);
        byte[] want = Files.readAllBytes(expected);

        for (String format : List.of("vhd", "qcow2")) {
            String v = "img-" + format;
            h1.ok("storage:volume-create --format " + format + " ds " + v + " " + size);
            h1.ok("storage:export-add ds/" + v);
            String[] cmds = Arrays.copyOf(writes, writes.length + 1);
            cmds[writes.length] = "flush";
            qemuIo(nbdUri(h1, v), cmds);
            Path out = dir.resolve(v + ".raw");
            HostTools.run(List.of("qemu-img", "convert", "-f", "raw", "-O", "raw", nbdUri(h1, v), out.toString()));
            byte[] got = Files.readAllBytes(out);
            assertEquals(format + ": size read over NBD", want.length, got.length);
            assertEquals(format + ": first differing byte over NBD", -1L, Files.mismatch(expected, out));
            String cmp = HostTools.run(List.of("qemu-img", "compare", "-f", "raw", "-F", "raw", nbdUri(h1, v),
                    expected.toString()));
            assertTrue(cmp, cmp.contains("identical"));
            h1.ok("storage:export-remove -f " + v);
            String check = h1.ok("storage:volume-check ds/" + v);
            assertTrue(check, !check.isBlank());
            // Read again after a fresh open: what is on the LUN, not what a cache kept.
            h1.ok("storage:export-add -r ds/" + v + " " + v + "-ro");
            Path again = dir.resolve(v + "-again.raw");
            HostTools.run(List.of("qemu-img", "convert", "-f", "raw", "-O", "raw", nbdUri(h1, v + "-ro"),
                    again.toString()));
            assertEquals(format + ": first differing byte after reopening", -1L, Files.mismatch(expected, again));
            h1.ok("storage:export-remove -f " + v + "-ro");
        }
        assertCheckClean(h1);
    }
}
