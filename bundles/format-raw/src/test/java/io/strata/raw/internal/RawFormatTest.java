package io.strata.raw.internal;

import io.strata.testing.MemoryFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class RawFormatTest {
    private final RawFormat format = new RawFormat();

    @Test
    void declaresItself() {
        assertEquals("raw", format.type());
        assertEquals(EnumSet.of(Capability.THIN, Capability.THICK, Capability.THICK_LAZY, Capability.RESIZE),
                format.capabilities());
        MemoryFile f = new MemoryFile("x.raw");
        f.poke(0, new byte[4096]);
        assertFalse(format.recognizes(f), "raw has no magic");
    }

    @Test
    void sizeRules() {
        assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("a"), new DiskSpec(0, Provisioning.THIN))).code());
        StorageException e = assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("a"), new DiskSpec(513, Provisioning.THIN)));
        assertEquals(ErrorCode.INVALID_SIZE, e.code());
        assertEquals("disk sizes are whole 512-byte sectors; 513 bytes is not (use 512 or 1024)", e.getMessage());
    }

    @Test
    void probeAcceptsPositiveSectorMultiplesOnly() {
        MemoryFile good = new MemoryFile("g.raw");
        good.poke(0, new byte[1024]);
        assertEquals(1024, format.probe(good).virtualSize());
        MemoryFile empty = new MemoryFile("e.raw");
        StorageException e = assertThrows(StorageException.class, () -> format.probe(empty));
        assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
        assertTrue(e.getMessage().contains("'e.raw' is empty"), e.getMessage());
        MemoryFile odd = new MemoryFile("o.raw");
        odd.poke(0, new byte[1000]);
        e = assertThrows(StorageException.class, () -> format.open(odd, true));
        assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
        assertTrue(e.getMessage().contains("1000 bytes, not a whole number of 512-byte sectors"), e.getMessage());
        assertEquals(0, odd.mutations());
    }

    @ParameterizedTest
    @EnumSource(Provisioning.class)
    void createWriteGrowReopen(Provisioning p) {
        MemoryFile f = new MemoryFile("d.raw");
        byte[] data = new byte[100_000];
        new Random(1).nextBytes(data);
        try (VirtualDisk d = format.create(f, new DiskSpec(1 << 20, p))) {
            assertEquals(1 << 20, f.size());
            if (p == Provisioning.THIN) {
                assertEquals(0, f.allocatedBytes());
            } else if (p == Provisioning.THICK) {
                assertEquals(1 << 20, f.allocatedBytes());
            }
            d.write(ByteBuffer.wrap(data), 12345);
            d.resize(3 << 20);
            assertEquals(3 << 20, f.size());
            assertEquals(List.of(new Extent(0, 3 << 20, true, false)), d.blockStatus(0, 3 << 20));
            assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class, () -> d.resize(1 << 20)).code());
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.allocate(2), (3 << 20) - 1)).code());
        }
        try (VirtualDisk d = format.open(f, true)) {
            assertEquals(3 << 20, d.virtualSize());
            ByteBuffer b = ByteBuffer.allocate(data.length);
            d.read(b, 12345);
            assertArrayEquals(data, b.array());
            ByteBuffer z = ByteBuffer.allocate(4096);
            d.read(z, (3 << 20) - 4096);
            assertArrayEquals(new byte[4096], z.array());
            assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.allocate(1), 0)).code());
        }
    }

    @Test
    void thickLazyWithoutAllocateIsAClearError() {
        StorageException e = assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("l.raw").withoutAllocate(), new DiskSpec(1 << 20, Provisioning.THICK_LAZY)));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertTrue(e.getMessage().contains("thick-lazy is not available"), e.getMessage());
    }
}
