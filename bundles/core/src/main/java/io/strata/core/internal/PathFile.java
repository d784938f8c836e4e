package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * A read-only {@link DatastoreFile} over any host path, so that a format can
 * probe an image that is not (yet) in a datastore. Opened with READ only: an
 * image under inspection can never be modified through it.
 */
final class PathFile implements DatastoreFile {
    private final Path path;
    private final FileChannel channel;

    private PathFile(Path path, FileChannel channel) {
        this.path = path;
        this.channel = channel;
    }

    static PathFile open(Path path) {
        try {
            return new PathFile(path, FileChannel.open(path, StandardOpenOption.READ));
        } catch (NoSuchFileException e) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "image " + path + " does not exist", e);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot open image " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return String.valueOf(path.getFileName());
    }

    @Override
    public boolean writable() {
        return false;
    }

    @Override
    public long size() {
        try {
            return channel.size();
        } catch (IOException e) {
            throw io(e);
        }
    }

    @Override
    public long allocatedBytes() {
        return size();
    }

    @Override
    public int read(ByteBuffer dst, long position) {
        int total = 0;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, position + total);
                if (n < 0) {
                    break;
                }
                total += n;
            }
        } catch (IOException e) {
            throw io(e);
        }
        return total;
    }

    @Override
    public void write(ByteBuffer src, long position) {
        throw readOnly();
    }

    @Override
    public void setSize(long size) {
        throw readOnly();
    }

    @Override
    public void allocate(long position, long length) {
        throw readOnly();
    }

    @Override
    public void punchHole(long position, long length) {
        throw readOnly();
    }

    @Override
    public void flush() {
        // nothing was written
    }

    @Override
    public AutoCloseable lock(boolean exclusive) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "image " + path + " is opened for inspection only");
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(path);
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // read-only: nothing to lose
        }
    }

    private StorageException readOnly() {
        return new StorageException(ErrorCode.READ_ONLY, "image " + path + " is opened read-only");
    }

    private StorageException io(IOException e) {
        return new StorageException(ErrorCode.IO_ERROR, "cannot read image " + path + ": " + e.getMessage(), e);
    }
}
