package io.strata.itests;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.inject.Inject;
import org.junit.After;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;

/**
 * Disk chains through the storage: commands of the real distribution: snapshots taken
 * while data is written through {@link VolumeService#open}, listed, deleted (the root one,
 * so its child is merged and rebased), reverted, linked clones over a protected base, and
 * the checker. qcow2 chains are verified by qemu-img itself (compare against the expected
 * bytes, check for errors and leaks) on every image of the chain; VHD chains, which qemu
 * cannot read as differencing disks, through Strata's own read path.
 */
public class SnapshotIT extends StrataTestSupport {
    private static final long SIZE = 16L << 20;

    @Inject
    protected VolumeService volumes;

    @Inject
    protected io.strata.api.service.SnapshotService snapshots;

    @Before
    public void localIsOnline() {
        awaitDatastore("local", "ONLINE");
    }

    /** Writes {@code len} random bytes at {@code off} into the volume and into {@code model}. */
    private void write(String volume, byte[] model, int off, int len, int seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        try (VirtualDisk d = volumes.open(VolumeRef.parse(volume), false)) {
            d.write(ByteBuffer.wrap(b), off);
            d.flush();
        }
        System.arraycopy(b, 0, model, off, len);
    }

    private byte[] read(String volume) {
        ByteBuffer b = ByteBuffer.allocate((int) SIZE);
        try (VirtualDisk d = volumes.open(VolumeRef.parse(volume), true)) {
            d.read(b, 0);
        }
        return b.array();
    }

    /** qemu-img compare of a qcow2 image (with its backing chain) against the expected bytes, and check. */
    private static void qemuAgrees(Path image, byte[] expected, Path scratch) throws Exception {
        Path raw = scratch.resolve(image.getFileName() + ".expected.raw");
        Files.write(raw, expected);
        String cmp = HostTools.run(List.of("qemu-img", "compare", "-U", "-f", "qcow2", "-F", "raw",
                image.toString(), raw.toString()));
        assertTrue(image + ": " + cmp, cmp.contains("Images are identical"));
        String check = HostTools.run(List.of("qemu-img", "check", "-U", "-f", "qcow2", image.toString()));
        assertTrue(image + ": " + check, check.contains("No errors were found"));
        assertFalse(image + ": " + check, check.contains("leaked"));
        Files.delete(raw);
    }

    /** The raw images qemu-img writes for comparison; removed after the test. */
    private Path scratch;

    @After
    public void removeScratch() throws Exception {
        if (scratch != null) {
            HostTools.deleteTree(scratch);
        }
    }

    @Test
    public void qcow2ChainIsWhatQemuReads() throws Exception {
        Assume.assumeTrue("qemu-img is needed (./strata test installs qemu-utils)", HostTools.has("qemu-img"));
        scratch = Files.createTempDirectory("snapshot-it");
        ok("storage:volume-create --format qcow2 local q 16M");
        Path dir = Path.of(keyValues(ok("storage:volume-info local/q")).get("path")).getParent();
        byte[] a = new byte[(int) SIZE];
        write("local/q", a, 0, 6 << 20, 1);
        Map<String, String> s1 = keyValues(ok("storage:snapshot-create local/q s1"));
        assertEquals("s1", s1.get("name"));
        assertEquals("", s1.getOrDefault("parent", ""));
        byte[] b = a.clone();
        write("local/q", b, (4 << 20) + 512, 5 << 20, 2);
        Map<String, String> s2 = keyValues(ok("storage:snapshot-create local/q s2"));
        assertEquals("s1", s2.get("parent"));
        byte[] c = b.clone();
        write("local/q", c, (int) SIZE - 70_000, 70_000, 3);

        String tree = ok("storage:snapshot-list local/q");
        assertTrue(tree, tree.contains("s1") && tree.contains("s2") && tree.contains("(current)"));
        String current = keyValues(ok("storage:volume-info local/q")).get("file");
        qemuAgrees(dir.resolve(s1.get("file")), a, scratch);
        qemuAgrees(dir.resolve(s2.get("file")), b, scratch);
        qemuAgrees(dir.resolve(current), c, scratch);

        // Deleting the root snapshot: s2 holds less than s1, so s2 is committed into s1's image,
        // which then is s2, with no parent; s2's old image goes.
        assertEquals("Snapshot s1 of local/q deleted", ok("storage:snapshot-delete local/q s1").trim());
        List<io.strata.api.service.SnapshotInfo> left = snapshots.list(VolumeRef.parse("local/q"));
        assertEquals(1, left.size());
        assertEquals("s2", left.get(0).name());
        assertEquals("", left.get(0).parent());
        String s2File = left.get(0).file();
        assertEquals(s1.get("file"), s2File);
        assertFalse(Files.exists(dir.resolve(s2.get("file"))));
        String base = HostTools.run(List.of("qemu-img", "info", "-U", "--output=json",
                dir.resolve(s2File).toString()));
        assertFalse(base, base.contains("backing-filename"));
        qemuAgrees(dir.resolve(s2File), b, scratch);
        qemuAgrees(dir.resolve(current), c, scratch);
        assertArrayEquals(c, read("local/q"));

        // A linked clone of s2 shares it; the base cannot go while the clone needs it.
        Map<String, String> clone = keyValues(ok("storage:volume-clone --linked local/q@s2 local qc"));
        assertEquals("qc", clone.get("name"));
        byte[] d = b.clone();
        write("local/qc", d, 1 << 20, 1 << 20, 4);
        assertArrayEquals(d, read("local/qc"));
        assertArrayEquals(c, read("local/q"));
        String refused = error("storage:volume-delete local/q");
        assertTrue(refused, refused.startsWith("VOLUME_IN_USE") && refused.contains("qc"));
        String refusedSnap = error("storage:snapshot-delete local/q s2");
        assertTrue(refusedSnap, refusedSnap.startsWith("VOLUME_IN_USE") && refusedSnap.contains("qc"));
        qemuAgrees(dir.resolve(keyValues(ok("storage:volume-info local/qc")).get("file")), d, scratch);

        // Revert: the volume reads as s2 again; the clone is untouched.
        assertEquals("Volume local/q reverted to snapshot s2", ok("storage:snapshot-revert local/q s2").trim());
        assertArrayEquals(b, read("local/q"));
        assertArrayEquals(d, read("local/qc"));
        qemuAgrees(dir.resolve(keyValues(ok("storage:volume-info local/q")).get("file")), b, scratch);

        ok("storage:volume-check local/q");
        ok("storage:volume-delete local/qc");
        ok("storage:volume-delete local/q");
        try (var files = Files.list(dir)) {
            assertTrue("images left behind", files.noneMatch(p -> p.getFileName().toString().startsWith("q")));
        }
    }

    @Test
    public void vhdSnapshotsOfEveryPositionCanBeDeleted() {
        ok("storage:volume-create local v 16M");
        byte[][] states = new byte[4][];
        byte[] model = new byte[(int) SIZE];
        for (int i = 0; i < 3; i++) {
            write("local/v", model, i * (3 << 20) + 4096, 4 << 20, 10 + i);
            states[i] = model.clone();
            ok("storage:snapshot-create local/v s" + i);
        }
        write("local/v", model, 700, 3000, 20);
        states[3] = model.clone();
        assertEquals("Snapshot s1 of local/v deleted", ok("storage:snapshot-delete local/v s1").trim());
        assertArrayEquals(states[3], read("local/v"));
        assertEquals("Snapshot s0 of local/v deleted", ok("storage:snapshot-delete local/v s0").trim());
        assertArrayEquals(states[3], read("local/v"));
        assertEquals("Volume local/v reverted to snapshot s2", ok("storage:snapshot-revert local/v s2").trim());
        assertArrayEquals(states[2], read("local/v"));
        String tree = ok("storage:snapshot-list local/v");
        assertTrue(tree, tree.contains("s2") && !tree.contains("s0") && !tree.contains("s1"));
        assertEquals("Snapshot s2 of local/v deleted", ok("storage:snapshot-delete local/v s2").trim());
        assertArrayEquals(states[2], read("local/v"));
        String check = ok("storage:volume-check local/v");
        assertFalse(check, check.contains("error:"));
        assertTrue(check, check.contains("Checked "));
        assertTrue(error("storage:snapshot-create local/v ../x").startsWith("INVALID_NAME"));
        ok("storage:volume-delete local/v");
    }
}
