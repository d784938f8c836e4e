package io.strata.itests;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import javax.inject.Inject;

import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;

import org.apache.karaf.features.FeaturesService;
import org.junit.Test;
import org.osgi.framework.Bundle;

/**
 * Hot deploy of a driver: the local driver (which carries the default datastore
 * `local`) is uninstalled, dropped into deploy/, removed from deploy/ and installed
 * again as a feature; the datastore follows (UNAVAILABLE, then ONLINE) and the
 * volume's data survives every step.
 */
public class HotDeployIT extends StrataTestSupport {

    private static final long MIB = 1024 * 1024;
    private static final long[] OFFSETS = {0, 5 * MIB + 123, 16 * MIB - 4096};

    @Inject
    protected VolumeService volumes;

    @Inject
    protected FeaturesService features;

    @Test
    public void driverComesAndGoesWithoutLosingData() throws Exception {
        awaitDatastore("local", "ONLINE");
        VolumeRef ref = new VolumeRef("local", "hot1");
        Map<String, String> info = keyValues(ok("storage:volume-create local hot1 16M"));
        Path image = Paths.get(info.get("path"));
        byte[][] written = writePatterns(ref);

        // 1. uninstall the driver bundle: the datastore goes UNAVAILABLE, nothing is deleted
        Bundle driver = Stream.of(bundleContext.getBundles())
                .filter(b -> "io.strata.driver-local".equals(b.getSymbolicName())).findFirst()
                .orElseThrow(() -> new AssertionError("driver bundle not installed"));
        driver.uninstall();
        awaitDriver(false);
        awaitDatastore("local", "UNAVAILABLE");
        awaitOutput("storage:volume-list --no-format -b local",
                out -> out.contains("local/hot1\t") && out.contains("UNAVAILABLE"));
        assertTrue("image deleted with the driver: " + image, Files.isRegularFile(image));

        // 2. hot deploy: the bundle jar dropped into deploy/
        Path jar = driverJar();
        Path deployed = Paths.get(System.getProperty("karaf.base"), "deploy", jar.getFileName().toString());
        Files.copy(jar, deployed, StandardCopyOption.REPLACE_EXISTING);
        awaitDriver(true);
        awaitDatastore("local", "ONLINE");
        assertEquals("READY", keyValues(ok("storage:volume-info local/hot1")).get("state"));
        assertPatterns(ref, written);

        // 3. removed from deploy/: uninstalled again, data still there
        Files.delete(deployed);
        awaitDriver(false);
        awaitDatastore("local", "UNAVAILABLE");
        assertTrue(Files.isRegularFile(image));

        // 4. installed again from the features repository (the strata feature still wants it)
        features.installFeature("strata-driver-local");
        awaitDriver(true);
        awaitDatastore("local", "ONLINE");
        assertPatterns(ref, written);
        assertEquals(Long.toString(16 * MIB), keyValues(ok("storage:volume-info local/hot1")).get("virtual-size"));

        ok("storage:volume-delete local/hot1");
    }

    private byte[][] writePatterns(VolumeRef ref) {
        Random random = new Random(42);
        byte[][] data = new byte[OFFSETS.length][];
        try (VirtualDisk disk = volumes.open(ref, false)) {
            for (int i = 0; i < OFFSETS.length; i++) {
                data[i] = new byte[4096];
                random.nextBytes(data[i]);
                disk.write(ByteBuffer.wrap(data[i]), OFFSETS[i]);
            }
            disk.flush();
        } catch (Exception e) {
            throw new AssertionError("writing " + ref + " failed", e);
        }
        return data;
    }

    private void assertPatterns(VolumeRef ref, byte[][] expected) {
        try (VirtualDisk disk = volumes.open(ref, true)) {
            for (int i = 0; i < OFFSETS.length; i++) {
                ByteBuffer buffer = ByteBuffer.allocate(expected[i].length);
                disk.read(buffer, OFFSETS[i]);
                assertArrayEquals("data at offset " + OFFSETS[i], expected[i], buffer.array());
            }
            ByteBuffer hole = ByteBuffer.allocate(4096);
            disk.read(hole, 10 * MIB);
            assertArrayEquals("never-written region", new byte[4096], hole.array());
        } catch (Exception e) {
            throw new AssertionError("reading " + ref + " failed", e);
        }
    }

    /** The driver bundle as the distribution ships it in its system/ repository. */
    private static Path driverJar() {
        String version = System.getProperty("strata.version", "0.1.0-SNAPSHOT");
        File dir = new File(System.getProperty("karaf.home"), "system/io/strata/strata-driver-local/" + version);
        File[] jars = dir.listFiles((d, name) -> name.endsWith(".jar"));
        assertTrue("no driver jar in " + dir, jars != null && jars.length == 1);
        return jars[0].toPath();
    }

    private void awaitDriver(boolean present) {
        awaitOutput("storage:driver-list --no-format", out -> present == rows(out).stream()
                .anyMatch(r -> r.length > 1 && r[0].equals("driver") && r[1].equals("local")));
    }
}
