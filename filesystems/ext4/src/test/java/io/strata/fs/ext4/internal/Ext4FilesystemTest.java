package io.strata.fs.ext4.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.posix.Posix;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class Ext4FilesystemTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;
    Path mountRoot;
    Path lunFile;
    final Tools tools = new Tools();
    Ext4Filesystem fs;

    @BeforeEach
    void setUp() throws IOException {
        mountRoot = tmp.resolve("mounts");
        lunFile = tmp.resolve("lun0.img");
        try (RandomAccessFile raf = new RandomAccessFile(lunFile.toFile(), "rw")) {
            raf.setLength(64 * MIB);
        }
        fs = new Ext4Filesystem(mountRoot, tools, Posix::isRoot, Path.of("/proc/self/mountinfo"));
    }

    /** Never leave a mount or a loop device behind, whatever a test did. */
    @AfterEach
    void cleanUp() {
        if (!Posix.isRoot()) {
            return;
        }
        try {
            tools.find("losetup");
            tools.find("umount");
        } catch (StorageException e) {
            return; // the tests that need them were skipped
        }
        for (MountTable.Mount m : MountTable.read()) {
            if (m.mountPoint().startsWith(tmp.toString())) {
                tools.run(Duration.ofSeconds(30), "umount", "-l", m.mountPoint());
            }
        }
        for (String loop : fs.loopsOf(lunFile)) {
            tools.run(Duration.ofSeconds(30), "losetup", "-d", loop);
        }
    }

    static BlockDevice lun(Path file) {
        return new TestDevice("lun", file, null);
    }

    static StorageException assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
        return ex;
    }

    void assumeRootAndTools() {
        assumeTrue(Posix.isRoot(), "formatting and mounting ext4 need root");
        for (String t : List.of("mkfs.ext4", "blkid", "losetup", "mount", "umount")) {
            try {
                tools.find(t);
            } catch (StorageException e) {
                assumeTrue(false, e.getMessage());
            }
        }
    }

    boolean mounted(Path mountPoint) {
        return MountTable.at(MountTable.read(), mountPoint).isPresent();
    }

    @Test
    void describesItself() {
        assertEquals("ext4", fs.type());
        assertEquals(DeviceKind.BLOCK, fs.deviceKind());
        assertTrue(fs.capabilities().contains(Capability.FORMAT));
    }

    @Test
    void mountRootDefaultsUnderKarafData() {
        String old = System.getProperty("karaf.data");
        try {
            System.setProperty("karaf.data", "/opt/karaf/data");
            assertEquals(Path.of("/opt/karaf/data/strata/mounts"), Ext4Filesystem.mountRoot(""));
            assertEquals(Path.of("/srv/m"), Ext4Filesystem.mountRoot("/srv/m"));
            System.clearProperty("karaf.data");
            assertEquals(Path.of(System.getProperty("java.io.tmpdir"), "strata", "mounts"), Ext4Filesystem.mountRoot(null));
        } finally {
            if (old != null) {
                System.setProperty("karaf.data", old);
            }
        }
    }

    @Test
    void formatMountWriteUnmountRemountReadBack() throws Exception {
        assumeRootAndTools();
        BlockDevice lun = lun(lunFile);
        fs.format(lun, Map.of("label", "strata-t"), false);
        StorageException e = assertCode(ErrorCode.DEVICE_HAS_FILESYSTEM, () -> fs.format(lun, Map.of(), false));
        assertTrue(e.getMessage().contains("already holds an ext4 filesystem"), e.getMessage());

        Path mp = mountRoot.resolve("ds1").toAbsolutePath();
        byte[] data = "hello ext4 datastore".getBytes(StandardCharsets.UTF_8);
        try (Datastore ds = fs.mount("ds1", lun, Map.of())) {
            assertTrue(mounted(mp), "mounted at " + mp);
            assertEquals(1, fs.loopsOf(lunFile).size(), "one loop device for the file");
            assertEquals("ext4", ds.filesystemType());
            assertEquals(mp, ds.localPath().orElseThrow());
            assertTrue(ds.capabilities().containsAll(List.of(Capability.SPARSE_FILES, Capability.PREALLOCATE,
                    Capability.PUNCH_HOLE, Capability.FILE_LOCKS)), ds.capabilities().toString());
            assertTrue(ds.space().capacity() > 40 * MIB && ds.space().capacity() < 64 * MIB, ds.space().toString());
            try (DatastoreFile f = ds.create("v1.vhd")) {
                f.write(ByteBuffer.wrap(data), 4096);
                f.flush();
            }
            ds.writeAtomically(".strata-catalog", data);
            assertEquals(List.of(".strata-catalog", "v1.vhd"), ds.list(), "lost+found is not listed");
            assertCode(ErrorCode.VOLUME_IN_USE, () -> fs.format(lun, Map.of(), true));
        }
        assertFalse(mounted(mp), "close unmounts");
        assertEquals(List.of(), fs.loopsOf(lunFile), "close detaches the loop device");

        try (Datastore again = fs.mount("ds1", lun, Map.of())) {
            assertArrayEquals(data, again.readAll(".strata-catalog"));
            try (DatastoreFile f = again.open("v1.vhd", false)) {
                ByteBuffer b = ByteBuffer.allocate(data.length);
                f.read(b, 4096);
                assertArrayEquals(data, b.array());
            }
        }
        assertFalse(mounted(mp));
        fs.format(lun, Map.of(), true); // forced: formats again
    }

    @Test
    void mountIsIdempotentAndTheLastHandleUnmounts() {
        assumeRootAndTools();
        BlockDevice lun = lun(lunFile);
        fs.format(lun, Map.of(), false);
        Path mp = mountRoot.resolve("ds2").toAbsolutePath();
        Datastore a = fs.mount("ds2", lun, Map.of());
        Datastore b = fs.mount("ds2", lun, Map.of());
        assertEquals(1, fs.loopsOf(lunFile).size());
        a.close();
        assertTrue(mounted(mp), "another handle still uses it");
        b.close();
        assertFalse(mounted(mp));

        // a mount that survived a restart of the component (new instance) is reused
        Datastore c = fs.mount("ds2", lun, Map.of());
        Ext4Filesystem restarted = new Ext4Filesystem(mountRoot, tools, Posix::isRoot, Path.of("/proc/self/mountinfo"));
        Datastore d = restarted.mount("ds2", lun, Map.of());
        assertEquals(1, fs.loopsOf(lunFile).size());
        d.close();
        assertFalse(mounted(mp));
        c.close();
        // a second datastore name on the same device is refused
        Datastore e = fs.mount("ds2", lun, Map.of());
        assertCode(ErrorCode.VOLUME_IN_USE, () -> fs.mount("other", lun, Map.of()));
        // deactivation (bundle stopped or uninstalled) releases everything
        fs.deactivate();
        assertFalse(mounted(mp));
        assertEquals(List.of(), fs.loopsOf(lunFile));
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, e::list);
    }

    @Test
    void mountingADeviceWithoutExt4IsCorruptImageAndLeavesNoLoop() throws Exception {
        assumeRootAndTools();
        StorageException e = assertCode(ErrorCode.CORRUPT_IMAGE, () -> fs.mount("blank", lun(lunFile), Map.of()));
        assertTrue(e.getMessage().contains("no filesystem"), e.getMessage());
        assertEquals(List.of(), fs.loopsOf(lunFile));
        assertFalse(mounted(mountRoot.resolve("blank").toAbsolutePath()));
    }

    @Test
    void anotherSignatureIsRefusedUnlessForced() throws Exception {
        assumeRootAndTools();
        Path mkswap;
        try {
            mkswap = tools.find("mkswap");
        } catch (StorageException e) {
            assumeTrue(false, "mkswap (util-linux) is missing");
            return;
        }
        Process p = new ProcessBuilder(mkswap.toString(), lunFile.toString()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor());
        StorageException e = assertCode(ErrorCode.DEVICE_HAS_FILESYSTEM, () -> fs.format(lun(lunFile), Map.of(), false));
        assertTrue(e.getMessage().contains("swap"), e.getMessage());
        assertTrue(assertCode(ErrorCode.CORRUPT_IMAGE, () -> fs.mount("sw", lun(lunFile), Map.of()))
                .getMessage().contains("swap"));
        fs.format(lun(lunFile), Map.of(), true);
        fs.mount("sw", lun(lunFile), Map.of()).close();
    }

    @Test
    void mkfsFailureCarriesItsStderr() {
        assumeRootAndTools();
        BlockDevice tiny = lun(tmp.resolve("tiny.img"));
        try {
            Files.write(tmp.resolve("tiny.img"), new byte[4096]);
        } catch (IOException ex) {
            throw new AssertionError(ex);
        }
        StorageException e = assertCode(ErrorCode.EXTERNAL_TOOL_FAILED, () -> fs.format(tiny, Map.of(), false));
        assertTrue(e.getMessage().startsWith("formatting res/lun with ext4: mkfs.ext4 exited with"), e.getMessage());
    }

    @Test
    void withoutRootFormatAndMountAreRefusedClearly() {
        Ext4Filesystem notRoot = new Ext4Filesystem(mountRoot, tools, () -> false, Path.of("/proc/self/mountinfo"));
        StorageException f = assertCode(ErrorCode.PERMISSION_DENIED, () -> notRoot.format(lun(lunFile), Map.of(), false));
        assertEquals("formatting ext4 needs root", f.getMessage());
        StorageException m = assertCode(ErrorCode.PERMISSION_DENIED, () -> notRoot.mount("x", lun(lunFile), Map.of()));
        assertEquals("mounting ext4 needs root", m.getMessage());
    }

    @Test
    void realNonRootProcessIsRefused() {
        assumeFalse(Posix.isRoot(), "running as root");
        assertEquals("formatting ext4 needs root",
                assertCode(ErrorCode.PERMISSION_DENIED, () -> fs.format(lun(lunFile), Map.of(), false)).getMessage());
    }

    @Test
    void missingToolsNameTheirPackage() {
        Ext4Filesystem noTools = new Ext4Filesystem(mountRoot, new Tools(List.of(tmp)), () -> true,
                Path.of("/proc/self/mountinfo"));
        StorageException e = assertCode(ErrorCode.EXTERNAL_TOOL_FAILED, () -> noTools.format(lun(lunFile), Map.of(), false));
        assertTrue(e.getMessage().contains("install the") && e.getMessage().contains("package"), e.getMessage());
        assertTrue(assertThrows(StorageException.class, () -> new Tools(List.of(tmp)).find("mkfs.ext4"))
                .getMessage().contains("e2fsprogs"));
    }

    @Test
    void badOptionsAndDevicesAreInvalidArguments() {
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> fs.format(lun(lunFile), Map.of("blocksize", "1k"), false));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> fs.format(lun(lunFile), Map.of("label", "a label with spaces"), false));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> fs.mount("x", lun(lunFile), Map.of("ro", "true")));
        assertCode(ErrorCode.INVALID_NAME, () -> fs.mount("../x", lun(lunFile), Map.of()));
    }

    @Test
    void mountinfoParsing() {
        List<MountTable.Mount> m = MountTable.parse(List.of(
                "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
                "40 27 7:0 / /var/lib/strata/mounts/my\\040ds rw,relatime shared:5 - ext4 /dev/loop0 rw",
                "garbage"));
        assertEquals(2, m.size());
        assertEquals(new MountTable.Mount("7:0", "/var/lib/strata/mounts/my ds", "ext4", "/dev/loop0"), m.get(1));
        assertEquals("98:0", MountTable.at(m, Path.of("/mnt/parent")).orElseThrow().majorMinor());
        assertEquals(1, MountTable.of(m, "/dev/loop9", "7:0").size());
    }
}
