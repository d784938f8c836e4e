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
import io.strata.api.fs.FileSlice;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtualDisk#slice}: a range is sliced only when one file holds all of it in one
 * run, the slice sends what {@code read} returns, and it comes from the right file of the
 * chain (this image where its sectors are present, the parent where they are absent).
 */
class SliceTest {
    private static final int MIB = 1 << 20;
    private final VhdFormat format = new VhdFormat();
    private final MemoryStore store = new MemoryStore();

    private static byte[] sent(Optional<FileSlice> s) throws Exception {
        assertTrue(s.isPresent(), "sliced");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (FileSlice f = s.get()) {
            f.transferTo(Channels.newChannel(out));
        }
        return out.toByteArray();
    }

    @Test
    void dynamicAndDifferencingDisksSliceWhatOneFileHolds() throws Exception {
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(16L * MIB, Provisioning.THIN))) {
            p.write(java.nio.ByteBuffer.wrap(DifferencingTest.pattern(3 * MIB, 1)), 0);
            assertArrayEquals(DifferencingTest.read(p, 0, MIB), sent(p.slice(0, MIB)));
            assertArrayEquals(DifferencingTest.read(p, 2L * MIB + 512, 4096), sent(p.slice(2L * MIB + 512, 4096)));
            assertEquals(Optional.empty(), p.slice(5L * MIB, 4096), "unallocated: zeros, no file to send");
            assertEquals(Optional.empty(), p.slice(MIB + MIB / 2, MIB), "across two blocks");
            StorageException e = assertThrows(StorageException.class, () -> p.slice(16L * MIB - 10, 11));
            assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        }
        try (VirtualDisk c = format.createChild(store.create("c.vhd"), "p.vhd", store)) {
            c.write(java.nio.ByteBuffer.wrap(DifferencingTest.pattern(4096, 2)), 2L * MIB + 8192);
            int child = store.get("c.vhd").slices();
            // present in the child
            assertArrayEquals(DifferencingTest.read(c, 2L * MIB + 8192, 4096), sent(c.slice(2L * MIB + 8192, 4096)));
            assertEquals(child + 1, store.get("c.vhd").slices());
            // absent in the child's allocated block: the parent's
            assertArrayEquals(DifferencingTest.read(c, 2L * MIB, 8192), sent(c.slice(2L * MIB, 8192)));
            // a block the child never wrote: the parent's
            assertArrayEquals(DifferencingTest.read(c, 0, MIB), sent(c.slice(0, MIB)));
            assertEquals(child + 1, store.get("c.vhd").slices(), "those two came from the parent's file");
            assertEquals(Optional.empty(), c.slice(2L * MIB + 4096, 8192), "half here, half in the parent");
            assertEquals(Optional.empty(), c.slice(8L * MIB, MIB), "nowhere in the chain: zeros");
        }
    }

    @Test
    void aFixedDiskSlicesItsData() throws Exception {
        try (VirtualDisk f = format.create(store.create("f.vhd"), new DiskSpec(4L * MIB, Provisioning.THICK))) {
            f.write(java.nio.ByteBuffer.wrap(DifferencingTest.pattern(MIB, 3)), MIB + 512);
            assertArrayEquals(DifferencingTest.read(f, MIB, 2 * MIB), sent(f.slice(MIB, 2 * MIB)));
            assertThrows(StorageException.class, () -> f.slice(4L * MIB - 1, 2));
        }
    }
}
