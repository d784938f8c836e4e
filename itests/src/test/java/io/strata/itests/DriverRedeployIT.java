package io.strata.itests;

import static io.strata.itests.VolumeData.assertFails;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;

import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import javax.inject.Inject;

import org.junit.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.wiring.BundleWiring;

/**
 * The local driver bundle leaves with volumes open and comes back by hot deploy:
 * <ol>
 * <li>volumes of every kind (VHD thin, thick, thick-lazy; raw thin and thick) on two
 * datastores of that driver (the embedded {@code local} and a second dir datastore),
 * each filled with a known pattern; one handle open for writing, one for reading;</li>
 * <li>the driver bundle uninstalled (as {@code bundle:uninstall io.strata.driver-local} does): the driver leaves driver-list, both
 * datastores and their resources are UNAVAILABLE, every volume is still listed (state
 * UNAVAILABLE, same size), I/O on the open handles fails with DEVICE_UNAVAILABLE, new
 * opens and creates are refused, no image file is touched;</li>
 * <li>the driver jar dropped into deploy/: the driver is back without a restart, both
 * datastores ONLINE, every volume READY with its pattern and its image file
 * byte-for-byte unchanged;</li>
 * <li>the uninstalled revision's class loader collected: nothing, its JNA bindings included,
 * keeps the old driver's classes loaded.</li>
 * </ol>
 * HotDeployIT covers the deploy/ folder round trip and feature reinstall of one volume;
 * this test covers open handles and many volumes.
 */
public class DriverRedeployIT extends StrataTestSupport {

    private static final String DRIVER_BUNDLE = "io.strata.driver-local";

    @Inject
    protected VolumeService volumes;

    @Test
    public void openHandlesFailWhileTheDriverIsGoneAndEveryVolumeComesBackUnchanged() throws Exception {
        awaitState("local", "ONLINE");
        Path store = Paths.get(System.getProperty("karaf.data"), "it-store2");
        ok("storage:resource-add r2 local kind=directory path=" + store);
        ok("storage:datastore-create ds2 dir r2");

        Map<String, Long> sizes = new LinkedHashMap<>();
        sizes.put("local/thin", create("local", "thin", "", 64L << 20));
        sizes.put("local/thick", create("local", "thick", "--provisioning thick", 16L << 20));
        sizes.put("local/raw", create("local", "raw", "--format raw", 16L << 20));
        sizes.put("ds2/lazy", create("ds2", "lazy", "--provisioning thick-lazy", 16L << 20));
        sizes.put("ds2/rawthick", create("ds2", "rawthick", "--format raw --provisioning thick", 8L << 20));
        Map<String, Path> images = new TreeMap<>();
        for (String ref : sizes.keySet()) {
            VolumeData.write(volumes, VolumeRef.parse(ref), sizes.get(ref));
            images.put(ref, Paths.get(keyValues(ok("storage:volume-info " + ref)).get("path")));
        }
        Map<String, String[]> listedBefore = volumeRows();
        Map<String, String> hashes = hashes(images);

        VolumeRef writerRef = VolumeRef.parse("local/thin");
        WeakReference<ClassLoader> goneDriver = leaveWithHandlesOpen(writerRef, sizes, listedBefore, images, hashes);

        // ---- the driver comes back through deploy/
        Path jar = BundleJars.jar("strata-driver-local");
        Path deployed = BundleJars.deployFolder().resolve(jar.getFileName());
        Files.copy(jar, deployed, StandardCopyOption.REPLACE_EXISTING);
        awaitDriver(true);
        assertTrue(driverBundleInstalled());
        awaitState("local", "ONLINE");
        awaitState("ds2", "ONLINE");

        assertEquals("images changed by the round trip", hashes, hashes(images));
        Map<String, String[]> listedAfter = volumeRows();
        assertEquals(listedBefore.keySet(), listedAfter.keySet());
        for (String ref : listedBefore.keySet()) {
            assertEquals(ref, String.join("\t", listedBefore.get(ref)), String.join("\t", listedAfter.get(ref)));
            assertEquals(ref, "READY", listedAfter.get(ref)[5]);
            VolumeData.check(volumes, VolumeRef.parse(ref), sizes.get(ref));
        }
        // writable again
        VolumeData.write(volumes, writerRef, sizes.get("local/thin"));
        ok("storage:volume-create local more 1M");

        // nothing keeps the uninstalled revision: not a stale handle, not a registration
        assertCollected("the uninstalled driver's class loader", goneDriver);

        for (String ref : volumeRows().keySet()) {
            ok("storage:volume-delete " + ref);
        }
        ok("storage:datastore-remove ds2");
        ok("storage:resource-remove r2");
    }

    /**
     * Opens a writer and a reader, uninstalls the driver and checks what the handles and the
     * listings show, in a frame of its own: nothing of the old revision is held once it returns.
     *
     * @return the uninstalled revision's class loader, weakly
     */
    private WeakReference<ClassLoader> leaveWithHandlesOpen(VolumeRef writerRef, Map<String, Long> sizes,
            Map<String, String[]> listedBefore, Map<String, Path> images, Map<String, String> hashes) throws Exception {
        WeakReference<ClassLoader> gone;
        VolumeRef readerRef = VolumeRef.parse("ds2/lazy");
        VirtualDisk writer = volumes.open(writerRef, false);
        VirtualDisk reader = volumes.open(readerRef, true);
        try {
            VolumeData.check(writer, writerRef, sizes.get("local/thin"));
            assertEquals("IN_USE", volumeRows().get("local/thin")[5]);

            // ---- the driver leaves
            Bundle driver = bundle(DRIVER_BUNDLE);
            gone = new WeakReference<>(driver.adapt(BundleWiring.class).getClassLoader());
            driver.uninstall();
            assertFalse("driver bundle still installed", driverBundleInstalled());
            awaitDriver(false);
            awaitState("local", "UNAVAILABLE");
            awaitState("ds2", "UNAVAILABLE");
            String message = keyValues(ok("storage:datastore-info ds2")).get("message");
            assertTrue("reason: " + message, message != null && message.contains("local"));
            List<String[]> resources = rows(ok("storage:resource-list --no-format"));
            for (String name : List.of("local", "r2")) {
                assertTrue(name + " not UNAVAILABLE: " + ok("storage:resource-list"), resources.stream()
                        .anyMatch(r -> r[0].equals(name) && r[2].equals("UNAVAILABLE")));
            }

            Map<String, String[]> listedGone = volumeRows();
            assertEquals("volumes kept", listedBefore.keySet(), listedGone.keySet());
            for (String ref : listedBefore.keySet()) {
                assertEquals(ref + " state", "UNAVAILABLE", listedGone.get(ref)[5]);
                assertEquals(ref + " size", listedBefore.get(ref)[3], listedGone.get(ref)[3]);
                assertEquals(ref + " format", listedBefore.get(ref)[1], listedGone.get(ref)[1]);
            }

            // open handles: every call refused with DEVICE_UNAVAILABLE
            assertFails(ErrorCode.DEVICE_UNAVAILABLE, "read on the open writer",
                    () -> writer.read(ByteBuffer.allocate(4096), 0));
            assertFails(ErrorCode.DEVICE_UNAVAILABLE, "write on the open writer",
                    () -> writer.write(ByteBuffer.allocate(4096), 0));
            assertFails(ErrorCode.DEVICE_UNAVAILABLE, "flush on the open writer", writer::flush);
            assertFails(ErrorCode.DEVICE_UNAVAILABLE, "read on the open reader",
                    () -> reader.read(ByteBuffer.allocate(4096), 8192));
            // new work refused as well, with the same code
            assertFails(ErrorCode.DEVICE_UNAVAILABLE, "open while unavailable",
                    () -> volumes.open(VolumeRef.parse("local/raw"), true));
            assertTrue(error("storage:volume-create local more 1M").startsWith("DEVICE_UNAVAILABLE"));
            assertEquals("images touched while the driver was gone", hashes, hashes(images));
        } finally {
            writer.close();
            reader.close();
        }
        return gone;
    }

    /**
     * The dir filesystem bundle, which does the local datastore's file I/O through JNA, updated
     * in place (as {@code bundle:update} does): the datastore comes back with its data, and the
     * old revision's classes are unloaded. Before its activator released the JNA bindings, every
     * update kept the old revision loaded for good (about 160 KiB of metaspace each).
     */
    @Test
    public void anUpdatedFilesystemBundleKeepsNoClassOfItsOldRevision() throws Exception {
        awaitState("local", "ONLINE");
        VolumeRef ref = VolumeRef.parse("local/update");
        long size = create("local", "update", "", 8L << 20);
        VolumeData.write(volumes, ref, size);
        WeakReference<ClassLoader> old = updateInPlace("io.strata.fs-dir", "strata-fs-dir");
        awaitState("local", "ONLINE");
        VolumeData.check(volumes, ref, size);
        ok("storage:volume-delete local/update");
        assertCollected("the old revision of io.strata.fs-dir", old);
    }

    /** Updates a bundle from its installed jar; returns the replaced revision's class loader, weakly. */
    private WeakReference<ClassLoader> updateInPlace(String symbolicName, String artifactId) throws Exception {
        Bundle b = bundle(symbolicName);
        WeakReference<ClassLoader> old = new WeakReference<>(b.adapt(BundleWiring.class).getClassLoader());
        try (InputStream in = Files.newInputStream(BundleJars.jar(artifactId))) {
            b.update(in);
        }
        return old;
    }

    /** Runs the collector until the class loader goes, for up to about ten seconds. */
    private static void assertCollected(String what, WeakReference<ClassLoader> loader) throws InterruptedException {
        for (int i = 0; i < 40 && loader.get() != null; i++) {
            System.gc();
            Thread.sleep(250);
        }
        assertNull(what + " is still reachable", loader.get());
    }

    private long create(String datastore, String name, String options, long size) {
        Map<String, String> info = keyValues(ok("storage:volume-create " + options + " " + datastore + " " + name
                + " " + size));
        assertEquals(Long.toString(size), info.get("virtual-size"));
        return size;
    }

    /** volume-list rows by reference (sizes in bytes). */
    private Map<String, String[]> volumeRows() {
        Map<String, String[]> map = new TreeMap<>();
        for (String[] row : rows(ok("storage:volume-list --no-format -b"))) {
            map.put(row[0], row);
        }
        return map;
    }

    private static Map<String, String> hashes(Map<String, Path> images) {
        Map<String, String> map = new TreeMap<>();
        images.forEach((ref, path) -> map.put(ref, VolumeData.sha256(path)));
        return map;
    }

    private boolean driverBundleInstalled() {
        for (Bundle b : bundleContext.getBundles()) {
            if (DRIVER_BUNDLE.equals(b.getSymbolicName()) && b.getState() != Bundle.UNINSTALLED) {
                return true;
            }
        }
        return false;
    }

    private void awaitDriver(boolean present) {
        awaitOutput("storage:driver-list --no-format", out -> present == rows(out).stream()
                .anyMatch(r -> r.length > 1 && r[0].equals("driver") && r[1].equals("local")));
    }

    /** Waits until {@code storage:datastore-list} shows the datastore in that state. */
    private void awaitState(String datastore, String state) {
        awaitOutput("storage:datastore-list --no-format -b", out -> rows(out).stream()
                .anyMatch(r -> r.length > 3 && r[0].equals(datastore) && r[3].equals(state)));
    }

    /** The installed bundle of that symbolic name. */
    private Bundle bundle(String symbolicName) {
        for (Bundle b : bundleContext.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError(symbolicName + " is not installed");
    }
}
