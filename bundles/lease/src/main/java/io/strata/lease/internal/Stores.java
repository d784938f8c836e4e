package io.strata.lease.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.fs.DatastoreFile;
import io.strata.lease.SectorStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** The {@link SectorStore}s of {@link io.strata.lease.Lockspaces}. */
public final class Stores {
    private Stores() {
    }

    /** Bounds and alignment checks shared by the stores. */
    private abstract static class Base implements SectorStore {
        final int sectorSize;
        final long sectors;
        final String what;

        Base(int sectorSize, long sectors, String what) {
            Geometry.checkSectorSize(sectorSize);
            if (sectors < 1) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, what + ": the sector count must be positive");
            }
            if (sectors > Long.MAX_VALUE / sectorSize) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, what + ": too many sectors");
            }
            this.sectorSize = sectorSize;
            this.sectors = sectors;
            this.what = what;
        }

        @Override
        public int sectorSize() {
            return sectorSize;
        }

        @Override
        public long sectors() {
            return sectors;
        }

        /** @return the byte offset of {@code sector} within the region */
        long check(long sector, ByteBuffer b) {
            requireNonNull(b, "buffer");
            int len = b.remaining();
            if (len % sectorSize != 0) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, what + ": I/O of " + len
                        + " bytes is not a whole number of " + sectorSize + "-byte sectors");
            }
            if (sector < 0 || sector > sectors || len / sectorSize > sectors - sector) {
                throw new StorageException(ErrorCode.OUT_OF_RANGE, what + ": sectors " + sector + " to "
                        + (sector + len / sectorSize - 1) + " are outside its " + sectors + " sectors");
            }
            return sector * sectorSize;
        }

        @Override
        public String toString() {
            return what;
        }
    }

    /** A region at the start of a datastore file. */
    public static SectorStore file(DatastoreFile file, int sectorSize, long sectors) {
        requireNonNull(file, "file");
        return new Base(sectorSize, sectors, "lease file " + file.name()) {
            @Override
            public void read(long sector, ByteBuffer dst) {
                long pos = check(sector, dst);
                while (dst.hasRemaining()) {
                    int n = file.read(dst, pos);
                    if (n <= 0) {
                        break;
                    }
                    pos += n;
                }
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
            }

            @Override
            public void write(long sector, ByteBuffer src) {
                long pos = check(sector, src);
                file.writeThrough(src, pos);
            }

            @Override
            public void close() {
                try {
                    file.close();
                } catch (RuntimeException e) {
                    // never throws
                }
            }
        };
    }

    /** A local file opened with DSYNC writes, created or extended (sparse) to its size. */
    public static SectorStore path(Path path, int sectorSize, long sectors) {
        requireNonNull(path, "path");
        return new PathStore(path, sectorSize, sectors);
    }

    private static final class PathStore extends Base {
        private final Path path;
        private final FileChannel ch;

        PathStore(Path path, int sectorSize, long sectors) {
            super(sectorSize, sectors, "lease file " + path);
            this.path = path;
            try {
                ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, StandardOpenOption.DSYNC);
                long need = sectors * sectorSize;
                if (ch.size() < need) {
                    ch.write(ByteBuffer.allocate(1), need - 1);
                }
            } catch (IOException e) {
                throw new StorageException(ErrorCode.IO_ERROR, "cannot open " + path + ": " + e.getMessage(), e);
            }
        }

        private StorageException fail(String op, IOException e) {
            if (e instanceof ClosedChannelException) {
                return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, what + " is closed");
            }
            return new StorageException(ErrorCode.IO_ERROR, "cannot " + op + " " + path + ": " + e.getMessage(), e);
        }

        @Override
        public void read(long sector, ByteBuffer dst) {
            long pos = check(sector, dst);
            try {
                while (dst.hasRemaining()) {
                    int n = ch.read(dst, pos);
                    if (n < 0) {
                        break;
                    }
                    pos += n;
                }
            } catch (IOException e) {
                throw fail("read", e);
            }
            while (dst.hasRemaining()) {
                dst.put((byte) 0);
            }
        }

        @Override
        public void write(long sector, ByteBuffer src) {
            long pos = check(sector, src);
            try {
                while (src.hasRemaining()) {
                    pos += ch.write(src, pos);
                }
            } catch (IOException e) {
                throw fail("write", e);
            }
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException e) {
                // never throws
            }
        }
    }

    private static String deviceName(BlockDevice device) {
        try {
            return device.info().ref();
        } catch (RuntimeException e) {
            return String.valueOf(device);
        }
    }

    /** A region of a block device; the device stays open when the store closes. */
    public static SectorStore block(BlockDevice device, long offsetBytes, long sectors) {
        requireNonNull(device, "device");
        int ss = device.sectorSize();
        String what = "lease region at byte " + offsetBytes + " of device " + deviceName(device);
        Geometry.checkSectorSize(ss);
        if (offsetBytes < 0 || offsetBytes % ss != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, what + ": the offset must be a non-negative "
                    + "multiple of the " + ss + "-byte sector size");
        }
        if (sectors < 1 || sectors > (device.size() - offsetBytes) / ss) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, what + ": " + sectors + " sectors of " + ss
                    + " bytes do not fit in the device of " + device.size() + " bytes");
        }
        return new Base(ss, sectors, what) {
            @Override
            public void read(long sector, ByteBuffer dst) {
                device.read(dst, offsetBytes + check(sector, dst));
            }

            @Override
            public void write(long sector, ByteBuffer src) {
                // durable at once, without waiting for the write-back of the datastore's other
                // data: a renewal behind a flush of gigabytes of a guest's writes could miss its
                // deadline and fence a live host
                device.writeThrough(src, offsetBytes + check(sector, src));
            }

            @Override
            public void close() {
                // the device belongs to the caller
            }
        };
    }
}
