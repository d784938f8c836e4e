package io.strata.qcow2.internal;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The qcow2 checker, after qemu-img check: recounts every reference (header, L1 table,
 * refcount table and blocks, L2 tables, data clusters), compares with the stored
 * refcounts, and checks pointers (alignment, end of file), the COPIED flags and the
 * link to the backing file.
 *
 * <p>Errors: a refcount lower than the references, a cluster referenced twice, pointers
 * that are unaligned or past the end of the file, wrong COPIED flags, a damaged header,
 * compressed clusters, a broken backing link. Leaks: a refcount higher than the
 * references. Repair lowers leaked refcounts, raises refcounts that are too low where the
 * cluster is referenced exactly once, fixes COPIED flags and clears the dirty bit; it
 * never touches a cluster referenced twice or a pointer that is unaligned or past the end.
 */
final class Checker {
    private static final long L1_RESERVED = 0x7f00_0000_0000_01feL;
    private static final long L2_RESERVED = 0x3f00_0000_0000_01feL;

    private final Qcow2Format format;
    private final DatastoreFile file;
    private final BackingResolver resolver;

    // results of one scan
    private final List<String> errors = new ArrayList<>();
    private final List<String> leaks = new ArrayList<>();
    private long leakedBytes;
    private Header header;
    private long fileSize;
    private int cs;
    private int cb;
    private int[] refs;
    private long[] rt;
    private boolean refcountsUsable;
    private boolean refcountsRepairable;
    /** Whether an error was found that repair does not fix. */
    private boolean blocking;
    /** [location in file, entry] of every L1 and L2 entry that points at a cluster. */
    private final List<long[]> pointers = new ArrayList<>();
    private byte[][] blocks;

    Checker(Qcow2Format format, DatastoreFile file, BackingResolver resolver) {
        this.format = format;
        this.file = file;
        this.resolver = resolver;
    }

    CheckReport run(boolean repair) {
        scan();
        if (!repair || (errors.isEmpty() && leaks.isEmpty())) {
            return report(List.of());
        }
        if (!file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name()
                    + "' is open read-only; repair needs it writable");
        }
        boolean free = mayFree();
        List<String> repaired = repair(free);
        reset();
        scan();
        if (!free && !leaks.isEmpty()) {
            leaks.add(0, hasBitmaps() && !blocking
                    ? "not repaired: " + leaks.size() + " leak(s) left as they are because the image has persistent"
                            + " bitmaps, whose clusters the checker does not follow (use qemu-img check -r leaks)"
                    : "not repaired: " + leaks.size() + " leak(s) left as they are because the image has errors"
                            + " repair cannot fix; a leaked cluster may be data behind a damaged pointer, so nothing"
                            + " is freed until those errors are fixed");
        }
        return report(repaired);
    }

    /** An error repair cannot fix: while one remains, leaks are not freed. */
    private void error(String message) {
        errors.add(message);
        blocking = true;
    }

    /** An error repair fixes (when the refcounts are repairable): a refcount of 0 for a cluster used once,
     *  a wrong COPIED flag, the dirty or corrupt bit. */
    private void fixable(String message) {
        errors.add(message);
    }

    /** Whether repair may free leaks: only when every error is one it fixes. */
    private boolean mayFree() {
        return !blocking && refcountsRepairable && !hasBitmaps();
    }

    /** Persistent bitmaps own clusters the checker does not follow: they would look leaked. */
    private boolean hasBitmaps() {
        return header != null && header.otherExtensions().stream().anyMatch(e -> e.type() == EXT_BITMAPS);
    }

    private static final int EXT_BITMAPS = 0x23852875;

    private CheckReport report(List<String> repaired) {
        return new CheckReport(file.name(), errors, leaks, repaired, leakedBytes);
    }

    private void reset() {
        errors.clear();
        leaks.clear();
        pointers.clear();
        leakedBytes = 0;
        blocking = false;
    }

    // --------------------------------------------------------------------- scan

    private void scan() {
        fileSize = file.size();
        try {
            header = Inspector.readHeader(file);
        } catch (StorageException e) {
            error(e.getMessage());
            return;
        }
        cb = header.clusterBits();
        cs = header.clusterSize();
        if (header.nbSnapshots() > 0) {
            error("image has " + header.nbSnapshots() + " internal snapshot(s); the checker does not"
                    + " follow snapshot tables (use qemu-img check)");
            return;
        }
        long nClusters = (fileSize + cs - 1) / cs;
        if (nClusters > Integer.MAX_VALUE - 8) {
            error("image file is too large for the checker (" + fileSize + " bytes)");
            return;
        }
        refs = new int[(int) nClusters];
        refcountsRepairable = true;
        ref(0, "header");

        long l1Bytes = header.l1Size() * 8L;
        boolean l1Ok = header.l1Size() >= 0 && l1Bytes <= Qcow2.MAX_L1_BYTES;
        if (!l1Ok) {
            error("L1 table size " + Integer.toUnsignedString(header.l1Size()) + " is out of range");
        } else {
            long needed = Inspector.l1Needed(header);
            if (header.l1Size() < needed) {
                error("L1 table of " + header.l1Size() + " entries cannot map the virtual size " + header.size()
                        + " (needs " + needed + ")");
            }
            if (header.l1Size() > 0) {
                l1Ok = region(header.l1TableOffset(), l1Bytes, "L1 table");
            }
        }
        if (header.backingFormat() != null && !Qcow2Format.TYPE.equals(header.backingFormat())) {
            error("the backing file is in the format '" + header.backingFormat() + "'; Strata chains qcow2"
                    + " images only");
        }
        long rtBytes = (long) header.refcountTableClusters() * cs;
        refcountsUsable = header.refcountTableClusters() > 0 && rtBytes <= Qcow2.MAX_REFTABLE_BYTES
                && region(header.refcountTableOffset(), rtBytes, "refcount table");
        if (header.refcountTableClusters() <= 0 || rtBytes > Qcow2.MAX_REFTABLE_BYTES) {
            error("refcount table size " + Integer.toUnsignedString(header.refcountTableClusters())
                    + " clusters is out of range");
        }
        rt = refcountsUsable ? Inspector.readTable(file, header.refcountTableOffset(), (int) (rtBytes / 8))
                : new long[0];
        blocks = new byte[rt.length][];
        for (int i = 0; i < rt.length; i++) {
            if (rt[i] == 0) {
                continue;
            }
            if ((rt[i] & 0x1ff) != 0) {
                error("refcount table entry " + i + " has reserved bits set (0x" + Long.toHexString(rt[i]) + ")");
            }
            long off = rt[i] & ~0x1ffL;
            if (ref(off, "refcount block " + i)) {
                blocks[i] = new byte[cs];
                Io.readPadded(file, ByteBuffer.wrap(blocks[i]), off);
            } else {
                refcountsUsable = false;
            }
        }
        if (!refcountsUsable) {
            refcountsRepairable = false;
        }
        if ((header.incompatible() & Qcow2.INCOMPAT_DIRTY) != 0) {
            fixable("image is marked dirty: its refcounts may be stale");
        }
        if ((header.incompatible() & Qcow2.INCOMPAT_CORRUPT) != 0) {
            fixable("image is marked corrupt (qemu found an inconsistency while writing it)");
        }

        if (l1Ok && header.l1Size() > 0) {
            long[] l1 = Inspector.readTable(file, header.l1TableOffset(), header.l1Size());
            for (int i = 0; i < l1.length; i++) {
                long e = l1[i];
                if ((e & L1_RESERVED) != 0) {
                    error("L1 entry " + i + " has reserved bits set (0x" + Long.toHexString(e) + ")");
                }
                long off = Entries.offset(e);
                if (off == 0) {
                    continue;
                }
                if (!ref(off, "L2 table of L1 entry " + i)) {
                    continue;
                }
                pointers.add(new long[] {header.l1TableOffset() + 8L * i, e});
                long[] l2 = Inspector.readTable(file, off, cs / 8);
                for (int j = 0; j < l2.length; j++) {
                    long guest = (((long) i << (cb - 3)) + j) << cb;
                    long x = l2[j];
                    Entries.State st = Entries.state(x);
                    if (st == Entries.State.COMPRESSED) {
                        error("guest offset " + guest + " is stored compressed, which Strata does not check");
                        refcountsRepairable = false;
                        continue;
                    }
                    if ((x & L2_RESERVED) != 0) {
                        error("L2 entry for guest offset " + guest + " has reserved bits set (0x"
                                + Long.toHexString(x) + ")");
                    }
                    if (st == Entries.State.NORMAL || st == Entries.State.ZERO_ALLOC) {
                        if (ref(Entries.offset(x), "data cluster of guest offset " + guest)) {
                            pointers.add(new long[] {off + 8L * j, x});
                        }
                    }
                }
            }
        }

        if (refcountsUsable) {
            compareRefcounts(nClusters);
            for (long[] p : pointers) {
                int rc = stored(Entries.offset(p[1]) >>> cb);
                boolean copied = (p[1] & Entries.COPIED) != 0;
                if (copied != (rc == 1)) {
                    fixable("entry at file offset " + p[0] + " (pointing to " + Entries.offset(p[1])
                            + ") has the COPIED flag " + (copied ? "set" : "clear") + " but refcount " + rc);
                }
            }
        }

        if (header.backingFile() != null && resolver != null) {
            try {
                format.openBacking(header.backingFile(), resolver, 2, file.name()).close();
            } catch (StorageException e) {
                error("backing file '" + header.backingFile() + "': " + e.getMessage());
            }
        }
    }

    private void compareRefcounts(long nClusters) {
        for (long c = 0; c < nClusters; c++) {
            int s = stored(c);
            int r = refs[(int) c];
            if (r > 1) {
                error("cluster at " + (c << cb) + " is referenced " + r + " times");
                refcountsRepairable = false;
            }
            if (s < r && r == 1) {
                fixable("cluster at " + (c << cb) + " has refcount " + s + " but is referenced " + r
                        + " time(s)");
            } else if (s < r) {
                error("cluster at " + (c << cb) + " has refcount " + s + " but is referenced " + r
                        + " time(s)");
            } else if (s > r) {
                leaks.add("cluster at " + (c << cb) + " has refcount " + s + " but is referenced " + r + " time(s)");
                if (r == 0) {
                    leakedBytes += cs;
                }
            }
        }
        int perBlock = cs / 2;
        for (int b = 0; b < blocks.length; b++) {
            if (blocks[b] == null) {
                continue;
            }
            for (int k = 0; k < perBlock; k++) {
                long c = (long) b * perBlock + k;
                if (c >= nClusters && RefcountBlock.get(blocks[b], k) != 0) {
                    leaks.add("cluster at " + (c << cb) + " past the end of the file has refcount "
                            + RefcountBlock.get(blocks[b], k));
                }
            }
        }
    }

    private int stored(long cluster) {
        int perBlock = cs / 2;
        long b = cluster / perBlock;
        if (b >= blocks.length || blocks[(int) b] == null) {
            return 0;
        }
        return RefcountBlock.get(blocks[(int) b], (int) (cluster % perBlock));
    }

    private boolean region(long off, long length, String what) {
        if (off <= 0 || !Bounds.inRange(off, length, Qcow2.roundUp(fileSize, cs))) {
            error(what + " at " + Bounds.unsigned(off) + " (" + length + " bytes) is not a range of clusters"
                    + " past the header and before the end of the file (" + fileSize + " bytes)");
            refcountsRepairable = false;
            return false;
        }
        boolean ok = true;
        for (long p = off; p < off + length; p += cs) {
            ok &= ref(p, what);
            if (!ok) {
                break;
            }
        }
        return ok;
    }

    /** Counts one reference to the cluster at {@code off}; reports and refuses a bad pointer. */
    private boolean ref(long off, String what) {
        if (off % cs != 0) {
            error(what + " at " + Bounds.unsigned(off) + " is not cluster-aligned");
            refcountsRepairable = false;
            return false;
        }
        if (off >= fileSize || off < 0) {
            error(what + " at " + Bounds.unsigned(off) + " lies past the end of the file (" + fileSize + " bytes)");
            refcountsRepairable = false;
            return false;
        }
        refs[(int) (off >>> cb)]++;
        return true;
    }

    // --------------------------------------------------------------------- repair

    /** @param free whether leaks may be freed (no error remains that repair cannot fix) */
    private List<String> repair(boolean free) {
        List<String> done = new ArrayList<>();
        if (header == null || !refcountsUsable) {
            return done;
        }
        long nClusters = refs.length;
        Refcounts rc = new Refcounts(file, cb, header.refcountTableOffset(), rt.clone(), fileSize,
                (off, clusters) -> {
                    header = header.withRefcountTable(off, clusters);
                    file.write(ByteBuffer.wrap(header.encode()), 0);
                    file.flush();
                });
        int raised = 0;
        if (refcountsRepairable) {
            for (long c = 0; c < nClusters; c++) {
                if (refs[(int) c] == 1 && stored(c) == 0) {
                    rc.set(c, 1, 1);
                    raised++;
                }
            }
            rc.writeDirty();
            file.flush();
            if (raised > 0) {
                done.add("set the refcount of " + raised + " referenced cluster(s) to 1");
            }
        }
        int lowered = 0;
        int perBlock = cs / 2;
        for (int b = 0; free && b < blocks.length; b++) {
            if (blocks[b] == null) {
                continue;
            }
            for (int k = 0; k < perBlock; k++) {
                long c = (long) b * perBlock + k;
                int s = RefcountBlock.get(blocks[b], k);
                int r = c < nClusters ? refs[(int) c] : 0;
                if (s > r && r <= 1) {
                    rc.set(c, 1, r);
                    lowered++;
                }
            }
        }
        rc.writeDirty();
        file.flush();
        if (lowered > 0) {
            done.add("freed " + lowered + " leaked cluster(s)");
        }
        if (refcountsRepairable) {
            int flags = 0;
            for (long[] p : pointers) {
                long off = Entries.offset(p[1]);
                boolean one = rc.get(off >>> cb) == 1;
                long fixed = one ? p[1] | Entries.COPIED : p[1] & ~Entries.COPIED;
                if (fixed != p[1]) {
                    file.write(ByteBuffer.wrap(Entries.encode(fixed)), p[0]);
                    flags++;
                }
            }
            file.flush();
            if (flags > 0) {
                done.add("corrected the COPIED flag of " + flags + " entr" + (flags == 1 ? "y" : "ies"));
            }
            if ((header.incompatible() & Qcow2.INCOMPAT_DIRTY) != 0) {
                header = header.withIncompatible(header.incompatible() & ~Qcow2.INCOMPAT_DIRTY);
                file.write(ByteBuffer.wrap(header.encode()), 0);
                file.flush();
                done.add("cleared the dirty bit after rebuilding refcounts");
            }
            if (free && (header.incompatible() & Qcow2.INCOMPAT_CORRUPT) != 0) {
                header = header.withIncompatible(header.incompatible() & ~Qcow2.INCOMPAT_CORRUPT);
                file.write(ByteBuffer.wrap(header.encode()), 0);
                file.flush();
                done.add("cleared the corrupt bit: no error remains that repair cannot fix");
            }
        }
        return done;
    }
}
