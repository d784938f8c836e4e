package io.strata.nas.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Optional;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A regular file of a mounted export, with positional I/O that may run from many threads at
 * once and many requests in flight.
 *
 * <p>Reads and writes longer than the server's transfer sizes (FSINFO rtmax, wtmax) are split
 * and the pieces sent at once. Writes are UNSTABLE: the server may hold them in memory until a
 * {@link #flush()}, which sends COMMIT. The file keeps a copy of every write since the last
 * successful COMMIT (at most {@code retain} bytes: beyond that a write first commits). A server
 * that restarted between a write and its COMMIT loses the write, and says so by a new write
 * verifier; the file then sends those writes again, durable (FILE_SYNC), before the flush
 * returns. So a flush never reports as durable a write the server did not keep.
 *
 * <p>A handle the server no longer knows (NFS3ERR_STALE) is looked up again by path, once per
 * call.
 */
final class NfsFile implements DatastoreFile {
    private final NfsMount mount;
    private final String path;
    private final boolean writable;
    private final long retainMax;
    private volatile Nfs3.Fh fh;

    private final Object lock = new Object();
    private final List<Retained> retained = new ArrayList<>(); // guarded by lock
    private long retainedBytes; // guarded by lock
    private long verifier; // guarded by lock; of the writes retained
    private boolean verifierKnown; // guarded by lock
    private boolean lost; // guarded by lock: a verifier changed, retained writes must be sent again

    private final java.util.concurrent.atomic.AtomicLong resent = new java.util.concurrent.atomic.AtomicLong();

    private record Retained(long offset, byte[] data) {
    }

    NfsFile(NfsMount mount, String path, Nfs3.Fh fh, boolean writable) {
        this.mount = mount;
        this.path = path;
        this.fh = fh;
        this.writable = writable;
        this.retainMax = mount.params().retainBytes();
    }

    @Override
    public String name() {
        return path;
    }

    @Override
    public boolean writable() {
        return writable;
    }

    @Override
    public long size() {
        return attr().size();
    }

    @Override
    public long allocatedBytes() {
        return attr().used();
    }

    Nfs3.Attr attr() {
        return withFh(f -> mount.nfs().getattr(f));
    }

    /** Reads until {@code dst} is full or the end of the file; returns the bytes read, -1 at the end. */
    @Override
    public int read(ByteBuffer dst, long position) {
        checkPosition(position);
        int start = dst.position();
        boolean wanted = dst.hasRemaining();
        NfsMount.await(readUpTo(dst, position), mount.params());
        int n = dst.position() - start;
        return n == 0 && wanted ? -1 : n;
    }

    /** As {@link DatastoreFile#readAsync}: {@code dst} full, or {@code IO_ERROR} when the file ends first. */
    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long position) {
        checkPosition(position);
        int want = dst.remaining();
        int start = dst.position();
        return readUpTo(dst, position).thenApply(v -> {
            if (dst.position() - start < want) {
                throw new StorageException(ErrorCode.IO_ERROR, "'" + path + "' ends at " + (position + dst.position()
                        - start) + ", before the " + want + " bytes read at " + position);
            }
            return null;
        });
    }

    private static void checkPosition(long position) {
        if (position < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative position " + position);
        }
    }

    /**
     * Starts reading {@code dst.remaining()} bytes in pieces of at most rtmax, all in flight at
     * once. The future completes when every piece is in; {@code dst}'s position then stands
     * after the last byte of the file read (short only at the end of the file).
     */
    CompletableFuture<Void> readUpTo(ByteBuffer dst, long position) {
        int max = mount.readPiece();
        int total = dst.remaining();
        int base = dst.position();
        List<CompletableFuture<Nfs3.ReadResult>> parts = new ArrayList<>();
        int[] ends = new int[(total + max - 1) / max];
        for (int off = 0, i = 0; off < total; off += max, i++) {
            ByteBuffer piece = dst.duplicate();
            piece.position(base + off).limit(base + Math.min(total, off + max));
            long at = position + off;
            int from = off;
            int idx = i;
            parts.add(readPiece(piece, at, true).thenApply(r -> {
                ends[idx] = from + r.count();
                return r;
            }));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(v -> {
            // the bytes read are those before the first short piece
            int got = 0;
            for (int i = 0; i < ends.length; i++) {
                got = ends[i];
                int want = Math.min(total, (i + 1) * max);
                if (ends[i] < want) {
                    break;
                }
            }
            dst.position(base + got);
            return null;
        });
    }

    /** One READ; a short read that is not at the end of the file is continued. */
    private CompletableFuture<Nfs3.ReadResult> readPiece(ByteBuffer piece, long at, boolean again) {
        int start = piece.position();
        return mount.nfs().read(fh, at, piece).handle((r, e) -> {
            if (e != null) {
                RuntimeException x = Nfs3.unwrap(e);
                if (again && x instanceof Nfs3.NfsException n && n.staleHandle()) {
                    piece.position(start);
                    return relookup().thenCompose(v -> readPiece(piece, at, false));
                }
                return CompletableFuture.<Nfs3.ReadResult>failedFuture(x);
            }
            if (r.count() == 0 || r.eof() || !piece.hasRemaining()) {
                return CompletableFuture.completedFuture(new Nfs3.ReadResult(piece.position() - start, r.eof()));
            }
            int done = piece.position() - start;
            return readPiece(piece, at + r.count(), again).thenApply(
                    rest -> new Nfs3.ReadResult(done + rest.count(), rest.eof()));
        }).thenCompose(x -> x);
    }

    /** Writes all of {@code src} (its position moves to its limit). */
    @Override
    public void write(ByteBuffer src, long position) {
        checkPosition(position);
        NfsMount.await(writeAsync(src, position, Nfs3.Stable.UNSTABLE), mount.params());
    }

    /** Writes all of {@code src} durably (FILE_SYNC), without making other writes durable. */
    @Override
    public void writeThrough(ByteBuffer src, long position) {
        checkPosition(position);
        NfsMount.await(writeAsync(src, position, Nfs3.Stable.FILE_SYNC), mount.params());
    }

    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long position) {
        checkPosition(position);
        return writeAsync(src, position, Nfs3.Stable.UNSTABLE);
    }

    /** Requests to a server are slow one by one and cheap many at once. */
    @Override
    public boolean concurrentIo() {
        return true;
    }

    @Override
    public void allocate(long position, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "'" + path + "': NFSv3 cannot reserve space without"
                + " writing it (no ALLOCATE)");
    }

    @Override
    public void punchHole(long position, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "'" + path + "': NFSv3 cannot deallocate a range"
                + " (no DEALLOCATE)");
    }

    @Override
    public AutoCloseable lock(boolean exclusive) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "'" + path + "': no file locks on NFS here (NLM is"
                + " not used; shared datastores lock with leases)");
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    /**
     * Starts writing {@code src} in pieces of at most wtmax, all in flight at once; the future
     * completes when the server has taken every piece, with {@code src}'s position at its limit.
     */
    CompletableFuture<Void> writeAsync(ByteBuffer src, long position, Nfs3.Stable stable) {
        if (!writable) {
            return CompletableFuture.failedFuture(new StorageException(ErrorCode.READ_ONLY, "'" + path
                    + "' is open read-only"));
        }
        int max = mount.writePiece();
        int total = src.remaining();
        int base = src.position();
        CompletableFuture<Void> before = CompletableFuture.completedFuture(null);
        if (stable == Nfs3.Stable.UNSTABLE && total > 0) {
            boolean commitFirst;
            synchronized (lock) {
                commitFirst = retainedBytes + total > retainMax && retainedBytes > 0;
            }
            if (commitFirst) {
                before = flushAsync();
            }
        }
        return before.thenCompose(v -> {
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            for (int off = 0; off < total; off += max) {
                ByteBuffer piece = src.duplicate();
                piece.position(base + off).limit(base + Math.min(total, off + max));
                parts.add(writePiece(piece, position + off, stable, true));
            }
            return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
        }).thenApply(v -> {
            src.position(base + total);
            return null;
        });
    }

    private CompletableFuture<Void> writePiece(ByteBuffer piece, long at, Nfs3.Stable stable, boolean again) {
        return mount.nfs().write(fh, at, piece, stable).handle((r, e) -> {
            if (e != null) {
                RuntimeException x = Nfs3.unwrap(e);
                if (again && x instanceof Nfs3.NfsException n && n.staleHandle()) {
                    return relookup().thenCompose(v -> writePiece(piece, at, stable, false));
                }
                return CompletableFuture.<Void>failedFuture(x);
            }
            int n = r.count();
            if (n <= 0 || n > piece.remaining()) {
                return CompletableFuture.<Void>failedFuture(new StorageException(ErrorCode.IO_ERROR, "WRITE of "
                        + piece.remaining() + " bytes at " + at + " to '" + path + "': the server took " + n));
            }
            if (r.committed() == Nfs3.Stable.UNSTABLE) {
                ByteBuffer taken = piece.duplicate();
                taken.limit(taken.position() + n);
                retain(at, taken, r.verifier());
            } else {
                noteVerifier(r.verifier());
            }
            if (n < piece.remaining()) {
                ByteBuffer rest = piece.duplicate();
                rest.position(rest.position() + n);
                return writePiece(rest, at + n, stable, again);
            }
            return CompletableFuture.<Void>completedFuture(null);
        }).thenCompose(x -> x);
    }

    private void retain(long at, ByteBuffer data, long verf) {
        byte[] copy = new byte[data.remaining()];
        data.get(copy);
        synchronized (lock) {
            noteVerifierLocked(verf);
            retained.add(new Retained(at, copy));
            retainedBytes += copy.length;
        }
    }

    private void noteVerifier(long verf) {
        synchronized (lock) {
            noteVerifierLocked(verf);
        }
    }

    private void noteVerifierLocked(long verf) {
        if (verifierKnown && verf != verifier && !retained.isEmpty()) {
            lost = true; // the server restarted since some retained write: it may have lost it
        }
        verifier = verf;
        verifierKnown = true;
    }

    /** Makes every completed write durable (COMMIT), sending again what a restarted server lost. */
    @Override
    public void flush() {
        NfsMount.await(flushAsync(), mount.params());
    }

    CompletableFuture<Void> flushAsync() {
        if (!writable) {
            return CompletableFuture.completedFuture(null);
        }
        List<Retained> covered;
        synchronized (lock) {
            covered = List.copyOf(retained);
        }
        return commit(true).thenCompose(verf -> {
            List<Retained> resend;
            synchronized (lock) {
                boolean ok = !lost && verifierKnown && verf == verifier;
                if (ok) {
                    Set<Retained> done = Collections.newSetFromMap(new IdentityHashMap<>());
                    done.addAll(covered);
                    retained.removeIf(done::contains);
                    retainedBytes = retained.stream().mapToLong(x -> x.data.length).sum();
                    return CompletableFuture.<Void>completedFuture(null);
                }
                // the server restarted: everything retained may be lost; send it again, durably
                resend = List.copyOf(retained);
                retained.clear();
                retainedBytes = 0;
                lost = false;
                verifier = verf;
                verifierKnown = true;
            }
            resent.addAndGet(resend.stream().mapToLong(x -> x.data.length).sum());
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            for (Retained r : resend) {
                parts.add(writePiece(ByteBuffer.wrap(r.data), r.offset, Nfs3.Stable.FILE_SYNC, true));
            }
            return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> {
                if (e != null) {
                    synchronized (lock) { // keep them for the next flush
                        retained.addAll(0, resend);
                        retainedBytes += resend.stream().mapToLong(x -> x.data.length).sum();
                    }
                }
            });
        });
    }

    private CompletableFuture<Long> commit(boolean again) {
        return mount.nfs().commit(fh).handle((v, e) -> {
            if (e != null) {
                RuntimeException x = Nfs3.unwrap(e);
                if (again && x instanceof Nfs3.NfsException n && n.staleHandle()) {
                    return relookup().thenCompose(u -> commit(false));
                }
                return CompletableFuture.<Long>failedFuture(x);
            }
            return CompletableFuture.completedFuture(v);
        }).thenCompose(x -> x);
    }

    /** @return bytes sent again because the server restarted before committing them */
    long resentBytes() {
        return resent.get();
    }

    /** @return bytes written since the last COMMIT and kept in case the server loses them */
    long retainedBytes() {
        synchronized (lock) {
            return retainedBytes;
        }
    }

    /** Truncates or extends the file (SETATTR). */
    @Override
    public void setSize(long size) {
        if (size < 0) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "negative size " + size);
        }
        if (!writable) {
            throw new StorageException(ErrorCode.READ_ONLY, "'" + path + "' is open read-only");
        }
        withFh(f -> mount.nfs().setSize(f, size));
        synchronized (lock) { // retained writes beyond the new end must not come back
            retained.removeIf(r -> r.offset + r.data.length > size);
            retainedBytes = retained.stream().mapToLong(r -> r.data.length).sum();
        }
    }

    private <T> T withFh(java.util.function.Function<Nfs3.Fh, CompletableFuture<T>> op) {
        try {
            return NfsMount.await(op.apply(fh), mount.params());
        } catch (Nfs3.NfsException e) {
            if (!e.staleHandle()) {
                throw e;
            }
            NfsMount.await(relookup(), mount.params());
            return NfsMount.await(op.apply(fh), mount.params());
        }
    }

    /** Looks the path up again for a new handle (a stale one was refused). */
    private CompletableFuture<Void> relookup() {
        return CompletableFuture.runAsync(() -> fh = mount.lookup(path));
    }

    /** Nothing to release on the server (NFSv3 has no open state); retained writes are dropped. */
    @Override
    public void close() {
        synchronized (lock) {
            retained.clear();
            retainedBytes = 0;
        }
    }

    @Override
    public String toString() {
        return mount + "/" + path;
    }
}
