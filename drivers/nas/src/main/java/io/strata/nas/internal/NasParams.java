package io.strata.nas.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.nas.internal.rpc.Auth;
import io.strata.nas.internal.rpc.RpcClient;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/** The parameters of a {@code nas} resource, checked. */
final class NasParams {
    static final int DEFAULT_NFS_PORT = 2049;
    static final int DEFAULT_TIMEOUT_S = 60;
    static final long RETAIN_BYTES = 64L << 20;

    static final Map<String, String> OWN;

    static {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("server", "the NFS server: host name or IP address (required)");
        m.put("version", "NFS version; only 3 (the default)");
        m.put("nfsport", "the server's NFS port (default: from its portmapper, else 2049)");
        m.put("mountport", "the server's MOUNT port (default: from its portmapper)");
        m.put("timeout", "seconds a request may go unanswered (server down or unreachable) before it fails with"
                + " DEVICE_UNAVAILABLE; until then it is sent again as the server returns (default "
                + DEFAULT_TIMEOUT_S + ", 1..86400)");
        m.put("uid", "the user id requests are made as (AUTH_SYS, default 0)");
        m.put("gid", "the group id requests are made as (AUTH_SYS, default 0)");
        OWN = Collections.unmodifiableMap(m);
    }

    private final String server;
    private final Integer nfsPort;
    private final Integer mountPort;
    private final long limitMs;
    private final Auth auth;
    private volatile InetSocketAddress nfsAddress;
    private volatile InetSocketAddress mountAddress;

    private NasParams(String server, Integer nfsPort, Integer mountPort, long limitMs, Auth auth) {
        this.server = server;
        this.nfsPort = nfsPort;
        this.mountPort = mountPort;
        this.limitMs = limitMs;
        this.auth = auth;
    }

    static NasParams parse(String resource, Map<String, String> p) {
        for (String k : p.keySet()) {
            if (!OWN.containsKey(k)) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource + ": unknown parameter '"
                        + k + "' (known: " + new TreeSet<>(OWN.keySet()) + ")");
            }
        }
        String server = p.get("server");
        if (server == null || server.isBlank()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource
                    + ": server=<host> is required");
        }
        if (!server.matches("[A-Za-z0-9.:\\[\\]-]+")) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource + ": server '"
                    + io.strata.api.Names.printable(server) + "' is not a host name or address");
        }
        String version = p.getOrDefault("version", "3");
        if (!version.equals("3")) {
            throw new StorageException(version.equals("4") || version.startsWith("4.") ? ErrorCode.UNSUPPORTED
                    : ErrorCode.INVALID_ARGUMENT, "resource " + resource + ": NFS version " + version
                    + " is not supported; this driver speaks NFSv3 (version=3), with leases on the export for locking");
        }
        Integer nfsPort = port(resource, p, "nfsport");
        Integer mountPort = port(resource, p, "mountport");
        long timeout = number(resource, p, "timeout", DEFAULT_TIMEOUT_S, 1, 86_400);
        int uid = (int) number(resource, p, "uid", 0, 0, Integer.MAX_VALUE);
        int gid = (int) number(resource, p, "gid", 0, 0, Integer.MAX_VALUE);
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "strata";
        }
        return new NasParams(server.replaceAll("^\\[|\\]$", ""), nfsPort, mountPort, timeout * 1000,
                new Auth(host, uid, gid));
    }

    private static Integer port(String resource, Map<String, String> p, String key) {
        return p.containsKey(key) ? (int) number(resource, p, key, 0, 1, 65535) : null;
    }

    private static long number(String resource, Map<String, String> p, String key, long dflt, long min, long max) {
        String v = p.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n < min || n > max) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource + ": " + key + "='"
                    + io.strata.api.Names.printable(v) + "' is not a number from " + min + " to " + max);
        }
    }

    String server() {
        return server;
    }

    long limitMs() {
        return limitMs;
    }

    Auth auth() {
        return auth;
    }

    long retainBytes() {
        return RETAIN_BYTES;
    }

    /** Options of the short calls that set things up (MOUNT, portmapper): they fail fast. */
    RpcClient.Options setupOptions() {
        long limit = Math.min(limitMs, 10_000);
        return new RpcClient.Options((int) Math.min(limit, 5_000), (int) limit, limit, 1 << 20);
    }

    /** Options of the NFS connection: requests wait up to the timeout for a server that is down. */
    RpcClient.Options ioOptions() {
        return RpcClient.Options.withLimit(limitMs);
    }

    /** The NFS service's address: the port given, else the portmapper's answer, else 2049. */
    InetSocketAddress nfsAddress() {
        InetSocketAddress a = nfsAddress;
        if (a == null) {
            int port;
            if (nfsPort != null) {
                port = nfsPort;
            } else {
                try {
                    port = MountProtocol.port(server, Nfs3.PROGRAM, Nfs3.VERSION, auth, setupOptions());
                } catch (StorageException e) {
                    port = DEFAULT_NFS_PORT;
                }
            }
            a = new InetSocketAddress(server, port);
            nfsAddress = a;
        }
        return a;
    }

    /** The MOUNT service's address: the port given, else the portmapper's answer. */
    InetSocketAddress mountAddress() {
        InetSocketAddress a = mountAddress;
        if (a == null) {
            int port = mountPort != null ? mountPort
                    : MountProtocol.port(server, MountProtocol.PROGRAM, MountProtocol.VERSION, auth, setupOptions());
            a = new InetSocketAddress(server, port);
            mountAddress = a;
        }
        return a;
    }

    /** @return the URI of an export, with the ports when they were given */
    String uri(String export) {
        StringBuilder b = new StringBuilder("nfs://").append(server.contains(":") ? "[" + server + "]" : server)
                .append(export);
        String sep = "?";
        if (nfsPort != null) {
            b.append(sep).append("nfsport=").append(nfsPort);
            sep = "&";
        }
        if (mountPort != null) {
            b.append(sep).append("mountport=").append(mountPort);
        }
        return b.toString();
    }
}
