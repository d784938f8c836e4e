package io.strata.itests;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;

/**
 * A known pattern written into a volume through {@link VolumeService#open} and checked
 * again later: seeded random 64 KiB chunks at a few offsets spread over the disk (start,
 * a VHD block boundary, unaligned, the last chunk), and a region never written that must
 * read as zeros. Used inside the Pax Exam container.
 */
final class VolumeData {
    static final int CHUNK = 64 * 1024;

    private VolumeData() {
    }

    /**
     * Offsets for a disk of that size, at least 8 MiB: the start, across the first 2 MiB
     * VHD block boundary, unaligned in the middle, the last chunk at the very end.
     */
    static long[] offsets(long size) {
        if (size < 8L << 20) {
            throw new IllegalArgumentException("pattern needs at least 8 MiB");
        }
        return new long[] {0, (2L << 20) - 4096, size / 2 + 1234, size - CHUNK};
    }

    /** A region that {@link #offsets} never touches. */
    static long hole(long size) {
        return size / 4 + (512L << 10);
    }

    static byte[] chunk(String name, int i) {
        byte[] data = new byte[CHUNK];
        new Random(name.hashCode() * 31L + i).nextBytes(data);
        return data;
    }

    /** Writes the volume's pattern and flushes. */
    static void write(VolumeService volumes, VolumeRef ref, long size) {
        try (VirtualDisk disk = volumes.open(ref, false)) {
            long[] offsets = offsets(size);
            for (int i = 0; i < offsets.length; i++) {
                disk.write(ByteBuffer.wrap(chunk(ref.toString(), i)), offsets[i]);
            }
            disk.flush();
        }
    }

    /** Checks the volume's pattern and that the untouched region reads as zeros. */
    static void check(VolumeService volumes, VolumeRef ref, long size) {
        try (VirtualDisk disk = volumes.open(ref, true)) {
            check(disk, ref, size);
        }
    }

    static void check(VirtualDisk disk, VolumeRef ref, long size) {
        assertEquals(ref + " virtual size", size, disk.virtualSize());
        long[] offsets = offsets(size);
        for (int i = 0; i < offsets.length; i++) {
            ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
            disk.read(buffer, offsets[i]);
            assertArrayEquals(ref + " data at " + offsets[i], chunk(ref.toString(), i), buffer.array());
        }
        ByteBuffer hole = ByteBuffer.allocate(4096);
        disk.read(hole, hole(size));
        assertArrayEquals(ref + " never-written region", new byte[4096], hole.array());
    }

    /** Asserts that the call fails with that code. */
    static void assertFails(ErrorCode code, String what, Runnable call) {
        try {
            call.run();
            fail(what + " should have failed with " + code);
        } catch (StorageException e) {
            assertEquals(what + ": " + e.toUserString(), code, e.code());
        }
    }

    /** SHA-256 of a file, to show an image was not touched. */
    static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0;) {
                md.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new AssertionError("cannot hash " + file, e);
        }
    }
}
