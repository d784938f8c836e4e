package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each kind of damage: probe and open (read-only and writable) fail with CORRUPT_IMAGE and
 * a message naming the problem, and nothing is written to the file.
 */
class DamagedImageTest {
    private static final int CS = 65536;

    /** A thin image with data in two L2 tables, as Strata writes it. */
    static MemoryFile image() {
        MemoryFile f = new MemoryFile("bad.qcow2");
        try (VirtualDisk d = new Qcow2Format().create(f, new DiskSpec(2L << 30, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
            d.write(ByteBuffer.wrap(new byte[] {4, 5, 6}), 1L << 30);
        }
        return f;
    }

    static long l1Offset(MemoryFile f) {
        return ByteBuffer.wrap(f.peek(40, 8)).getLong();
    }

    static long l2Offset(MemoryFile f) {
        return Entries.offset(ByteBuffer.wrap(f.peek(l1Offset(f), 8)).getLong());
    }

    static void putInt(MemoryFile f, long at, int v) {
        f.poke(at, ByteBuffer.allocate(4).putInt(v).array());
    }

    static void putLong(MemoryFile f, long at, long v) {
        f.poke(at, ByteBuffer.allocate(8).putLong(v).array());
    }

    static Arguments damage(String name, String expected, Consumer<MemoryFile> how) {
        return Arguments.of(name, expected, how);
    }

    static Stream<Arguments> damages() {
        return Stream.of(
                damage("bad magic", "bad magic", f -> putInt(f, 0, 0x12345678)),
                damage("version 2", "version 2", f -> putInt(f, 4, 2)),
                damage("version 4", "unknown qcow2 version 4", f -> putInt(f, 4, 4)),
                damage("unknown incompatible bit", "unknown incompatible feature bits 0x400",
                        f -> putLong(f, 72, 1L << 10)),
                damage("extended L2", "extended L2 entries", f -> putLong(f, 72, Qcow2.INCOMPAT_EXTL2)),
                damage("external data file", "external data file", f -> putLong(f, 72, Qcow2.INCOMPAT_DATA_FILE)),
                damage("cluster_bits 8", "cluster_bits 8 is out of range", f -> putInt(f, 20, 8)),
                damage("cluster_bits 22", "cluster_bits 22 is out of range", f -> putInt(f, 20, 22)),
                damage("encrypted", "encrypted", f -> putInt(f, 32, 2)),
                damage("refcount order", "refcount_order 3", f -> putInt(f, 96, 3)),
                damage("header length", "header_length 100", f -> putInt(f, 100, 100)),
                damage("truncated", "too short", f -> f.setSize(50)),
                damage("backing name outside", "backing file name", f -> {
                    putLong(f, 8, CS - 4);
                    putInt(f, 16, 10);
                }),
                damage("L1 offset unaligned", "L1 table offset", f -> putLong(f, 40, l1Offset(f) + 512)),
                damage("L1 past EOF", "L1 table", f -> putLong(f, 40, 1L << 40)),
                damage("L1 too small", "cannot map the virtual size", f -> putInt(f, 36, 1)),
                damage("L1 too large", "L1 table size", f -> putInt(f, 36, 5_000_000)),
                damage("L1 entry past EOF", "L1 entry 0 points to", f -> putLong(f, l1Offset(f),
                        Entries.normal(1L << 40))),
                damage("L1 entry unaligned", "not cluster-aligned", f -> putLong(f, l1Offset(f),
                        Entries.normal(l2Offset(f) + 4096))),
                damage("L1 entry into refcount table", "points into the refcount table",
                        f -> putLong(f, l1Offset(f), Entries.normal(CS))),
                damage("L2 entry past EOF", "L2 entry for guest offset 65536 points to",
                        f -> putLong(f, l2Offset(f) + 8, Entries.normal(1L << 40))),
                damage("L2 entry unaligned", "not cluster-aligned",
                        f -> putLong(f, l2Offset(f), Entries.normal(3 * CS + 512))),
                damage("compressed cluster", "compressed", f -> putLong(f, l2Offset(f), Entries.COMPRESSED | 4096)),
                damage("refcount table offset past EOF", "refcount table", f -> putLong(f, 48, 1L << 40)),
                damage("refcount table offset unaligned", "refcount table offset", f -> putLong(f, 48, CS + 8)),
                damage("refcount table entry past EOF", "refcount table entry 0",
                        f -> putLong(f, CS, 1L << 40)),
                damage("refcount table entry unaligned", "refcount table entry 0",
                        f -> putLong(f, CS, 2L * CS + 100 * 512)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("damages")
    void damageIsReportedAndNothingIsWritten(String name, String expected, Consumer<MemoryFile> how) {
        MemoryFile f = image();
        how.accept(f);
        int mutations = f.mutations(); // poke resets it; setSize (truncation) counts one
        byte[] before = f.bytes();
        for (StorageException e : refusedEverywhere(new Qcow2Format(), f)) {
            assertTrue(e.getMessage().contains(expected), name + ": " + e.getMessage());
            assertTrue(e.getMessage().startsWith("qcow2 image 'bad.qcow2' "), e.getMessage());
        }
        assertEquals(mutations, f.mutations(), "nothing written");
        assertEquals(before.length, f.bytes().length);
        assertTrue(Arrays.equals(before, f.bytes()));
    }

    /** @return the CORRUPT_IMAGE refusals of probe, a read-only and a writable open, in that order */
    static List<StorageException> refusedEverywhere(Qcow2Format format, MemoryFile f) {
        List<StorageException> refusals = new ArrayList<>();
        for (int mode = 0; mode < 3; mode++) {
            int m = mode;
            StorageException e = assertThrows(StorageException.class, () -> {
                switch (m) {
                    case 0 -> format.probe(f);
                    case 1 -> format.open(f, true).close();
                    default -> format.open(f, false).close();
                }
            }, "mode " + mode);
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            refusals.add(e);
        }
        return refusals;
    }
}
