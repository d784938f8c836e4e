package io.strata.nas.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.WriteFence;
import io.strata.nas.internal.rpc.RpcClient;
import io.strata.nas.internal.rpc.Xdr;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The NFS version 3 procedures (RFC 1813) the driver uses, over one {@link RpcClient}. Each
 * returns a future; a status other than NFS3_OK fails it with an {@link NfsException} whose
 * {@link ErrorCode} says what it means to a caller (NOENT is {@code FILE_NOT_FOUND}, NOSPC
 * {@code DATASTORE_FULL}, ...). NFS3ERR_JUKEBOX (the server is busy, try later) is retried here
 * after a pause, within the client's limit.
 */
final class Nfs3 {
    static final int PROGRAM = 100003;
    static final int VERSION = 3;
    /** The largest file handle NFSv3 allows. */
    static final int FHSIZE = 64;
    static final int MAX_NAME = 255;

    static final int OK = 0;
    static final int ERR_NOENT = 2;
    static final int ERR_ACCES = 13;
    static final int ERR_EXIST = 17;
    static final int ERR_STALE = 70;
    static final int ERR_BADHANDLE = 10001;
    static final int ERR_JUKEBOX = 10008;

    static final int TYPE_REG = 1;
    static final int TYPE_DIR = 2;

    /** How a WRITE is to be made durable. */
    enum Stable {
        UNSTABLE, DATA_SYNC, FILE_SYNC
    }

    /** An NFS file handle: opaque bytes, at most {@link #FHSIZE}. */
    record Fh(byte[] bytes) {
        Fh {
            if (bytes.length == 0 || bytes.length > FHSIZE) {
                throw new StorageException(ErrorCode.IO_ERROR, "a file handle of " + bytes.length + " bytes");
            }
            bytes = bytes.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Fh f && Arrays.equals(bytes, f.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return HexFormat.of().formatHex(bytes);
        }
    }

    /** The attributes of a file (fattr3) that the driver uses. */
    record Attr(int type, int mode, long size, long used, long fileId, long mtimeSeconds, int mtimeNanos) {
        boolean isDirectory() {
            return type == TYPE_DIR;
        }

        boolean isRegular() {
            return type == TYPE_REG;
        }
    }

    /** A name looked up or created: its handle (absent when the server did not send one) and attributes. */
    record Entry(Fh fh, Attr attr) {
    }

    /** What a READ returned. */
    record ReadResult(int count, boolean eof) {
    }

    /** What a WRITE returned: bytes taken, how durable, and the server's write verifier. */
    record WriteResult(int count, Stable committed, long verifier) {
    }

    /** FSSTAT: bytes in all, free, free for this user. */
    record FsStat(long totalBytes, long freeBytes, long availableBytes) {
    }

    /** FSINFO: transfer sizes and the largest file. */
    record FsInfo(int readMax, int readPreferred, int writeMax, int writePreferred, long maxFileSize) {
    }

    /** An NFS status other than NFS3_OK, with the meaning a caller acts on. */
    static final class NfsException extends StorageException {
        private static final long serialVersionUID = 1L;
        private final int status;

        NfsException(int status, String message) {
            super(codeOf(status), message);
            this.status = status;
        }

        int status() {
            return status;
        }

        /** @return whether the handle no longer names a file (the server lost it): look it up again by path */
        boolean staleHandle() {
            return status == ERR_STALE || status == ERR_BADHANDLE;
        }
    }

    static ErrorCode codeOf(int status) {
        return switch (status) {
            case ERR_NOENT -> ErrorCode.FILE_NOT_FOUND;
            case 1, ERR_ACCES -> ErrorCode.PERMISSION_DENIED;
            case ERR_EXIST -> ErrorCode.ALREADY_EXISTS;
            case 27 -> ErrorCode.SIZE_TOO_LARGE;
            case 28, 69 -> ErrorCode.DATASTORE_FULL;
            case 30 -> ErrorCode.READ_ONLY;
            case 22, 63 -> ErrorCode.INVALID_ARGUMENT;
            case 10004 -> ErrorCode.UNSUPPORTED;
            default -> ErrorCode.IO_ERROR;
        };
    }

    static String statusName(int status) {
        return switch (status) {
            case 1 -> "NFS3ERR_PERM";
            case ERR_NOENT -> "NFS3ERR_NOENT";
            case 5 -> "NFS3ERR_IO";
            case 6 -> "NFS3ERR_NXIO";
            case ERR_ACCES -> "NFS3ERR_ACCES";
            case ERR_EXIST -> "NFS3ERR_EXIST";
            case 18 -> "NFS3ERR_XDEV";
            case 19 -> "NFS3ERR_NODEV";
            case 20 -> "NFS3ERR_NOTDIR";
            case 21 -> "NFS3ERR_ISDIR";
            case 22 -> "NFS3ERR_INVAL";
            case 27 -> "NFS3ERR_FBIG";
            case 28 -> "NFS3ERR_NOSPC";
            case 30 -> "NFS3ERR_ROFS";
            case 31 -> "NFS3ERR_MLINK";
            case 63 -> "NFS3ERR_NAMETOOLONG";
            case 66 -> "NFS3ERR_NOTEMPTY";
            case 69 -> "NFS3ERR_DQUOT";
            case ERR_STALE -> "NFS3ERR_STALE";
            case 71 -> "NFS3ERR_REMOTE";
            case ERR_BADHANDLE -> "NFS3ERR_BADHANDLE";
            case 10002 -> "NFS3ERR_NOT_SYNC";
            case 10003 -> "NFS3ERR_BAD_COOKIE";
            case 10004 -> "NFS3ERR_NOTSUPP";
            case 10005 -> "NFS3ERR_TOOSMALL";
            case 10006 -> "NFS3ERR_SERVERFAULT";
            case 10007 -> "NFS3ERR_BADTYPE";
            case ERR_JUKEBOX -> "NFS3ERR_JUKEBOX";
            default -> "NFS status " + status;
        };
    }

    private static final long JUKEBOX_PAUSE_MS = 250;

    private final RpcClient rpc;
    private final WriteFence fence;

    Nfs3(RpcClient rpc) {
        this(rpc, null);
    }

    private Nfs3(RpcClient rpc, WriteFence fence) {
        this.rpc = rpc;
        this.fence = fence;
    }

    /**
     * The same client whose calls are each sent, and sent again, only while {@code fence} passes
     * (the RPC client checks it right before the call goes to the connection).
     */
    Nfs3 fenced(WriteFence fence) {
        return new Nfs3(rpc, java.util.Objects.requireNonNull(fence, "fence"));
    }

    RpcClient rpc() {
        return rpc;
    }

    // ------------------------------------------------------------------ procedures

    CompletableFuture<Attr> getattr(Fh fh) {
        return call(1, "GETATTR", args().fh(fh), null, in -> attr(in), "GETATTR");
    }

    CompletableFuture<Entry> lookup(Fh dir, String name) {
        return call(3, "LOOKUP", args().fh(dir).name(name), null, in -> {
            Fh fh = fh(in);
            Attr a = postOpAttr(in);
            return new Entry(fh, a);
        }, "LOOKUP " + name);
    }

    /**
     * Reads up to {@code dst.remaining()} bytes at {@code offset} into {@code dst} (advancing its
     * position by the count returned).
     */
    CompletableFuture<ReadResult> read(Fh fh, long offset, ByteBuffer dst) {
        int count = dst.remaining();
        // The data goes from the connection straight into dst (RpcClient.Bulk): found after the
        // status, the file's attributes, the count and the eof flag.
        RpcClient.Bulk data = results -> {
            if (results.int32() != OK) {
                return -1;
            }
            postOpAttr(results);
            results.uint32();
            results.bool();
            return (int) results.uint32();
        };
        return call(6, "READ", args().fh(fh).u64(offset).u32(count), null, dst, data, in -> {
            postOpAttr(in);
            long n = in.uint32();
            boolean eof = in.bool();
            int got = in.opaqueInto(dst, count);
            if (got != n) {
                throw new StorageException(ErrorCode.IO_ERROR, "READ: the server said " + n + " bytes and sent "
                        + got);
            }
            return new ReadResult(got, eof);
        }, "READ");
    }

    /** Writes all of {@code src} (left as given: its position does not move). */
    CompletableFuture<WriteResult> write(Fh fh, long offset, ByteBuffer src, Stable stable) {
        int count = src.remaining();
        A a = args().fh(fh).u64(offset).u32(count).u32(stable.ordinal()).u32(count);
        return call(7, "WRITE", a, src, in -> {
            wcc(in);
            long n = in.uint32();
            int committed = in.int32();
            long verf = in.uint64();
            if (committed < 0 || committed > 2) {
                throw new StorageException(ErrorCode.IO_ERROR, "WRITE: stable_how " + committed);
            }
            return new WriteResult((int) Math.min(n, Integer.MAX_VALUE), Stable.values()[committed], verf);
        }, "WRITE");
    }

    /** @return the server's write verifier after committing everything written to the file */
    CompletableFuture<Long> commit(Fh fh) {
        return call(21, "COMMIT", args().fh(fh).u64(0).u32(0), null, in -> {
            wcc(in);
            return in.uint64();
        }, "COMMIT");
    }

    /**
     * CREATE of a regular file.
     *
     * @param guarded fail with {@code ALREADY_EXISTS} when the name exists (GUARDED), else
     *        open what is there (UNCHECKED, without changing its size)
     */
    CompletableFuture<Entry> create(Fh dir, String name, boolean guarded, int mode) {
        A a = args().fh(dir).name(name).u32(guarded ? 1 : 0);
        a.out.bool(true).int32(mode); // mode
        a.out.bool(false).bool(false).bool(false); // uid, gid, size
        a.out.int32(0).int32(0); // atime, mtime: don't change
        return call(8, "CREATE", a, null, in -> created(in), "CREATE " + name);
    }

    CompletableFuture<Entry> mkdir(Fh dir, String name, int mode) {
        A a = args().fh(dir).name(name);
        a.out.bool(true).int32(mode).bool(false).bool(false).bool(false).int32(0).int32(0);
        return call(9, "MKDIR", a, null, in -> created(in), "MKDIR " + name);
    }

    CompletableFuture<Void> remove(Fh dir, String name) {
        return call(12, "REMOVE", args().fh(dir).name(name), null, in -> null, "REMOVE " + name);
    }

    CompletableFuture<Void> rmdir(Fh dir, String name) {
        return call(13, "RMDIR", args().fh(dir).name(name), null, in -> null, "RMDIR " + name);
    }

    CompletableFuture<Void> rename(Fh fromDir, String from, Fh toDir, String to) {
        return call(14, "RENAME", args().fh(fromDir).name(from).fh(toDir).name(to), null, in -> null,
                "RENAME " + from + " " + to);
    }

    /** SETATTR of the size (truncate or extend). */
    CompletableFuture<Void> setSize(Fh fh, long size) {
        A a = args().fh(fh);
        a.out.bool(false).bool(false).bool(false).bool(true).uint64(size).int32(0).int32(0);
        a.out.bool(false); // no guard
        return call(2, "SETATTR", a, null, in -> null, "SETATTR size " + size);
    }

    /** A name READDIRPLUS listed, with its attributes when the server sent them. */
    record DirEntry(String name, Attr attr) {
    }

    /**
     * @return every entry of the directory but "." and "..", with attributes, reading it in as
     *         many READDIRPLUS calls as it takes
     */
    CompletableFuture<List<DirEntry>> readdirplus(Fh dir) {
        List<DirEntry> entries = new ArrayList<>();
        return readdirplusFrom(dir, 0, new byte[8], entries, 0).thenApply(v -> entries);
    }

    private CompletableFuture<Void> readdirplusFrom(Fh dir, long cookie, byte[] verf, List<DirEntry> out,
            int rounds) {
        if (rounds > 100_000) {
            return CompletableFuture.failedFuture(new StorageException(ErrorCode.IO_ERROR,
                    "READDIRPLUS: the server did not reach the end of the directory"));
        }
        A a = args().fh(dir).u64(cookie);
        a.out.fixed(verf);
        a.out.int32(16 * 1024).int32(256 * 1024); // dircount, maxcount
        long[] last = {cookie};
        byte[][] nextVerf = {verf};
        return call(17, "READDIRPLUS", a, null, in -> {
            postOpAttr(in);
            nextVerf[0] = in.fixed(8);
            boolean any = false;
            while (in.bool()) {
                in.uint64(); // fileid
                String name = in.string(MAX_NAME);
                last[0] = in.uint64();
                Attr attr = postOpAttr(in);
                if (in.bool()) {
                    fh(in);
                }
                any = true;
                if (!name.equals(".") && !name.equals("..")) {
                    out.add(new DirEntry(name, attr));
                }
            }
            boolean eof = in.bool();
            if (!eof && !any) {
                throw new StorageException(ErrorCode.IO_ERROR, "READDIRPLUS: an empty reply that is not the end");
            }
            return eof;
        }, "READDIRPLUS").thenCompose(eof -> eof ? CompletableFuture.completedFuture(null)
                : readdirplusFrom(dir, last[0], nextVerf[0], out, rounds + 1));
    }

    CompletableFuture<FsStat> fsstat(Fh root) {
        return call(18, "FSSTAT", args().fh(root), null, in -> {
            postOpAttr(in);
            long t = in.uint64();
            long f = in.uint64();
            long a = in.uint64();
            return new FsStat(t, f, a);
        }, "FSSTAT");
    }

    CompletableFuture<FsInfo> fsinfo(Fh root) {
        return call(19, "FSINFO", args().fh(root), null, in -> {
            postOpAttr(in);
            int rtmax = (int) Math.min(in.uint32(), Integer.MAX_VALUE);
            int rtpref = (int) Math.min(in.uint32(), Integer.MAX_VALUE);
            in.uint32(); // rtmult
            int wtmax = (int) Math.min(in.uint32(), Integer.MAX_VALUE);
            int wtpref = (int) Math.min(in.uint32(), Integer.MAX_VALUE);
            in.uint32(); // wtmult
            in.uint32(); // dtpref
            long maxFile = in.uint64();
            return new FsInfo(rtmax, rtpref, wtmax, wtpref, maxFile);
        }, "FSINFO");
    }

    // ------------------------------------------------------------------ encoding and decoding

    /** Arguments under construction. */
    static final class A {
        final Xdr.Out out = new Xdr.Out(128);

        A fh(Fh fh) {
            out.opaque(fh.bytes());
            return this;
        }

        A name(String name) {
            out.string(name);
            return this;
        }

        A u64(long v) {
            out.uint64(v);
            return this;
        }

        A u32(int v) {
            out.int32(v);
            return this;
        }
    }

    private static A args() {
        return new A();
    }

    /**
     * Sends a procedure, checks the status; on NFS3_OK decodes the rest with {@code ok}, else
     * skips the failure's attributes and fails with an {@link NfsException}.
     */
    private <T> CompletableFuture<T> call(int proc, String name, A args, ByteBuffer data, Function<Xdr.In, T> ok,
            String what) {
        return call(proc, name, args, data, null, null, ok, what);
    }

    /** As above, with the reply's bulk data read straight into {@code sink} when {@code bulk} finds it. */
    private <T> CompletableFuture<T> call(int proc, String name, A args, ByteBuffer data, ByteBuffer sink,
            RpcClient.Bulk bulk, Function<Xdr.In, T> ok, String what) {
        Supplier<CompletableFuture<Xdr.In>> send = () -> rpc.call(proc, name, args.out, data, sink, bulk, fence);
        return withJukebox(send, 0).thenApply(in -> {
            try {
                int status = in.int32();
                if (status != OK) {
                    throw new NfsException(status, rpc.label() + ": " + what + ": " + statusName(status));
                }
                return ok.apply(in);
            } catch (Xdr.XdrException e) {
                throw new StorageException(ErrorCode.IO_ERROR, rpc.label() + ": " + what + ": malformed reply: "
                        + e.getMessage());
            }
        });
    }

    private CompletableFuture<Xdr.In> withJukebox(Supplier<CompletableFuture<Xdr.In>> send, int tries) {
        return send.get().thenCompose(in -> {
            if (in.remaining() >= 4 && peekStatus(in) == ERR_JUKEBOX && tries < 240) {
                return CompletableFuture.supplyAsync(() -> null,
                        CompletableFuture.delayedExecutor(JUKEBOX_PAUSE_MS, TimeUnit.MILLISECONDS))
                        .thenCompose(v -> withJukebox(send, tries + 1));
            }
            return CompletableFuture.completedFuture(in);
        });
    }

    private static int peekStatus(Xdr.In in) {
        return in.peekInt32();
    }

    private static Fh fh(Xdr.In in) {
        return new Fh(in.opaque(FHSIZE));
    }

    static Attr attr(Xdr.In in) {
        int type = in.int32();
        int mode = in.int32();
        in.skip(12); // nlink, uid, gid
        long size = in.uint64();
        long used = in.uint64();
        in.skip(8 + 8); // rdev, fsid
        long fileId = in.uint64();
        in.skip(8); // atime
        long mtime = in.uint32();
        int mtimeNanos = in.int32();
        in.skip(8); // ctime
        return new Attr(type, mode, size, used, fileId, mtime, mtimeNanos);
    }

    private static Attr postOpAttr(Xdr.In in) {
        return in.bool() ? attr(in) : null;
    }

    private static void wcc(Xdr.In in) {
        if (in.bool()) {
            in.skip(24); // size, mtime, ctime before
        }
        postOpAttr(in);
    }

    private static Entry created(Xdr.In in) {
        Fh fh = in.bool() ? fh(in) : null;
        Attr a = postOpAttr(in);
        wcc(in);
        return new Entry(fh, a);
    }

    /** Unwraps what a future failed with, for synchronous callers. */
    static RuntimeException unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof RuntimeException r) {
            return r;
        }
        return new StorageException(ErrorCode.INTERNAL, String.valueOf(t));
    }
}
