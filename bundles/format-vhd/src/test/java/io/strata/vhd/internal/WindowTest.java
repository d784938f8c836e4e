package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.FileWindow;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtualDisk#window}: offered only where a write is a plain store into this image's
 * file (a dynamic disk's allocated block, a fixed disk's data), and what is put into it reads
 * back as written, in an image that checks clean.
 */
class WindowTest {
    private static final int MIB = 1 << 20;
    private final VhdFormat format = new VhdFormat();
    private final MemoryStore store = new MemoryStore();

    private static void put(VirtualDisk d, long offset, byte[] data) {
        try (FileWindow w = d.window(offset, data.length).orElseThrow()) {
            w.buffer().put(data);
        }
    }

    @Test
    void aDynamicDiskOffersWindowsInsideAllocatedBlocksOnly() {
        MemoryFile file = store.create("d.vhd");
        try (VirtualDisk d = format.create(file, new DiskSpec(16L * MIB, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(DifferencingTest.pattern(4 * MIB, 1)), 0); // blocks 0 and 1 allocated
            byte[] data = DifferencingTest.pattern(MIB, 2);
            put(d, MIB / 2 + 512, data);
            assertEquals(1, file.windows());
            assertArrayEquals(data, DifferencingTest.read(d, MIB / 2 + 512, MIB));

            assertEquals(Optional.empty(), d.window(8L * MIB, 4096), "unallocated: the write allocates");
            assertEquals(Optional.empty(), d.window(2L * MIB - 4096, 8192), "across two blocks");
            StorageException e = assertThrows(StorageException.class, () -> d.window(16L * MIB - 10, 11));
            assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
            assertEquals(1, file.windows());
        }
        assertEquals(List.of(), format.check(file, store, false).errors());
        try (VirtualDisk d = format.open(file, true)) {
            StorageException e = assertThrows(StorageException.class, () -> d.window(0, 4096));
            assertEquals(ErrorCode.READ_ONLY, e.code());
        }
    }

    @Test
    void aDifferencingDiskOffersNone() {
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(8L * MIB, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(DifferencingTest.pattern(4 * MIB, 3)), 0);
        }
        MemoryFile child = store.create("c.vhd");
        try (VirtualDisk c = format.createChild(child, "p.vhd", store)) {
            c.write(ByteBuffer.wrap(DifferencingTest.pattern(2 * MIB, 4)), 0); // allocated in the child too
            assertEquals(Optional.empty(), c.window(0, MIB));
            StorageException e = assertThrows(StorageException.class, () -> c.window(8L * MIB, 1));
            assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
            assertEquals(0, child.windows());
        }
    }

    @Test
    void aFixedDiskOffersItsData() {
        MemoryFile file = store.create("f.vhd");
        try (VirtualDisk f = format.create(file, new DiskSpec(4L * MIB, Provisioning.THICK))) {
            f.write(ByteBuffer.wrap(DifferencingTest.pattern(4 * MIB, 5)), 0);
            byte[] data = DifferencingTest.pattern(MIB, 6);
            put(f, MIB + 512, data);
            assertArrayEquals(data, DifferencingTest.read(f, MIB + 512, MIB));
            assertThrows(StorageException.class, () -> f.window(4L * MIB - 1, 2), "not into the footer");
        }
        assertEquals(List.of(), format.check(file, store, false).errors());
    }
}
