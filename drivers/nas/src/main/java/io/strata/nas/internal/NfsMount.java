package io.strata.nas.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.nas.internal.rpc.RpcClient;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * One export of an NFS server, mounted in user space: the root file handle from MOUNT, one RPC
 * connection to the NFS service, and file operations by path relative to the export's root.
 *
 * <p>Paths are {@code /}-separated names; empty names, {@code .} and {@code ..} are refused, so
 * nothing outside the export is reachable. Directory handles are cached by path; a handle the
 * server no longer knows (NFS3ERR_STALE, for one after the export's filesystem was replaced) is
 * dropped and the path looked up again, once.
 */
final class NfsMount implements AutoCloseable {
    /** The largest READ or WRITE sent: larger ones take no less time per byte and hold a connection longer. */
    static final int MAX_PIECE = 1 << 20;

    private final NasParams params;
    private final String export;
    private final Nfs3.Fh root;
    private final Nfs3 nfs;
    private final Nfs3.FsInfo info;
    private final Map<String, Nfs3.Fh> dirs;

    private NfsMount(NasParams params, String export, Nfs3.Fh root, Nfs3 nfs, Nfs3.FsInfo info,
            Map<String, Nfs3.Fh> dirs) {
        this.params = params;
        this.export = export;
        this.root = root;
        this.nfs = nfs;
        this.info = info;
        this.dirs = dirs;
    }

    /**
     * This mount as seen by a host that may write only while {@code fence} passes: every request
     * made through the view, and through the files it opens, is checked against the fence right
     * before it goes to the server. It shares the connection (and the directory handles) with
     * this mount; closing the mount ends both.
     */
    NfsMount fenced(io.strata.api.device.WriteFence fence) {
        return new NfsMount(params, export, root, nfs.fenced(fence), info, dirs);
    }

    /**
     * Mounts an export: MNT on the server's MOUNT service, then FSINFO over a new NFS connection.
     *
     * @throws StorageException {@code DEVICE_UNAVAILABLE} (server unreachable),
     *         {@code DEVICE_NOT_FOUND} (no such export), {@code PERMISSION_DENIED}
     */
    static NfsMount mount(NasParams params, String export) {
        RpcClient.Options setup = params.setupOptions();
        Nfs3.Fh root = MountProtocol.mount(params.mountAddress(), export, params.auth(), setup);
        InetSocketAddress nfsAddress = params.nfsAddress();
        RpcClient rpc = RpcClient.connect("nfs " + params.server() + ":" + export, nfsAddress, Nfs3.PROGRAM,
                Nfs3.VERSION, params.auth(), params.ioOptions());
        try {
            Nfs3 nfs = new Nfs3(rpc);
            Nfs3.FsInfo info = await(nfs.fsinfo(root), params);
            Nfs3.Attr a = await(nfs.getattr(root), params);
            if (!a.isDirectory()) {
                throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "export " + export + " of " + params.server()
                        + " is not a directory");
            }
            return new NfsMount(params, export, root, nfs, info, new ConcurrentHashMap<>());
        } catch (RuntimeException e) {
            rpc.close();
            throw e;
        }
    }

    Nfs3 nfs() {
        return nfs;
    }

    Nfs3.FsInfo info() {
        return info;
    }

    /** The most a READ asks for: the server's rtmax, at most 1 MiB (and at least 4 KiB). */
    int readPiece() {
        return Math.max(4096, Math.min(MAX_PIECE, info.readMax()));
    }

    /** The most a WRITE carries: the server's wtmax, at most 1 MiB (and at least 4 KiB). */
    int writePiece() {
        return Math.max(4096, Math.min(MAX_PIECE, info.writeMax()));
    }

    NasParams params() {
        return params;
    }

    /** @return how the server is doing ({@link io.strata.nas.internal.rpc.RpcClient#state()}) */
    io.strata.api.device.DeviceState state() {
        return nfs.rpc().state();
    }

    /** @return the server's figures for the export's filesystem */
    Nfs3.FsStat space() {
        return await(nfs.fsstat(root), params);
    }

    /** @return the names in a directory ({@code ""} is the export's root) */
    List<String> list(String dir) {
        return retryStale(dir, d -> nfs.readdirplus(d), true).stream().map(Nfs3.DirEntry::name).toList();
    }

    /** @return the names of the regular files in a directory, sorted */
    List<String> listFiles(String dir) {
        List<Nfs3.DirEntry> entries = retryStale(dir, d -> nfs.readdirplus(d), true);
        List<String> out = new ArrayList<>();
        for (Nfs3.DirEntry e : entries) {
            Nfs3.Attr a = e.attr() != null ? e.attr() : stat(dir.isEmpty() ? e.name() : dir + "/" + e.name());
            if (a.isRegular()) {
                out.add(e.name());
            }
        }
        java.util.Collections.sort(out);
        return out;
    }

    /** @return the attributes of a path, {@code FILE_NOT_FOUND} when it does not exist */
    Nfs3.Attr stat(String path) {
        if (path.isEmpty()) {
            return await(nfs.getattr(root), params);
        }
        Name n = split(path);
        return retryStale(n.parent, d -> nfs.lookup(d, n.name).thenCompose(
                e -> e.attr() != null ? CompletableFuture.completedFuture(e.attr()) : nfs.getattr(e.fh())), true);
    }

    /** @return the handle of a file */
    Nfs3.Fh lookup(String path) {
        if (path.isEmpty()) {
            return root;
        }
        Name n = split(path);
        return retryStale(n.parent, d -> nfs.lookup(d, n.name).thenApply(Nfs3.Entry::fh), true);
    }

    /**
     * Creates a regular file and opens it for writing (from what CREATE returns: no further
     * round trip unless the server left out the handle or attributes); {@code ALREADY_EXISTS}
     * when the name is taken and {@code exclusive}.
     */
    NfsFile create(String path, boolean exclusive) {
        Name n = split(path);
        return file(path, retryStale(n.parent, d -> nfs.create(d, n.name, exclusive, 0644), true), true);
    }

    void mkdir(String path) {
        Name n = split(path);
        retryStale(n.parent, d -> nfs.mkdir(d, n.name, 0755), true);
    }

    void remove(String path) {
        Name n = split(path);
        retryStale(n.parent, d -> nfs.remove(d, n.name), true);
    }

    void rmdir(String path) {
        Name n = split(path);
        dirs.remove(path);
        retryStale(n.parent, d -> nfs.rmdir(d, n.name), true);
    }

    /** Renames within the export; an existing target is replaced (RENAME's semantics). */
    void rename(String from, String to) {
        Name a = split(from);
        Name b = split(to);
        dirs.remove(from);
        Nfs3.Fh toDir = dir(b.parent);
        retryStale(a.parent, d -> nfs.rename(d, a.name, toDir, b.name), true);
    }

    /** Opens a file for I/O. */
    NfsFile open(String path, boolean writable) {
        Name n = split(path);
        return file(path, retryStale(n.parent, d -> nfs.lookup(d, n.name), true), writable);
    }

    /** A file from a LOOKUP or CREATE result, checked to be a regular file. */
    private NfsFile file(String path, Nfs3.Entry e, boolean writable) {
        Nfs3.Fh fh = e.fh() != null ? e.fh() : lookup(path);
        Nfs3.Attr a = e.attr() != null ? e.attr() : await(nfs.getattr(fh), params);
        if (!a.isRegular()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "'" + path + "' on " + export
                    + " is not a regular file");
        }
        return new NfsFile(this, path, fh, writable);
    }

    /** The handle of a directory, from the cache or looked up component by component. */
    Nfs3.Fh dir(String path) {
        if (path.isEmpty()) {
            return root;
        }
        Nfs3.Fh cached = dirs.get(path);
        if (cached != null) {
            return cached;
        }
        Name n = split(path);
        Nfs3.Fh parent = dir(n.parent);
        Nfs3.Entry e = await(nfs.lookup(parent, n.name), params);
        if (e.attr() != null && !e.attr().isDirectory()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "'" + path + "' on " + export
                    + " is not a directory");
        }
        dirs.put(path, e.fh());
        return e.fh();
    }

    /**
     * Runs an operation on the handle of directory {@code dir}; when the server says the handle
     * is stale, forgets every cached handle and runs it once more on a fresh one.
     */
    private <T> T retryStale(String dir, Function<Nfs3.Fh, CompletableFuture<T>> op, boolean again) {
        try {
            return await(op.apply(dir(dir)), params);
        } catch (Nfs3.NfsException e) {
            if (again && e.staleHandle()) {
                dirs.clear();
                return retryStale(dir, op, false);
            }
            throw e;
        }
    }

    private record Name(String parent, String name) {
    }

    /** Splits a checked path into its directory and last name. */
    static Name split(String path) {
        List<String> parts = check(path);
        if (parts.isEmpty()) {
            throw new StorageException(ErrorCode.INVALID_NAME, "an empty path names the export itself");
        }
        String parent = String.join("/", parts.subList(0, parts.size() - 1));
        return new Name(parent, parts.get(parts.size() - 1));
    }

    /** @return the names of a path, refusing empty ones, {@code .}, {@code ..} and control characters */
    static List<String> check(String path) {
        List<String> out = new ArrayList<>();
        if (path.isEmpty()) {
            return out;
        }
        for (String p : path.split("/", -1)) {
            if (p.isEmpty() || p.equals(".") || p.equals("..") || p.length() > Nfs3.MAX_NAME
                    || p.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                throw new StorageException(ErrorCode.INVALID_NAME, "path '" + io.strata.api.Names.printable(path)
                        + "' has a name that is empty, '.', '..', too long or has control characters");
            }
            out.add(p);
        }
        return out;
    }

    /** Waits for an NFS call, for at most the I/O limit and a little more. */
    static <T> T await(CompletableFuture<T> f, NasParams params) {
        try {
            return f.get(params.limitMs() + 2_000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the NFS server " + params.server()
                    + " did not answer within " + params.limitMs() / 1000 + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.CANCELLED, "interrupted while waiting for the NFS server");
        } catch (ExecutionException e) {
            throw Nfs3.unwrap(e.getCause());
        }
    }

    /** Closes the connection (calls under way fail) and tells the server with UMNT. Never throws. */
    @Override
    public void close() {
        nfs.rpc().close();
        MountProtocol.unmount(params.mountAddress(), export, params.auth(), params.setupOptions());
    }

    @Override
    public String toString() {
        return "nfs://" + params.server() + export;
    }
}
