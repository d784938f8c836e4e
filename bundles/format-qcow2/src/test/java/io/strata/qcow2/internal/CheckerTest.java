package io.strata.qcow2.internal;

import static io.strata.qcow2.internal.DamagedImageTest.l1Offset;
import static io.strata.qcow2.internal.DamagedImageTest.l2Offset;
import static io.strata.qcow2.internal.DamagedImageTest.putInt;
import static io.strata.qcow2.internal.DamagedImageTest.putLong;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every corruption the checker knows is injected and must be found; repair fixes what is safe to fix. */
class CheckerTest {
    private static final int CS = 65536;
    private final Qcow2Format format = new Qcow2Format();

    private static long dataOffset(MemoryFile f) {
        return Entries.offset(ByteBuffer.wrap(f.peek(l2Offset(f), 8)).getLong());
    }

    /** Sets the refcount of the cluster at {@code offset} in the first refcount block. */
    private static void setRefcount(MemoryFile f, long offset, int value) {
        long block = ByteBuffer.wrap(f.peek(CS, 8)).getLong();
        f.poke(block + 2 * (offset / CS), new byte[] {(byte) (value >> 8), (byte) value});
    }

    private static String all(CheckReport r) {
        return String.join("\n", r.errors()) + "\n" + String.join("\n", r.leaks());
    }

    @Test
    void cleanImagesAreClean() {
        for (Provisioning p : Provisioning.values()) {
            MemoryFile f = new MemoryFile("c.qcow2");
            try (VirtualDisk d = format.create(f, new DiskSpec(100L << 20, p))) {
                d.write(ByteBuffer.wrap(new byte[100_000]), 12345);
                d.writeZeroes(1 << 20, 1 << 20);
                d.trim(5 << 20, 3 << 20);
                d.resize(900L << 20);
            }
            CheckReport r = format.check(f, null, false);
            assertTrue(r.clean(), p + ": " + r);
            assertEquals(0, r.leakedBytes());
        }
    }

    static Arguments c(String name, String expected, boolean repairable, Consumer<MemoryFile> how) {
        return Arguments.of(name, expected, repairable, how);
    }

    static Stream<Arguments> corruptions() {
        return Stream.of(
                c("refcount too low", "has refcount 0 but is referenced 1 time", true,
                        f -> setRefcount(f, dataOffset(f), 0)),
                c("refcount of an L2 table too low", "has refcount 0 but is referenced 1 time", true,
                        f -> setRefcount(f, l2Offset(f), 0)),
                c("cluster referenced twice", "is referenced 2 times", false,
                        f -> putLong(f, l2Offset(f) + 8, Entries.normal(dataOffset(f)))),
                c("L2 entry past EOF", "lies past the end of the file", false,
                        f -> putLong(f, l2Offset(f) + 8, Entries.normal(1L << 40))),
                c("L2 entry unaligned", "is not cluster-aligned", false,
                        f -> putLong(f, l2Offset(f), Entries.normal(dataOffset(f) + 512))),
                c("L1 entry past EOF", "L2 table of L1 entry 0 at", false,
                        f -> putLong(f, l1Offset(f), Entries.normal(1L << 40))),
                c("L1 reserved bits", "reserved bits", false,
                        f -> putLong(f, l1Offset(f), Entries.normal(l2Offset(f)) | 2)),
                c("COPIED flag missing", "COPIED flag clear but refcount 1", true,
                        f -> putLong(f, l2Offset(f), dataOffset(f))),
                c("refcount table entry past EOF", "refcount block 0 at", false,
                        f -> putLong(f, CS, 1L << 40)),
                c("bad magic", "bad magic", false, f -> putInt(f, 0, 0)),
                c("dirty bit", "marked dirty", true, f -> putLong(f, 72, Qcow2.INCOMPAT_DIRTY)),
                c("compressed cluster", "compressed", false, f -> putLong(f, l2Offset(f), Entries.COMPRESSED | 4096)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptions")
    void corruptionIsFound(String name, String expected, boolean repairable, Consumer<MemoryFile> how) {
        MemoryFile f = DamagedImageTest.image();
        how.accept(f);
        CheckReport r = format.check(f, null, false);
        assertFalse(r.errors().isEmpty(), name + ": " + r);
        assertTrue(all(r).contains(expected), name + ": " + all(r));
        assertEquals(0, f.mutations(), "check without repair writes nothing");
        CheckReport fixed = format.check(f, null, true);
        if (repairable) {
            assertTrue(fixed.clean(), name + " after repair: " + fixed);
            assertFalse(fixed.repaired().isEmpty());
            try (VirtualDisk d = format.open(f, false)) {
                byte[] b = new byte[3];
                d.read(ByteBuffer.wrap(b), 0);
                assertArrayEquals(new byte[] {1, 2, 3}, b, "data survives the repair");
            }
        } else {
            assertFalse(fixed.errors().isEmpty(), name + " is not repairable: " + fixed);
        }
    }

    @Test
    void leaksAreLeaksAndRepairFreesThem() {
        MemoryFile f = DamagedImageTest.image();
        long end = f.size();
        f.poke(end, new byte[CS]); // a cluster past the old end...
        setRefcount(f, end, 1);   // ...counted but never referenced
        setRefcount(f, end + 5L * CS, 2); // and a refcount past the end of the file
        CheckReport r = format.check(f, null, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        assertEquals(2, r.leaks().size(), r.toString());
        assertEquals(CS, r.leakedBytes());
        CheckReport fixed = format.check(f, null, true);
        assertTrue(fixed.clean(), fixed.toString());
        assertEquals(List.of("freed 2 leaked cluster(s)"), fixed.repaired());
    }

    @Test
    void missingBackingFileIsAnError() {
        Fixtures.MemoryStore store = new Fixtures.MemoryStore();
        MemoryFile base = store.file("base.qcow2");
        format.create(base, new DiskSpec(1 << 20, Provisioning.THIN)).close();
        MemoryFile child = store.file("child.qcow2");
        format.createChild(child, "base.qcow2", store).close();
        assertTrue(format.check(child, store, false).clean());
        store.files.remove("base.qcow2");
        CheckReport r = format.check(child, store, false);
        assertTrue(all(r).contains("backing file 'base.qcow2'"), all(r));
        assertTrue(format.check(child, null, false).clean(), "without a resolver the link is not checked");
    }
}
