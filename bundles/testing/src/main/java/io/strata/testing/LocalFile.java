package io.strata.testing;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * A DatastoreFile over a plain local file, for interop tests. allocate() only
 * extends the file sparsely (no fallocate from Java), which is what lets the
 * tests create 127 GiB fixed images without using the space.
 */
public final class LocalFile implements DatastoreFile {
    private final Path path;
    private final FileChannel ch;
    private final boolean writable;

    private LocalFile(Path path, boolean writable) throws IOException {
        this.path = path;
        this.writable = writable;
        this.ch = writable
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE)
                : FileChannel.open(path, StandardOpenOption.READ);
    }

    public static LocalFile open(Path path, boolean writable) {
        try {
            return new LocalFile(path, writable);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private StorageException io(IOException e) {
        return new StorageException(ErrorCode.IO_ERROR, path + ": " + e, e);
    }

    public byte[] readAt(long position, int length) {
        ByteBuffer b = ByteBuffer.allocate(length);
        read(b, position);
        return b.array();
    }

    @Override
    public String name() {
        return path.getFileName().toString();
    }

    @Override
    public boolean writable() {
        return writable;
    }

    @Override
    public long size() {
        try {
            return ch.size();
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public long allocatedBytes() {
        try {
            Object blocks = Files.getAttribute(path, "unix:blocks");
            return ((Number) blocks).longValue() * 512;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return size();
        }
    }

    @Override
    public int read(ByteBuffer dst, long position) {
        try {
            int total = 0;
            while (dst.hasRemaining()) {
                int n = ch.read(dst, position + total);
                if (n < 0) {
                    return total == 0 ? -1 : total;
                }
                total += n;
            }
            return total;
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public void write(ByteBuffer src, long position) {
        if (!writable) {
            throw new StorageException(ErrorCode.READ_ONLY, path + " is read-only");
        }
        try {
            long p = position;
            while (src.hasRemaining()) {
                p += ch.write(src, p);
            }
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public void setSize(long size) {
        try {
            if (size < ch.size()) {
                ch.truncate(size);
            } else if (size > ch.size()) {
                ch.write(ByteBuffer.allocate(1), size - 1);
            }
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public void allocate(long position, long length) {
        if (position + length > size()) {
            setSize(position + length);
        }
    }

    @Override
    public void punchHole(long position, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "no punch hole in the test file");
    }

    @Override
    public void flush() {
        try {
            ch.force(true);
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public AutoCloseable lock(boolean exclusive) {
        return () -> { };
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(path);
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
