package io.strata.itests;

import static io.strata.itests.KarafProcess.keyValues;
import static io.strata.itests.KarafProcess.rows;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.After;
import org.junit.Test;

/**
 * kill -9 of the Karaf JVM while volumes are being created, grown and deleted on the
 * embedded {@code local} datastore, then a restart. After every restart:
 * <ul>
 * <li>the catalog is readable ({@code local} ONLINE, {@code volume-list} answers);</li>
 * <li>every listed volume is READY (no CREATING/DELETING leftover, nothing half-made
 * listed as ready): its image file exists, is complete (a thick image has its full
 * length) and qemu-img reports its size;</li>
 * <li>every volume whose command had completed before the kill is there with its size,
 * every completed delete stays deleted, and an operation cut by the kill either
 * happened entirely or not at all;</li>
 * <li>the datastore directory holds nothing else: files of rolled-back volumes and
 * temporary catalog files are gone.</li>
 * </ul>
 * Two clients run at once so that the kill lands during thick zeroing (slow, the
 * volume CREATING in the catalog) while other catalog writes go on.
 */
public class KillNineIT {

    private static final int ITERATIONS = Integer.getInteger("strata.kill9.iterations", 5);
    private static final long THICK = 256L << 20;
    private static final long ABSENT = -1;

    private KarafProcess karaf;

    /** For each volume name, the sizes it may have now ({@link #ABSENT}: not there). */
    private final Map<String, Set<Long>> model = new TreeMap<>();

    @After
    public void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
    }

    @Test
    public void killDuringVolumeCreationAndCatalogUpdates() throws Exception {
        long seed = Long.getLong("strata.kill9.seed", System.nanoTime());
        System.out.println("KillNineIT seed " + seed + " (-Dstrata.kill9.seed=" + seed + " to replay)");
        Random random = new Random(seed);

        karaf = new KarafProcess("kill9");
        karaf.start();
        Path dir = karaf.data().resolve("datastores/local");
        boolean qemu = HostTools.has("qemu-img");

        for (int iteration = 0; iteration < ITERATIONS; iteration++) {
            AtomicBoolean stop = new AtomicBoolean();
            List<String> log = new ArrayList<>();
            int it = iteration;
            Thread thick = new Thread(() -> thickCreates(it, stop, log), "thick-" + it);
            Thread churn = new Thread(() -> catalogChurn(it, stop, log), "churn-" + it);
            thick.start();
            churn.start();
            // Thick zeroing of 256 MiB takes a fraction of a second to a few seconds here;
            // a random delay puts the kill anywhere in the create/update/delete cycles.
            KarafProcess.sleep(700 + random.nextInt(3000));
            int killed = karaf.kill9();
            stop.set(true);
            thick.join(60_000);
            churn.join(60_000);
            assertTrue("iteration " + it + ": no process killed", killed >= 1);
            synchronized (log) {
                System.out.println("KillNineIT iteration " + it + ": killed " + killed + " processes after "
                        + String.join(", ", log));
            }

            karaf.start();
            checkInvariants(dir, qemu, it);
        }
        karaf.stop();
    }

    /** Creates thick volumes (VHD fixed and raw alternately) one after another. */
    private void thickCreates(int it, AtomicBoolean stop, List<String> log) {
        for (int j = 0; !stop.get(); j++) {
            String name = "t" + it + "x" + j;
            String format = j % 2 == 0 ? "vhd" : "raw";
            if (!apply("storage:volume-create --format " + format + " --provisioning thick local " + name + " 256M",
                    name, Set.of(ABSENT, THICK), THICK, log)) {
                return;
            }
        }
    }

    /** Creates, grows and deletes small thin volumes: one catalog write after another. */
    private void catalogChurn(int it, AtomicBoolean stop, List<String> log) {
        for (int j = 0; !stop.get(); j++) {
            String name = "c" + it + "x" + j;
            if (!apply("storage:volume-create local " + name + " 1M", name, Set.of(ABSENT, 1L << 20), 1L << 20, log)
                    || !apply("storage:volume-resize local/" + name + " 2M", name, Set.of(1L << 20, 2L << 20),
                            2L << 20, log)) {
                return;
            }
            if (j % 2 == 0 && !apply("storage:volume-delete local/" + name, name, Set.of(2L << 20, ABSENT),
                    ABSENT, log)) {
                return;
            }
        }
    }

    /**
     * Runs one command. While it runs the volume may be in any of {@code during}; when it
     * succeeds it is {@code after}; when it fails cleanly, as before.
     *
     * @return false when the connection was lost (the kill), so the client stops
     */
    private boolean apply(String command, String name, Set<Long> during, long after, List<String> log) {
        Set<Long> before;
        synchronized (model) {
            before = model.getOrDefault(name, Set.of(ABSENT));
            model.put(name, new TreeSet<>(during));
        }
        KarafProcess.Result r = karaf.exec(command);
        synchronized (model) {
            if (r.ok()) {
                model.put(name, Set.of(after));
            } else if (r.exit != null) {
                model.put(name, before);
            }
        }
        synchronized (log) {
            log.add(command.replace("storage:", "").replaceAll(" local/?", " ") + " -> "
                    + (r.exit == null ? "cut" : r.ok() ? "ok" : r.error()));
        }
        if (r.exit != null && !r.ok()) {
            // A clean failure would be a bug here (names are fresh, space is plenty).
            throw new AssertionError("unexpected failure: " + r);
        }
        return r.ok();
    }

    private void checkInvariants(Path dir, boolean qemu, int it) throws IOException, InterruptedException {
        String where = "after kill " + it + ": ";
        Map<String, String[]> listed = new TreeMap<>();
        for (String[] row : rows(karaf.ok("storage:volume-list --no-format -b local"))) {
            listed.put(row[0].substring("local/".length()), row);
        }
        Map<String, String> ds = keyValues(karaf.ok("storage:datastore-info local"));
        assertEquals(where + "datastore " + ds, "ONLINE", ds.get("state"));

        Set<String> names = new TreeSet<>(model.keySet());
        names.addAll(listed.keySet());
        Set<String> files = new TreeSet<>();
        for (String name : names) {
            String[] row = listed.get(name);
            Set<Long> possible = model.getOrDefault(name, Set.of(ABSENT));
            if (row == null) {
                assertTrue(where + name + " is missing, expected one of " + possible, possible.contains(ABSENT));
                model.remove(name);
                continue;
            }
            // Columns: Volume, Format, Provisioning, Virtual size, Allocated, State
            String what = where + String.join(" ", row);
            assertEquals(what, "READY", row[5]);
            long size = Long.parseLong(row[3]);
            assertTrue(what + ": size not one of " + possible, possible.contains(size));
            model.put(name, Set.of(size));

            Map<String, String> info = keyValues(karaf.ok("storage:volume-info local/" + name));
            assertEquals(what, "READY", info.get("state"));
            Path image = Paths.get(info.get("path"));
            assertEquals(what, dir.toRealPath(), image.getParent().toRealPath());
            assertTrue(what + ": image missing " + image, Files.isRegularFile(image));
            files.add(image.getFileName().toString());
            if ("thick".equals(row[2])) {
                // A complete thick image: the whole data area, plus the footer for a fixed VHD.
                long expected = size + ("vhd".equals(row[1]) ? 512 : 0);
                assertEquals(what + ": thick image length", expected, Files.size(image));
            }
            if (qemu) {
                assertEquals(what + ": qemu-img virtual size", size, QemuImg.virtualSize(image, row[1]));
            }
        }

        // Nothing else in the directory: rolled-back images and temporary files are gone.
        Set<String> present;
        try (Stream<Path> list = Files.list(dir)) {
            present = list.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
        present.remove(".strata-catalog.json");
        present.remove(".strata-catalog.reserve"); // room kept so that a full datastore can be freed
        // A catalog write cut by the kill leaves its temporary file; the catalog itself is
        // whole. Such files are only removed once stale (another writer might still be
        // using a fresh one), so they may be here; they are never volumes.
        present.removeIf(n -> n.startsWith(".strata-tmp-.strata-catalog.json-"));
        if (!present.equals(files)) {
            Set<String> extra = new TreeSet<>(present);
            extra.removeAll(files);
            fail(where + "files not belonging to a listed volume: " + extra + " (listed: " + files + ")");
        }

        // Keep the disk use bounded: drop the thick volumes, keep the small ones as history.
        for (String[] row : listed.values()) {
            if ("thick".equals(row[2])) {
                karaf.ok("storage:volume-delete " + row[0]);
                model.remove(row[0].substring("local/".length()));
            }
        }
    }
}
