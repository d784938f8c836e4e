package io.strata.fs.nfs.internal;

import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A file of the export under its datastore name (the export's file is named by its path in the
 * export); every call goes to it unchanged.
 */
final class NamedFile implements DatastoreFile {
    private final String name;
    private final DatastoreFile file;
    private final Consumer<NamedFile> onClose;

    NamedFile(String name, DatastoreFile file, Consumer<NamedFile> onClose) {
        this.name = name;
        this.file = file;
        this.onClose = onClose;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean writable() {
        return file.writable();
    }

    @Override
    public long size() {
        return file.size();
    }

    @Override
    public long allocatedBytes() {
        return file.allocatedBytes();
    }

    @Override
    public int read(ByteBuffer dst, long position) {
        return file.read(dst, position);
    }

    @Override
    public void write(ByteBuffer src, long position) {
        file.write(src, position);
    }

    @Override
    public void writeThrough(ByteBuffer src, long position) {
        file.writeThrough(src, position);
    }

    @Override
    public void setSize(long size) {
        file.setSize(size);
    }

    @Override
    public void allocate(long position, long length) {
        file.allocate(position, length);
    }

    @Override
    public void punchHole(long position, long length) {
        file.punchHole(position, length);
    }

    @Override
    public void flush() {
        file.flush();
    }

    @Override
    public AutoCloseable lock(boolean exclusive) {
        return file.lock(exclusive);
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    @Override
    public boolean concurrentIo() {
        return file.concurrentIo();
    }

    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long position) {
        return file.readAsync(dst, position);
    }

    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long position) {
        return file.writeAsync(src, position);
    }

    @Override
    public void close() {
        try {
            file.close();
        } finally {
            onClose.accept(this);
        }
    }

    @Override
    public String toString() {
        return name + " (" + file + ")";
    }
}
