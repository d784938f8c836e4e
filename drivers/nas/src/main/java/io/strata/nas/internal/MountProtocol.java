package io.strata.nas.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.nas.internal.rpc.Auth;
import io.strata.nas.internal.rpc.RpcClient;
import io.strata.nas.internal.rpc.Xdr;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The MOUNT protocol, version 3 (RFC 1813 appendix I), and the portmapper's GETPORT (RFC 1833,
 * version 2): how a client learns a server's exports and the root file handle of one. Each call
 * opens a connection of its own and closes it.
 */
final class MountProtocol {
    static final int PROGRAM = 100005;
    static final int VERSION = 3;
    static final int PORTMAP_PROGRAM = 100000;
    static final int PORTMAP_PORT = 111;
    private static final int MNTPATHLEN = 1024;

    /** An export as MOUNT EXPORT lists it: its path and the hosts or groups allowed (empty: everyone). */
    record Export(String path, List<String> groups) {
    }

    private MountProtocol() {
    }

    /** @return the exports the server lists */
    static List<Export> exports(InetSocketAddress mountd, Auth auth, RpcClient.Options options) {
        try (RpcClient c = RpcClient.connect("mount " + mountd.getHostString(), mountd, PROGRAM, VERSION, auth,
                options)) {
            Xdr.In in = await(c.call(5, "EXPORT", new Xdr.Out(0), null), options);
            List<Export> out = new ArrayList<>();
            while (in.bool()) {
                String dir = in.string(MNTPATHLEN);
                List<String> groups = new ArrayList<>();
                while (in.bool()) {
                    groups.add(in.string(MNTPATHLEN));
                }
                out.add(new Export(dir, List.copyOf(groups)));
                if (out.size() > 100_000) {
                    throw new StorageException(ErrorCode.IO_ERROR, "MOUNT EXPORT: a list without end");
                }
            }
            return out;
        } catch (Xdr.XdrException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "MOUNT EXPORT from " + mountd.getHostString()
                    + ": malformed reply: " + e.getMessage());
        }
    }

    /**
     * MNT: the root file handle of an export.
     *
     * @throws StorageException {@code DEVICE_NOT_FOUND} when the server has no such export,
     *         {@code PERMISSION_DENIED} when it refuses this host
     */
    static Nfs3.Fh mount(InetSocketAddress mountd, String path, Auth auth, RpcClient.Options options) {
        try (RpcClient c = RpcClient.connect("mount " + mountd.getHostString(), mountd, PROGRAM, VERSION, auth,
                options)) {
            Xdr.Out args = new Xdr.Out(path.length() + 8).string(path);
            Xdr.In in = await(c.call(1, "MNT", args, null), options);
            int status = in.int32();
            if (status != 0) {
                String where = mountd.getHostString() + ":" + path;
                throw switch (status) {
                    case 2, 20 -> new StorageException(ErrorCode.DEVICE_NOT_FOUND, "the NFS server has no export "
                            + where + " (MNT3ERR_" + (status == 2 ? "NOENT" : "NOTDIR") + ")");
                    case 1, 13 -> refused(mountd, path, where, status == 1 ? "PERM" : "ACCES", auth, options);
                    default -> new StorageException(ErrorCode.IO_ERROR, "mounting " + where + " failed: mount status "
                            + status);
                };
            }
            Nfs3.Fh fh = new Nfs3.Fh(in.opaque(Nfs3.FHSIZE));
            return fh;
        } catch (Xdr.XdrException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "MOUNT MNT " + path + " on " + mountd.getHostString()
                    + ": malformed reply: " + e.getMessage());
        }
    }

    /**
     * A refused MNT. Servers answer ACCES both for an export they have and refuse this host and
     * for one they do not have (nfs-ganesha does), and list only the exports a host may mount:
     * an export the list names is {@code PERMISSION_DENIED}, one it does not {@code DEVICE_NOT_FOUND}.
     */
    private static StorageException refused(InetSocketAddress mountd, String path, String where, String status,
            Auth auth, RpcClient.Options options) {
        List<String> listed;
        try {
            listed = exports(mountd, auth, options).stream().map(Export::path).toList();
        } catch (StorageException e) {
            listed = null;
        }
        if (listed != null && !listed.contains(path)) {
            return new StorageException(ErrorCode.DEVICE_NOT_FOUND, "the NFS server has no export " + where
                    + " that this host may mount (MNT3ERR_" + status + "; it lists " + (listed.isEmpty() ? "none"
                    : String.join(", ", listed)) + ")");
        }
        return new StorageException(ErrorCode.PERMISSION_DENIED, "the NFS server refuses this host access to "
                + where + " (MNT3ERR_" + status + ")");
    }

    /** UMNT: tells the server this host no longer uses the export (its list of clients only). Never throws. */
    static void unmount(InetSocketAddress mountd, String path, Auth auth, RpcClient.Options options) {
        try (RpcClient c = RpcClient.connect("mount " + mountd.getHostString(), mountd, PROGRAM, VERSION, auth,
                options)) {
            await(c.call(3, "UMNT", new Xdr.Out(path.length() + 8).string(path), null), options);
        } catch (RuntimeException e) {
            // the server forgets mounts by itself; nothing depends on this
        }
    }

    /**
     * GETPORT: the TCP port a program listens on, from the server's portmapper.
     *
     * @throws StorageException {@code DEVICE_UNAVAILABLE} when no portmapper answers or the
     *         program is not registered
     */
    static int port(String host, int program, int version, Auth auth, RpcClient.Options options) {
        InetSocketAddress pm = new InetSocketAddress(host, PORTMAP_PORT);
        try (RpcClient c = RpcClient.connect("portmap " + host, pm, PORTMAP_PROGRAM, 2, auth, options)) {
            Xdr.Out args = new Xdr.Out(16).int32(program).int32(version).int32(6).int32(0);
            long port = await(c.call(3, "GETPORT", args, null), options).uint32();
            if (port == 0 || port > 65535) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the portmapper of " + host + " knows no "
                        + (program == PROGRAM ? "MOUNT" : "NFS") + " version " + version + " over TCP (give its port)");
            }
            return (int) port;
        } catch (StorageException e) {
            if (e.code() == ErrorCode.DEVICE_UNAVAILABLE && !e.getMessage().contains("knows no")) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "no portmapper answers on " + host + ":"
                        + PORTMAP_PORT + " (give nfsport= and mountport=, or start rpcbind there): " + e.getMessage());
            }
            throw e;
        }
    }

    private static Xdr.In await(java.util.concurrent.CompletableFuture<Xdr.In> f, RpcClient.Options options) {
        try {
            return f.get(options.limitMs() + 1000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "no answer within " + options.limitMs() + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.CANCELLED, "interrupted");
        } catch (java.util.concurrent.ExecutionException e) {
            throw Nfs3.unwrap(e.getCause());
        }
    }
}
