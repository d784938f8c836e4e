package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.Capability;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.SpaceInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A shared datastore as the core uses it: every file operation first asks the lockspace
 * whether this host's lease is still renewed in time, so a host that could not renew stops all
 * I/O to the datastore (volume data, images, catalog) before another host may take its
 * leases. The check is one volatile read. A layer with its own client (NFS) is given the same
 * check through {@link Datastore#fenced} and makes it again right before each request leaves
 * the host, which closes the gap between this check and the send (a host frozen in between).
 * The limit: an I/O already handed to the kernel when the lease runs out still completes; see
 * the lease library's README.
 */
final class FencedDatastore implements Datastore {
    private final Datastore ds;
    private final SharedAccess access;

    FencedDatastore(Datastore ds, SharedAccess access) {
        this.ds = requireNonNull(ds, "ds");
        this.access = requireNonNull(access, "access");
    }

    private void check() {
        access.checkValid();
    }

    @Override
    public String name() {
        return ds.name();
    }

    @Override
    public String filesystemType() {
        return ds.filesystemType();
    }

    @Override
    public Set<Capability> capabilities() {
        return ds.capabilities();
    }

    @Override
    public SpaceInfo space() {
        return ds.space();
    }

    @Override
    public Optional<Path> localPath() {
        return ds.localPath();
    }

    @Override
    public List<String> list() {
        check();
        return ds.list();
    }

    @Override
    public boolean exists(String name) {
        check();
        return ds.exists(name);
    }

    @Override
    public FileStat stat(String name) {
        check();
        return ds.stat(name);
    }

    @Override
    public DatastoreFile create(String name) {
        check();
        return new File(ds.create(name));
    }

    @Override
    public DatastoreFile open(String name, boolean writable) {
        check();
        return new File(ds.open(name, writable));
    }

    @Override
    public void delete(String name) {
        check();
        ds.delete(name);
    }

    @Override
    public void rename(String from, String to) {
        check();
        ds.rename(from, to);
    }

    @Override
    public void writeAtomically(String name, byte[] content) {
        check();
        ds.writeAtomically(name, content);
    }

    @Override
    public byte[] readAll(String name) {
        check();
        return ds.readAll(name);
    }

    @Override
    public CheckReport check(boolean repair) {
        check();
        return ds.check(repair);
    }

    @Override
    public SpaceInfo grow() {
        check();
        return ds.grow();
    }

    /** For people, no I/O of the core's: answered even by a fenced host. */
    @Override
    public Map<String, String> details() {
        return ds.details();
    }

    /** The mount closes the datastore itself; closing the view closes it too. */
    @Override
    public void close() {
        ds.close();
    }

    private final class File implements DatastoreFile {
        private final DatastoreFile f;

        File(DatastoreFile f) {
            this.f = f;
        }

        @Override
        public String name() {
            return f.name();
        }

        @Override
        public boolean writable() {
            return f.writable();
        }

        @Override
        public long size() {
            return f.size();
        }

        @Override
        public long allocatedBytes() {
            return f.allocatedBytes();
        }

        @Override
        public int read(ByteBuffer dst, long position) {
            check();
            return f.read(dst, position);
        }

        @Override
        public long read(ByteBuffer[] dsts, long position) {
            check();
            return f.read(dsts, position);
        }

        @Override
        public void write(ByteBuffer src, long position) {
            check();
            f.write(src, position);
        }

        @Override
        public void write(ByteBuffer[] srcs, long position) {
            check();
            f.write(srcs, position);
        }

        @Override
        public void setSize(long size) {
            check();
            f.setSize(size);
        }

        @Override
        public void allocate(long position, long length) {
            check();
            f.allocate(position, length);
        }

        @Override
        public void punchHole(long position, long length) {
            check();
            f.punchHole(position, length);
        }

        @Override
        public void flush() {
            check();
            f.flush();
        }

        @Override
        public AutoCloseable lock(boolean exclusive) {
            check();
            return f.lock(exclusive);
        }

        @Override
        public Optional<Path> localPath() {
            return f.localPath();
        }

        @Override
        public Optional<FileSlice> slice(long position, long length) {
            check();
            return f.slice(position, length);
        }

        @Override
        public boolean concurrentIo() {
            return f.concurrentIo();
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> readAsync(ByteBuffer dst, long position) {
            check();
            return f.readAsync(dst, position);
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> writeAsync(ByteBuffer src, long position) {
            check();
            return f.writeAsync(src, position);
        }

        @Override
        public void close() {
            f.close();
        }
    }
}
