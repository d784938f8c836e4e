package io.strata.fs.ext4.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.fs.Datastore;
import io.strata.posix.Posix;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** The ext4 layer records the identity of its device and refuses to mount another one. */
class DeviceRecordTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path tmp;
    Path mountRoot;
    final Tools tools = new Tools();
    Ext4Filesystem fs;
    final List<String> loops = new ArrayList<>();

    @BeforeEach
    void setUp() {
        mountRoot = tmp.resolve("mounts");
        fs = new Ext4Filesystem(mountRoot, tools, Posix::isRoot, Path.of("/proc/self/mountinfo"));
    }

    @AfterEach
    void cleanUp() throws IOException {
        if (!Posix.isRoot()) {
            return;
        }
        try {
            tools.find("losetup");
            tools.find("umount");
        } catch (StorageException e) {
            return;
        }
        for (MountTable.Mount m : MountTable.read()) {
            if (m.mountPoint().startsWith(tmp.toString())) {
                tools.run(Duration.ofSeconds(30), "umount", "-l", m.mountPoint());
            }
        }
        for (String loop : loops) {
            tools.run(Duration.ofSeconds(30), "losetup", "-d", loop);
        }
        try (Stream<Path> files = Files.list(tmp)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".img")).toList()) {
                for (String loop : fs.loopsOf(f)) {
                    tools.run(Duration.ofSeconds(30), "losetup", "-d", loop);
                }
            }
        }
    }

    void assumeRootAndTools() {
        assumeTrue(Posix.isRoot(), "formatting and mounting ext4 need root");
        for (String t : List.of("mkfs.ext4", "debugfs", "blkid", "losetup", "mount", "umount")) {
            try {
                tools.find(t);
            } catch (StorageException e) {
                assumeTrue(false, e.getMessage());
            }
        }
    }

    static StorageException assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
        return ex;
    }

    private Path image(String name) throws IOException {
        Path f = tmp.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(64 * MIB);
        }
        return f;
    }

    private static String sha256(Path f) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0;) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private boolean mounted(String datastore) {
        return MountTable.at(MountTable.read(), mountRoot.toAbsolutePath().resolve(datastore)).isPresent();
    }

    private String attachLoop(Path img) {
        String loop = tools.require(Duration.ofSeconds(60), "test", "losetup", "--find", "--show", img.toString())
                .out().strip();
        loops.add(loop);
        return loop;
    }

    private void detachLoop(String loop) {
        tools.require(Duration.ofSeconds(60), "test", "losetup", "-d", loop);
        loops.remove(loop);
    }

    @Test
    void formattingRecordsTheDeviceInTheFilesystemRoot() throws Exception {
        assumeRootAndTools();
        Path a = image("a.img");
        TestDevice dev = new TestDevice("a", a, "uuid:aaaa");
        fs.format(dev, Map.of("label", "rec"), false);
        String record = fs.readRecord(a.toString()).orElseThrow();
        assertEquals(Optional.of("uuid:aaaa"), DeviceRecord.identityIn(record));
        assertEquals("res/a", DeviceRecord.deviceIn(record));
        try (Datastore ds = fs.mount("dsa", dev, Map.of())) {
            Path root = ds.localPath().orElseThrow();
            assertEquals(record, Files.readString(root.resolve(DeviceRecord.FILE)));
            assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(root)),
                    "the root directory keeps ext4's usual mode");
            ds.writeAtomically(".strata-catalog", "{}".getBytes(StandardCharsets.UTF_8));
        }
        try (Datastore ds = fs.mount("dsa", dev, Map.of())) {
            assertArrayEquals("{}".getBytes(StandardCharsets.UTF_8), ds.readAll(".strata-catalog"));
            // a second handle on the mounted datastore is checked too
            assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> fs.mount("dsa", new TestDevice("a", a, "uuid:other"), Map.of()));
        }
        assertFalse(mounted("dsa"));
    }

    @Test
    void anotherDeviceIsRefusedAndNothingIsWrittenToIt() throws Exception {
        assumeRootAndTools();
        Path a = image("a.img");
        fs.format(new TestDevice("a", a, "uuid:aaaa"), Map.of(), false);
        try (Datastore ds = fs.mount("dsa", new TestDevice("a", a, "uuid:aaaa"), Map.of())) {
            ds.writeAtomically(".strata-catalog", "{\"volumes\":[]}".getBytes(StandardCharsets.UTF_8));
        }
        // b holds a copy of a's filesystem, catalog and record included: a disk cloned, or a
        // kernel name (sdb) that now means another disk
        Path b = Files.copy(a, tmp.resolve("b.img"));
        String before = sha256(b);
        TestDevice other = new TestDevice("b", b, "uuid:bbbb");
        StorageException e = assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> fs.mount("dsb", other, Map.of()));
        assertTrue(e.getMessage().contains("uuid:bbbb") && e.getMessage().contains("uuid:aaaa")
                && e.getMessage().contains("res/a") && e.getMessage().contains("nothing was written"), e.getMessage());
        assertEquals(before, sha256(b), "not a byte of the refused device changed");
        assertFalse(mounted("dsb"));
        assertEquals(List.of(), fs.loopsOf(b), "no loop device left behind");
        // refused again, the same way, on a second try
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> fs.mount("dsb", other, Map.of()));
        assertEquals(before, sha256(b));
        // the right device mounts
        fs.mount("dsa", new TestDevice("a", a, "uuid:aaaa"), Map.of()).close();
    }

    @Test
    void aFilesystemMadeBeforeRecordsIsAdoptedAtItsFirstMount() throws Exception {
        assumeRootAndTools();
        Path c = image("c.img");
        fs.format(new TestDevice("c", c, null), Map.of(), false); // a driver without identities: no record
        assertEquals(Optional.empty(), fs.readRecord(c.toString()));
        try (Datastore ds = fs.mount("dsc", new TestDevice("c", c, null), Map.of())) {
            assertFalse(Files.exists(ds.localPath().orElseThrow().resolve(DeviceRecord.FILE)), "nothing to record");
        }
        try (Datastore ds = fs.mount("dsc", new TestDevice("c", c, "serial:cccc"), Map.of())) {
            assertTrue(Files.exists(ds.localPath().orElseThrow().resolve(DeviceRecord.FILE)), "adopted");
            assertEquals(List.of(DeviceRecord.FILE), ds.list(), "no temporary file left");
        }
        assertEquals(Optional.of("serial:cccc"), DeviceRecord.identityIn(fs.readRecord(c.toString()).orElseThrow()));
        String before = sha256(c);
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> fs.mount("dsc", new TestDevice("c", c, "serial:dddd"), Map.of()));
        assertEquals(before, sha256(c));
        // a driver that reports no identity cannot be checked: it mounts, with a warning
        fs.mount("dsc", new TestDevice("c", c, null), Map.of()).close();
        fs.mount("dsc", new TestDevice("c", c, "serial:cccc"), Map.of()).close();
    }

    @Test
    void swappedBlockDevicesAreRefused() throws Exception {
        assumeRootAndTools();
        Path imgA = image("disk-a.img");
        String loopA = attachLoop(imgA);
        TestDevice diskA = new TestDevice("wwn-0xa", Path.of(loopA), "wwid:naa.a");
        fs.format(diskA, Map.of(), false);
        try (Datastore ds = fs.mount("disk", diskA, Map.of())) {
            ds.writeAtomically(".strata-catalog", "{}".getBytes(StandardCharsets.UTF_8));
        }
        detachLoop(loopA);

        Path imgB = Files.copy(imgA, tmp.resolve("disk-b.img"));
        String loopB = attachLoop(imgB);
        String before = sha256(imgB);
        StorageException e = assertCode(ErrorCode.DEVICE_UNAVAILABLE,
                () -> fs.mount("disk", new TestDevice("wwn-0xb", Path.of(loopB), "wwid:naa.b"), Map.of()));
        assertTrue(e.getMessage().contains("wwid:naa.a") && e.getMessage().contains("wwid:naa.b"), e.getMessage());
        assertFalse(mounted("disk"));
        assertEquals(before, sha256(imgB));
        // the same disk under another kernel name (its identity moves with it) mounts
        try (Datastore ds = fs.mount("disk", new TestDevice("wwn-0xa", Path.of(loopB), "wwid:naa.a"), Map.of())) {
            assertArrayEquals("{}".getBytes(StandardCharsets.UTF_8), ds.readAll(".strata-catalog"));
        }
        detachLoop(loopB);
    }

    @Test
    void recordsAreParsedLeniently() {
        String text = DeviceRecord.text("wwid:naa.600140512345678", "san/lun1");
        assertTrue(text.startsWith("# Strata"));
        assertEquals(Optional.of("wwid:naa.600140512345678"), DeviceRecord.identityIn(text));
        assertEquals("san/lun1", DeviceRecord.deviceIn(text));
        assertEquals(Optional.empty(), DeviceRecord.identityIn("garbage\n"));
        assertEquals(Optional.empty(), DeviceRecord.identityIn("identity=\n"));
        assertEquals("?", DeviceRecord.deviceIn(""));
    }
}
