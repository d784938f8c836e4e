package io.strata.qcow2.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;

/** Shared by the fuzz targets: the image under test in memory, and one parent for any backing name. */
final class FuzzImages {
    /** Reads and block-status queries cover at most this much of a (possibly huge) virtual size. */
    static final long SPAN = 4L << 20;

    private static final MemoryFile PARENT = parent();

    private FuzzImages() {
    }

    private static MemoryFile parent() {
        MemoryFile f = new MemoryFile("parent.qcow2");
        try (VirtualDisk d = new Qcow2Format().create(f, new DiskSpec(1L << 20, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(new byte[] {9, 8, 7, 6}), 4096);
        }
        return f;
    }

    /** The fuzz input as an image file (writable). */
    static MemoryFile file(byte[] image) {
        MemoryFile f = new MemoryFile("fuzz.qcow2");
        f.poke(0, image);
        return f;
    }

    /** Every backing name resolves to a small valid qcow2 parent (read-only); "missing" to none. */
    static final BackingResolver RESOLVER = new BackingResolver() {
        @Override
        public DatastoreFile openBacking(String fileName) {
            if (fileName.startsWith("missing")) {
                throw new StorageException(ErrorCode.CHAIN_BROKEN, "no file '" + fileName + "'");
            }
            return PARENT.readOnlyCopy();
        }
    };

    /** Block status and a few reads near the start, the middle and the end of the disk. */
    static void exercise(VirtualDisk d) {
        long size = d.virtualSize();
        long span = Math.min(size, SPAN);
        d.blockStatus(0, span);
        d.layerStatus(size - span, span);
        d.blockStatus(size / 2 / 512 * 512, Math.min(span, size - size / 2 / 512 * 512));
        for (long at : new long[] {0, size / 3, size - 1, Math.max(0, size - 70_000)}) {
            int n = (int) Math.min(70_000, size - at);
            d.read(ByteBuffer.allocate(n), at);
        }
    }
}
