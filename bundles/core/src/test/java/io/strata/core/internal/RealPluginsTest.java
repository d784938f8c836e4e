package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.fs.dir.internal.DirFilesystem;
import io.strata.local.internal.LocalDriver;
import io.strata.raw.internal.RawFormat;
import io.strata.vhd.internal.VhdFormat;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The core with the real local driver, dir layer, VHD and raw formats (as plain
 * objects, without a container): the embedded default, volumes of every
 * provisioning type, plugins leaving and returning, and a restart.
 */
class RealPluginsTest {
    @TempDir
    Path tmp;
    MemoryConfigStore store = new MemoryConfigStore();
    StrataCore core;
    LocalDriver driver;
    DirFilesystem dir;
    VhdFormat vhd;
    RawFormat raw;

    @BeforeEach
    void start() {
        core = new StrataCore(store, new CoreSettings(true, "local", tmp.resolve("datastores/local"),
                tmp.resolve("strata")));
        driver = new LocalDriver();
        dir = new DirFilesystem();
        vhd = new VhdFormat();
        raw = new RawFormat();
        core.addFormat(vhd, "vhd", "io.strata.format-vhd");
        core.addFormat(raw, "raw", "io.strata.format-raw");
        core.addDriver(driver, "local", "io.strata.driver-local");
        core.addFilesystem(dir, "dir", "io.strata.fs-dir");
    }

    @AfterEach
    void stop() {
        core.close();
    }

    private void restart() {
        core.close();
        start();
    }

    @Test
    void volumesOnTheEmbeddedDefault() throws Exception {
        DatastoreInfo ds = core.info("local");
        assertEquals(Availability.ONLINE, ds.state(), ds.message());
        assertEquals(tmp.resolve("datastores/local").toString(), ds.path());
        assertTrue(ds.capacity() > 0 && ds.free() > 0);

        VolumeRef thin = VolumeRef.parse("local/thin");
        VolumeInfo v = core.create(thin, 100L << 20, "vhd", Provisioning.THIN);
        assertEquals(100L << 20, v.virtualSize());
        assertTrue(v.allocated() < (8L << 20), "thin stays small: " + v.allocated());
        assertEquals(tmp.resolve("datastores/local/thin.vhd").toString(), v.path());
        core.create(VolumeRef.parse("local/fixed"), 4L << 20, "vhd", Provisioning.THICK);
        core.create(VolumeRef.parse("local/lazy"), 4L << 20, "vhd", Provisioning.THICK_LAZY);
        core.create(VolumeRef.parse("local/plain"), 1L << 20, "raw", Provisioning.THIN);
        core.create(VolumeRef.parse("local/default"), 1L << 20, null, null);
        assertEquals("vhd", core.info(VolumeRef.parse("local/default")).format());

        byte[] data = "written through the core".getBytes();
        try (VirtualDisk d = core.open(thin, false)) {
            d.write(ByteBuffer.wrap(data), 50L << 20);
            d.flush();
        }
        core.resize(thin, 200L << 20);
        assertEquals(200L << 20, core.info(thin).virtualSize());
        fails(ErrorCode.DATASTORE_FULL,
                () -> core.create(VolumeRef.parse("local/huge"), 1L << 50, "raw", Provisioning.THICK));
        assertFalse(Files.exists(tmp.resolve("datastores/local/huge.raw")));

        // the filesystem goes away and comes back
        VirtualDisk open = core.open(thin, true);
        core.removeFilesystem(dir);
        assertEquals(Availability.UNAVAILABLE, core.info("local").state());
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> open.read(ByteBuffer.allocate(data.length), 50L << 20));
        core.addFilesystem(dir, "dir", "io.strata.fs-dir");
        assertEquals(Availability.ONLINE, core.info("local").state());
        open.close();

        restart();

        assertEquals(List.of("default", "fixed", "lazy", "plain", "thin"),
                core.list("local").stream().map(VolumeInfo::name).toList());
        try (VirtualDisk d = core.open(thin, true)) {
            assertEquals(200L << 20, d.virtualSize());
            ByteBuffer b = ByteBuffer.allocate(data.length);
            d.read(b, 50L << 20);
            assertArrayEquals(data, b.array());
        }
        DatastoreInfo after = core.info("local");
        assertEquals(5, after.volumes());
        assertEquals((200L << 20) + (8L << 20) + (2L << 20), after.provisioned());
        assertTrue(after.allocated() >= (8L << 20), "the thick ones are allocated: " + after.allocated());

        for (VolumeInfo vi : core.list("local")) {
            core.delete(vi.ref());
        }
        assertEquals(List.of(Catalog.FILE, MountedDatastore.RESERVE), core.datastore("local").list());
    }

    @Test
    void importAdoptsAndCopiesRealImages() throws Exception {
        VolumeRef src = VolumeRef.parse("local/src");
        core.create(src, 2L << 20, "vhd", Provisioning.THIN);
        try (VirtualDisk d = core.open(src, false)) {
            d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 1 << 20);
        }
        Path outside = tmp.resolve("elsewhere.vhd");
        Files.copy(tmp.resolve("datastores/local/src.vhd"), outside);
        VolumeInfo copied = core.importImage(VolumeRef.parse("local/copy"), outside, null);
        assertEquals("vhd", copied.format());
        assertEquals(2L << 20, copied.virtualSize());
        assertTrue(Files.exists(outside));

        Path damaged = tmp.resolve("datastores/local/damaged.vhd");
        byte[] bytes = Files.readAllBytes(outside);
        bytes[bytes.length - 512 + 70] ^= 0x55; // the footer checksum no longer matches
        Files.write(damaged, bytes);
        fails(ErrorCode.CORRUPT_IMAGE, () -> core.importImage(VolumeRef.parse("local/bad"), damaged, null));
        assertArrayEquals(bytes, Files.readAllBytes(damaged));

        Path inPlace = tmp.resolve("datastores/local/dropped-in.img");
        Files.write(inPlace, new byte[1 << 20]);
        VolumeInfo adopted = core.importImage(VolumeRef.parse("local/adopted"), inPlace, null);
        assertEquals("raw", adopted.format());
        assertFalse(Files.exists(inPlace));
        assertTrue(Files.exists(tmp.resolve("datastores/local/adopted.raw")));

        try (VirtualDisk d = core.open(VolumeRef.parse("local/copy"), true)) {
            ByteBuffer b = ByteBuffer.allocate(3);
            d.read(b, 1 << 20);
            assertArrayEquals(new byte[] {1, 2, 3}, b.array());
        }
    }
}
