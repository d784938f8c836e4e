package io.strata.testing;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileWindow;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A sparse in-memory DatastoreFile for unit tests: 4 KiB pages that exist only
 * once written. Records every mutation so crash tests can replay prefixes, and
 * counts them so damaged-image tests can assert that nothing was written.
 */
public final class MemoryFile implements DatastoreFile {
    private static final int PAGE = 4096;

    /** One recorded mutation; a replay applies a prefix of them to a copy. */
    public record Op(String kind, long position, byte[] data, long length) {
    }

    private final String name;
    private final Map<Long, byte[]> pages = new HashMap<>();
    private long size;
    private boolean writable = true;
    private boolean allocateSupported = true;
    private boolean punchSupported = true;
    private final List<Op> log = new ArrayList<>();
    private int slices;
    private int windows;
    private int mutations;
    private int vectored;
    private int reads;

    public MemoryFile(String name) {
        this.name = name;
    }

    public synchronized MemoryFile copy() {
        MemoryFile c = new MemoryFile(name);
        pages.forEach((k, v) -> c.pages.put(k, v.clone()));
        c.size = size;
        return c;
    }

    public synchronized MemoryFile readOnlyCopy() {
        MemoryFile c = copy();
        c.writable = false;
        return c;
    }

    public MemoryFile withoutAllocate() {
        allocateSupported = false;
        return this;
    }

    public synchronized List<Op> log() {
        return List.copyOf(log);
    }

    public synchronized void clearLog() {
        log.clear();
    }

    public synchronized int mutations() {
        return mutations;
    }

    /** @return how many reads and writes of several buffers in one call reached this file */
    public synchronized int vectored() {
        return vectored;
    }

    /** @return how many reads this file served: each buffer of a vectored read, and {@link #peek}, count one */
    public synchronized int reads() {
        return reads;
    }

    public synchronized void apply(Op op) {
        switch (op.kind()) {
            case "write" -> write(ByteBuffer.wrap(op.data()), op.position());
            case "setSize" -> setSize(op.length());
            case "allocate" -> allocate(op.position(), op.length());
            case "punch" -> punchHole(op.position(), op.length());
            default -> { }
        }
    }

    public synchronized byte[] bytes() {
        byte[] out = new byte[Math.toIntExact(size)];
        read(ByteBuffer.wrap(out), 0);
        return out;
    }

    public synchronized void poke(long position, byte[] data) {
        write(ByteBuffer.wrap(data), position);
        mutations = 0;
        log.clear();
    }

    public synchronized byte[] peek(long position, int length) {
        byte[] out = new byte[length];
        read(ByteBuffer.wrap(out), position);
        return out;
    }

    /** Counted, then read buffer by buffer (as the interface's default). */
    @Override
    public synchronized long read(ByteBuffer[] dsts, long position) {
        vectored++;
        return DatastoreFile.super.read(dsts, position);
    }

    /** Counted, then written buffer by buffer: each is a mutation of its own in the log. */
    @Override
    public synchronized void write(ByteBuffer[] srcs, long position) {
        vectored++;
        DatastoreFile.super.write(srcs, position);
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
    public synchronized long size() {
        return size;
    }

    @Override
    public synchronized long allocatedBytes() {
        return (long) pages.size() * PAGE;
    }

    @Override
    public synchronized int read(ByteBuffer dst, long position) {
        reads++;
        if (position >= size) {
            return dst.hasRemaining() ? -1 : 0;
        }
        int n = (int) Math.min(dst.remaining(), size - position);
        for (int i = 0; i < n; ) {
            long p = position + i;
            int inPage = (int) (p % PAGE);
            int chunk = Math.min(n - i, PAGE - inPage);
            byte[] page = pages.get(p / PAGE);
            if (page == null) {
                for (int k = 0; k < chunk; k++) {
                    dst.put((byte) 0);
                }
            } else {
                dst.put(page, inPage, chunk);
            }
            i += chunk;
        }
        return n;
    }

    @Override
    public synchronized void write(ByteBuffer src, long position) {
        if (!writable) {
            throw new StorageException(ErrorCode.READ_ONLY, name + " is read-only");
        }
        byte[] data = new byte[src.remaining()];
        src.get(data);
        log.add(new Op("write", position, data, data.length));
        mutations++;
        for (int i = 0; i < data.length; ) {
            long p = position + i;
            int inPage = (int) (p % PAGE);
            int chunk = Math.min(data.length - i, PAGE - inPage);
            pages.computeIfAbsent(p / PAGE, k -> new byte[PAGE]);
            System.arraycopy(data, i, pages.get(p / PAGE), inPage, chunk);
            i += chunk;
        }
        size = Math.max(size, position + data.length);
    }

    @Override
    public synchronized void setSize(long newSize) {
        if (!writable) {
            throw new StorageException(ErrorCode.READ_ONLY, name + " is read-only");
        }
        log.add(new Op("setSize", 0, null, newSize));
        mutations++;
        if (newSize < size) {
            pages.keySet().removeIf(k -> k * PAGE >= newSize);
            long p = newSize / PAGE;
            byte[] page = pages.get(p);
            if (page != null) {
                java.util.Arrays.fill(page, (int) (newSize % PAGE), PAGE, (byte) 0);
            }
        }
        size = newSize;
    }

    @Override
    public synchronized void allocate(long position, long length) {
        if (!allocateSupported) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "no fallocate on this datastore");
        }
        log.add(new Op("allocate", position, null, length));
        mutations++;
        size = Math.max(size, position + length); // sparse: the test cares about content, not space
    }

    /** Makes {@link #punchHole} answer UNSUPPORTED, as a datastore without PUNCH_HOLE does. */
    public MemoryFile withoutPunchHole() {
        punchSupported = false;
        return this;
    }

    /** Zeros the range and drops the pages it covers whole, so allocatedBytes() goes down as on a real filesystem. */
    @Override
    public synchronized void punchHole(long position, long length) {
        if (!punchSupported) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "no punch hole on this datastore");
        }
        log.add(new Op("punch", position, null, length));
        mutations++;
        long end = Math.min(size, position + length);
        for (long p = position; p < end; ) {
            long page = p / PAGE;
            long pageEnd = Math.min(end, (page + 1) * PAGE);
            if (p == page * PAGE && pageEnd == (page + 1) * PAGE) {
                pages.remove(page);
            } else if (pages.containsKey(page)) {
                java.util.Arrays.fill(pages.get(page), (int) (p % PAGE), (int) (p % PAGE + (pageEnd - p)), (byte) 0);
            }
            p = pageEnd;
        }
    }

    @Override
    public synchronized void flush() {
        log.add(new Op("flush", 0, null, 0));
    }

    @Override
    public AutoCloseable lock(boolean exclusive) {
        return () -> { };
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    /** A slice that reads this file's bytes when it is sent, and counts how many were made. */
    @Override
    public Optional<FileSlice> slice(long position, long length) {
        if (position < 0 || length < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "bad range " + position + "+" + length);
        }
        synchronized (this) {
            slices++;
        }
        return Optional.of(new FileSlice() {
            @Override
            public long length() {
                return length;
            }

            @Override
            public void transferTo(WritableByteChannel target) throws IOException {
                ByteBuffer b = ByteBuffer.allocate((int) length);
                if (read(b, position) < length) {
                    throw new IOException(name + " ends before " + (position + length));
                }
                b.flip();
                while (b.hasRemaining()) {
                    target.write(b);
                }
            }

            @Override
            public void close() {
            }
        });
    }

    /**
     * A window over a range inside the file whose every page exists (no hole), as a local
     * file offers one. What is put into it reaches the file when it is closed (a write of the
     * bytes put, logged as one), not at once as with a mapping; counted.
     */
    @Override
    public Optional<FileWindow> window(long position, int length) {
        if (position < 0 || length < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "bad range " + position + "+" + length);
        }
        synchronized (this) {
            if (!writable) {
                throw new StorageException(ErrorCode.READ_ONLY, name + " is read-only");
            }
            if (length == 0 || position + length > size) {
                return Optional.empty();
            }
            for (long p = position / PAGE; p <= (position + length - 1) / PAGE; p++) {
                if (!pages.containsKey(p)) {
                    return Optional.empty();
                }
            }
            windows++;
        }
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        return Optional.of(new FileWindow() {
            private boolean closed;

            @Override
            public ByteBuffer buffer() {
                return b;
            }

            @Override
            public void close() {
                if (closed) {
                    return;
                }
                closed = true;
                ByteBuffer put = b.duplicate().flip();
                if (put.hasRemaining()) {
                    MemoryFile.this.write(put, position);
                }
            }
        });
    }

    /** @return how many windows this file has handed out */
    public synchronized int windows() {
        return windows;
    }

    /** @return how many {@link #slice} calls this file has answered */
    public synchronized int slices() {
        return slices;
    }

    @Override
    public void close() {
    }
}
