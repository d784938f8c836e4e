package io.strata.core.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Extent;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A trivial disk format. "tst": a 512-byte header (magic, virtual size,
 * provisioning) then the data. "raw": no header, the file is the disk.
 */
final class TestFormat implements DiskFormat {
    static final byte[] MAGIC = "STRATTST".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER = 512;

    private final String type;
    private final boolean header;
    private final long max;

    private TestFormat(String type, boolean header, long max) {
        this.type = type;
        this.header = header;
        this.max = max;
    }

    static TestFormat tst() {
        return new TestFormat("tst", true, 1L << 40);
    }

    static TestFormat raw() {
        return new TestFormat("raw", false, Long.MAX_VALUE / 2);
    }

    private int headerSize() {
        return header ? HEADER : 0;
    }

    @Override
    public String type() {
        return type;
    }

    @Override
    public String description() {
        return "test format " + type;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.THIN, Capability.THICK, Capability.THICK_LAZY, Capability.RESIZE);
    }

    @Override
    public String fileExtension() {
        return type;
    }

    @Override
    public long maxVirtualSize() {
        return max;
    }

    @Override
    public boolean recognizes(DatastoreFile file) {
        if (!header) {
            return false;
        }
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length);
        file.read(b, 0);
        return b.position() == MAGIC.length && java.util.Arrays.equals(b.array(), MAGIC);
    }

    @Override
    public ImageInfo probe(DatastoreFile file) {
        if (!header) {
            long size = file.size();
            if (size == 0 || size % 512 != 0) {
                throw new StorageException(ErrorCode.CORRUPT_IMAGE,
                        "raw image " + file.name() + " is not a whole number of sectors");
            }
            return new ImageInfo(type, size, Provisioning.THIN, Map.of());
        }
        ByteBuffer b = ByteBuffer.allocate(HEADER);
        file.read(b, 0);
        b.flip();
        if (b.remaining() < HEADER) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "image " + file.name() + " is truncated");
        }
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "image " + file.name() + " has a wrong cookie");
        }
        long size = b.getLong();
        int prov = b.get();
        if (size <= 0 || prov < 0 || prov >= Provisioning.values().length) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "image " + file.name() + " has a bad header");
        }
        if (file.size() < HEADER + size) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE,
                    "image " + file.name() + " is shorter than its virtual size");
        }
        return new ImageInfo(type, size, Provisioning.values()[prov], Map.of());
    }

    @Override
    public VirtualDisk create(DatastoreFile file, DiskSpec spec) {
        if (spec.virtualSize() > max) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "too large");
        }
        writeHeader(file, spec.virtualSize(), spec.provisioning());
        long end = headerSize() + spec.virtualSize();
        switch (spec.provisioning()) {
            case THIN -> file.setSize(end);
            case THICK_LAZY -> file.allocate(headerSize(), spec.virtualSize());
            case THICK -> {
                ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
                for (long p = headerSize(); p < end; p += zeros.capacity()) {
                    zeros.clear();
                    zeros.limit((int) Math.min(zeros.capacity(), end - p));
                    file.write(zeros, p);
                }
            }
            default -> throw new IllegalStateException();
        }
        return new Disk(file, spec.virtualSize(), spec.provisioning(), false);
    }

    private void writeHeader(DatastoreFile file, long size, Provisioning p) {
        if (!header) {
            return;
        }
        ByteBuffer h = ByteBuffer.allocate(HEADER);
        h.put(MAGIC).putLong(size).put((byte) p.ordinal());
        h.clear();
        file.write(h, 0);
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly) {
        ImageInfo info = probe(file);
        return new Disk(file, info.virtualSize(), info.provisioning(), readOnly);
    }

    private final class Disk implements VirtualDisk {
        private final DatastoreFile file;
        private volatile long size;
        private final Provisioning provisioning;
        private final boolean readOnly;

        Disk(DatastoreFile file, long size, Provisioning provisioning, boolean readOnly) {
            this.file = file;
            this.size = size;
            this.provisioning = provisioning;
            this.readOnly = readOnly;
        }

        @Override
        public String format() {
            return type;
        }

        @Override
        public long virtualSize() {
            return size;
        }

        @Override
        public Provisioning provisioning() {
            return provisioning;
        }

        @Override
        public boolean readOnly() {
            return readOnly;
        }

        private void range(long offset, long length) {
            if (offset < 0 || offset + length > size) {
                throw new StorageException(ErrorCode.OUT_OF_RANGE, "out of range");
            }
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            range(offset, dst.remaining());
            int want = dst.remaining();
            int n = file.read(dst, headerSize() + offset);
            for (int i = n; i < want; i++) {
                dst.put((byte) 0);
            }
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            if (readOnly) {
                throw new StorageException(ErrorCode.READ_ONLY, "read-only");
            }
            range(offset, src.remaining());
            file.write(src, headerSize() + offset);
        }

        @Override
        public void flush() {
            file.flush();
        }

        @Override
        public void trim(long offset, long length) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "no trim");
        }

        @Override
        public List<Extent> blockStatus(long offset, long length) {
            return List.of(new Extent(offset, length, true, false));
        }

        @Override
        public void resize(long newSize) {
            if (newSize < size) {
                throw new StorageException(ErrorCode.INVALID_SIZE, "shrink");
            }
            file.setSize(headerSize() + newSize);
            writeHeader(file, newSize, provisioning);
            size = newSize;
        }

        @Override
        public long allocatedBytes() {
            return file.allocatedBytes();
        }

        @Override
        public void close() {
            file.close();
        }
    }
}
