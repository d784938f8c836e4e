package io.strata.fc.internal;

import static io.strata.fc.internal.FakeSysfs.lun;
import static io.strata.fc.internal.FcPathTest.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.device.BlockDevice;
import io.strata.api.device.PathInfo;
import io.strata.api.device.StorageResource;
import io.strata.posix.Posix;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real block device nodes: two loop devices on one backing file play two paths to one LUN
 * (root only; skipped elsewhere). The sysfs tree is still fake, its disks named loopN.
 */
class LoopDeviceTest {
    static final long SIZE = 16L << 20;

    @TempDir(factory = TargetTempDirs.class)
    Path tmp;
    final List<String> loops = new ArrayList<>();

    @AfterEach
    void detach() throws Exception {
        for (String l : loops) {
            run("losetup", "-d", l);
        }
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            return null;
        }
        return out;
    }

    @Test
    void twoLoopDevicesOnOneFileAreTwoPaths() throws Exception {
        assumeTrue(Posix.isRoot(), "needs root for losetup");
        Path backing = tmp.resolve("lun.img");
        try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        for (int i = 0; i < 2; i++) {
            String l = run("losetup", "-f", "--show", backing.toString());
            assumeTrue(l != null && l.startsWith("/dev/loop"), "losetup works here");
            loops.add(l);
        }
        FakeSysfs fake = new FakeSysfs(tmp.resolve("root"), Path.of("/dev"));
        fake.addHost(3, FcSysfsTest.HBA3).addHost(5, FcSysfsTest.HBA5);
        fake.addRport(3, 0, 0, 0, FcSysfsTest.TGT_A, "FCP Target");
        fake.addRport(5, 0, 0, 0, FcSysfsTest.TGT_B, "FCP Target");
        String wwid = "naa.600a0b800026d63a0000a4c84e6dc3c0";
        fake.addLun(lun("3:0:0:0", Path.of(loops.get(0)).getFileName().toString()).existingNode().wwid(wwid)
                .size(SIZE));
        fake.addLun(lun("5:0:0:0", Path.of(loops.get(1)).getFileName().toString()).existingNode().wwid(wwid)
                .size(SIZE));
        Map<String, String> p = new HashMap<>(fake.params());
        p.put("checker-interval", "3600");
        try (StorageResource r = new FcDriver().attach("san1", p)) {
            assertEquals(List.of("host3:0:0:0", "host5:0:0:0"), r.paths().stream().map(PathInfo::id).toList());
            byte[] data = random(1 << 20, 5);
            try (BlockDevice d = (BlockDevice) r.openDevice(wwid)) {
                assertEquals(SIZE, d.size());
                d.write(ByteBuffer.wrap(data), 1 << 20);
                d.flush();
                for (ScsiPath sp : new FcSysfs(fake.sys(), fake.dev()).discover(Set.of()).paths()) {
                    try (FcPath path = new FcPath(sp)) {
                        assertTrue(path.uncached());
                        assertArrayEquals(data, FcPathTest.read(path, 1 << 20, data.length), sp.id());
                        assertTrue(path.canUnmap(), "discard_max_bytes says so");
                        path.check();
                    }
                }
                d.unmap(1 << 20, 1 << 20);
                d.flush();
                ByteBuffer back = ByteBuffer.allocate(4096);
                d.read(back, 1 << 20);
                assertArrayEquals(new byte[4096], back.array(), "BLKDISCARD on a loop device zeroes the range");
            }
        }
    }
}
