package io.strata.core.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.SpaceInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A datastore over a real directory, as the dir filesystem will be, with a
 * configurable capacity (space is accounted by apparent file sizes) and
 * {@link Faults} injection. Closing it makes every call fail with
 * DEVICE_UNAVAILABLE, as a well-behaved filesystem layer does after unmount.
 */
final class TestDatastore implements Datastore {
    private static final String TMP = ".tmp-";

    private final String name;
    private final Path dir;
    private final Faults faults;
    private final long capacity;
    private volatile boolean closed;

    TestDatastore(String name, Path dir, Faults faults, long capacity) {
        this.name = name;
        this.dir = dir;
        this.faults = faults;
        this.capacity = capacity;
    }

    boolean closed() {
        return closed;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String filesystemType() {
        return "testfs";
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.SPARSE_FILES, Capability.PREALLOCATE, Capability.LOCAL_PATHS);
    }

    @Override
    public SpaceInfo space() {
        check();
        long used;
        try (Stream<Path> s = Files.list(dir)) {
            used = s.mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new SpaceInfo(capacity, Math.max(0, capacity - used));
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(dir);
    }

    @Override
    public List<String> list() {
        check();
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(TMP)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public boolean exists(String file) {
        check();
        faults.read("exists " + file);
        return Files.exists(path(file));
    }

    @Override
    public FileStat stat(String file) {
        check();
        Path p = path(file);
        if (!Files.exists(p)) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "no file " + file);
        }
        long size = p.toFile().length();
        return new FileStat(file, size, size);
    }

    @Override
    public DatastoreFile create(String file) {
        check();
        faults.step("create " + file);
        try {
            return new TestFile(file, FileChannel.open(path(file), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE), true, faults, this);
        } catch (FileAlreadyExistsException e) {
            throw new StorageException(ErrorCode.ALREADY_EXISTS, "file " + file + " exists");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public DatastoreFile open(String file, boolean writable) {
        check();
        faults.read("open " + file);
        try {
            FileChannel ch = writable
                    ? FileChannel.open(path(file), StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(path(file), StandardOpenOption.READ);
            return new TestFile(file, ch, writable, faults, this);
        } catch (NoSuchFileException e) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "no file " + file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void delete(String file) {
        check();
        faults.step("delete " + file);
        try {
            Files.delete(path(file));
        } catch (NoSuchFileException e) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "no file " + file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void rename(String from, String to) {
        check();
        faults.step("rename " + from + " " + to);
        try {
            Files.move(path(from), path(to), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (NoSuchFileException e) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "no file " + from);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void writeAtomically(String file, byte[] content) {
        check();
        faults.step("writeAtomically " + file);
        Path tmp = path(TMP + file);
        try {
            // Through a FileChannel like the real layer, so an interrupted thread fails here too.
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.wrap(content);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            Files.move(tmp, path(file), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public byte[] readAll(String file) {
        check();
        faults.read("readAll " + file);
        try {
            return Files.readAllBytes(path(file));
        } catch (NoSuchFileException e) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "no file " + file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        closed = true;
    }

    void check() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore " + name + " is unmounted");
        }
    }

    private Path path(String file) {
        if (file.contains("/") || file.contains("..")) {
            throw new StorageException(ErrorCode.INVALID_NAME, "bad file name " + file);
        }
        return dir.resolve(file);
    }

    /** A file of the test datastore. */
    static final class TestFile implements DatastoreFile {
        /** What {@link #concurrentIo()} answers (a file on a network LUN), for every test file. */
        static volatile boolean concurrent;
        /** When set, reads wait on it (a slow round trip); {@link #reading} counts those waiting. */
        static volatile java.util.concurrent.CountDownLatch readGate;
        static final java.util.concurrent.atomic.AtomicInteger reading = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public boolean concurrentIo() {
            return concurrent;
        }

        private final String name;
        private final FileChannel ch;
        private final boolean writable;
        private final Faults faults;
        private final TestDatastore ds;

        TestFile(String name, FileChannel ch, boolean writable, Faults faults, TestDatastore ds) {
            this.name = name;
            this.ch = ch;
            this.writable = writable;
            this.faults = faults;
            this.ds = ds;
        }

        @Override
        public String name() {
            return name;
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
            return size();
        }

        @Override
        public int read(ByteBuffer dst, long position) {
            ds.check();
            faults.read("read " + name);
            java.util.concurrent.CountDownLatch gate = readGate;
            if (gate != null) {
                reading.incrementAndGet();
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    reading.decrementAndGet();
                }
            }
            int total = 0;
            try {
                while (dst.hasRemaining()) {
                    int n = ch.read(dst, position + total);
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
            ds.check();
            writeCheck();
            faults.step("write " + name);
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
            ds.check();
            writeCheck();
            faults.step("setSize " + name);
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
            if (size() < position + length) {
                setSize(position + length);
            }
        }

        @Override
        public void punchHole(long position, long length) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "no punch hole in tests");
        }

        @Override
        public void flush() {
            ds.check();
            faults.step("flush " + name);
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
            return Optional.of(ds.dir.resolve(name));
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException e) {
                // test
            }
        }

        private void writeCheck() {
            if (!writable) {
                throw new StorageException(ErrorCode.READ_ONLY, "file " + name + " is read-only");
            }
        }

        private static StorageException io(IOException e) {
            return new StorageException(ErrorCode.IO_ERROR, e.toString(), e);
        }
    }
}
