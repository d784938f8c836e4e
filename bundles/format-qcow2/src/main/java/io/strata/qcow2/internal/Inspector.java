package io.strata.qcow2.internal;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Validates an image's metadata without writing anything: header, L1 table, refcount
 * table, and (up to {@link #eagerL2Bytes}) every L2 table. Every problem becomes a
 * {@code CORRUPT_IMAGE} naming the file and the problem.
 */
final class Inspector {
    /** L2 tables are validated at open up to this many bytes of them; larger images validate each table on first use. */
    static volatile long eagerL2Bytes = 64L << 20;

    /**
     * What a validated image holds.
     *
     * @param header the decoded header
     * @param fileSize the file size when inspected
     * @param l1 the active L1 table ({@code header.l1Size()} entries)
     * @param refcountTable the refcount table entries
     * @param l2Tables L2 tables validated at open, by file offset (empty for large images)
     * @param metadata sorted offsets of the clusters holding metadata (header, L1, refcount table and
     *     blocks, L2 tables), which no data entry may name
     */
    record Image(Header header, long fileSize, long[] l1, long[] refcountTable, Map<Long, long[]> l2Tables,
            long[] metadata) {
    }

    private Inspector() {
    }

    static boolean looksLikeQcow2(DatastoreFile file) {
        byte[] magic = Io.readBytes(file, 0, 4);
        return magic != null && ByteBuffer.wrap(magic).getInt() == Qcow2.MAGIC;
    }

    static StorageException corrupt(DatastoreFile file, Damage d) {
        if (d.unsupported) {
            return new StorageException(ErrorCode.CORRUPT_IMAGE, "qcow2 image '" + file.name()
                    + "' cannot be used: " + d.getMessage());
        }
        return new StorageException(ErrorCode.CORRUPT_IMAGE, "qcow2 image '" + file.name() + "' is damaged: "
                + d.getMessage());
    }

    /** Reads and decodes the header only. */
    static Header readHeader(DatastoreFile file) {
        try {
            return decodeHeader(file, file.size());
        } catch (Damage d) {
            throw corrupt(file, d);
        }
    }

    private static Header decodeHeader(DatastoreFile file, long fileSize) {
        int first = (int) Math.min(fileSize, Qcow2.HEADER_V3_LENGTH);
        byte[] start = new byte[first];
        Io.readFully(file, ByteBuffer.wrap(start), 0);
        if (first < 24) {
            return Header.decode(start); // fails with the right message
        }
        int bits = Header.peekClusterBits(start);
        if (bits < Qcow2.MIN_CLUSTER_BITS || bits > Qcow2.MAX_CLUSTER_BITS) {
            return Header.decode(start);
        }
        byte[] cluster = new byte[(int) Math.min(fileSize, 1L << bits)];
        Io.readFully(file, ByteBuffer.wrap(cluster), 0);
        return Header.decode(cluster);
    }

    static Image inspect(DatastoreFile file) {
        try {
            return validate(file);
        } catch (Damage d) {
            throw corrupt(file, d);
        }
    }

    private static Image validate(DatastoreFile file) {
        long fileSize = file.size();
        Header h = decodeHeader(file, fileSize);
        int cs = h.clusterSize();
        long l1Bytes = h.l1Size() * 8L;
        if (h.l1Size() < 0 || l1Bytes > Qcow2.MAX_L1_BYTES) {
            throw new Damage("L1 table size " + Integer.toUnsignedString(h.l1Size()) + " entries is out of range"
                    + " (at most " + Qcow2.MAX_L1_BYTES / 8 + ")");
        }
        long needed = l1Needed(h);
        if (h.l1Size() < needed) {
            throw new Damage("L1 table of " + h.l1Size() + " entries cannot map the virtual size " + h.size()
                    + " (needs " + needed + ")");
        }
        region("L1 table", h.l1TableOffset(), l1Bytes, cs, fileSize);
        long rtBytes = (long) h.refcountTableClusters() * cs;
        if (h.refcountTableClusters() <= 0 || rtBytes > Qcow2.MAX_REFTABLE_BYTES) {
            throw new Damage("refcount table of " + Integer.toUnsignedString(h.refcountTableClusters())
                    + " clusters is out of range (at most " + Qcow2.MAX_REFTABLE_BYTES + " bytes)");
        }
        region("refcount table", h.refcountTableOffset(), rtBytes, cs, fileSize);
        if (overlaps(h.l1TableOffset(), l1Bytes, h.refcountTableOffset(), rtBytes)) {
            throw new Damage("the L1 table and the refcount table overlap");
        }
        if (h.nbSnapshots() > 0) {
            region("snapshot table", h.snapshotsOffset(), (long) h.nbSnapshots() * Qcow2.SNAPSHOT_ENTRY_MIN, cs,
                    fileSize);
        }
        long[] l1 = readTable(file, h.l1TableOffset(), h.l1Size());
        long[] rt = readTable(file, h.refcountTableOffset(), (int) (rtBytes / 8));
        for (int i = 0; i < rt.length; i++) {
            if ((rt[i] & REFT_RESERVED) != 0) {
                throw new Damage("refcount table entry " + i + " has reserved bits set (0x"
                        + Long.toHexString(rt[i]) + ")");
            }
            if (rt[i] != 0) {
                pointer("refcount table entry " + i, rt[i], h, fileSize, cs);
            }
        }
        int allocatedTables = 0;
        for (int i = 0; i < l1.length; i++) {
            long off = Entries.offset(l1[i]);
            if (off != 0) {
                pointer("L1 entry " + i, off, h, fileSize, cs);
                allocatedTables++;
            }
        }
        long[] metadata = metadata(h, l1, rt);
        Map<Long, long[]> l2 = new HashMap<>();
        if ((long) allocatedTables * cs <= eagerL2Bytes) {
            long[] data = new long[0];
            int n = 0;
            for (int i = 0; i < l1.length; i++) {
                long off = Entries.offset(l1[i]);
                if (off != 0 && !l2.containsKey(off)) {
                    byte[] raw = new byte[cs];
                    Io.readPadded(file, ByteBuffer.wrap(raw), off);
                    long[] table = Entries.decode(raw);
                    checkL2(table, (long) i * h.l2Entries(), h, fileSize, metadata);
                    l2.put(off, table);
                    for (long e : table) {
                        Entries.State st = Entries.state(e);
                        if (st == Entries.State.NORMAL || st == Entries.State.ZERO_ALLOC) {
                            if (n == data.length) {
                                data = java.util.Arrays.copyOf(data, Math.max(1024, n * 2));
                            }
                            data[n++] = Entries.offset(e) | ((e & Entries.COPIED) != 0 ? 1 : 0);
                        }
                    }
                }
            }
            sharedData(data, n);
        }
        return new Image(h, fileSize, l1, rt, l2, metadata);
    }

    /** Bits 0..8 of a refcount table entry are reserved. */
    static final long REFT_RESERVED = 0x1ffL;

    /** @return the L1 entries needed to map the virtual size (overflow-safe) */
    static long l1Needed(Header h) {
        return Bounds.divideUp(h.size(), h.l2Coverage(), ErrorCode.CORRUPT_IMAGE, "virtual size");
    }

    /**
     * The clusters holding metadata, sorted: the header cluster, the L1 table, the refcount
     * table, every refcount block and every L2 table. Two of them in one cluster is damage
     * (a write to one would destroy the other).
     */
    private static long[] metadata(Header h, long[] l1, long[] rt) {
        int cs = h.clusterSize();
        long l1Clusters = Bounds.divideUp(h.l1Size() * 8L, cs, ErrorCode.CORRUPT_IMAGE, "L1 table");
        long count = 1 + l1Clusters + h.refcountTableClusters();
        for (long e : rt) {
            count += e != 0 ? 1 : 0;
        }
        for (long e : l1) {
            count += Entries.offset(e) != 0 ? 1 : 0;
        }
        long[] m = new long[Bounds.toInt(count, ErrorCode.CORRUPT_IMAGE, "metadata cluster count")];
        int n = 0;
        m[n++] = 0;
        for (long c = 0; c < l1Clusters; c++) {
            m[n++] = h.l1TableOffset() + c * cs;
        }
        for (long c = 0; c < h.refcountTableClusters(); c++) {
            m[n++] = h.refcountTableOffset() + c * cs;
        }
        for (long e : rt) {
            if (e != 0) {
                m[n++] = e;
            }
        }
        for (long e : l1) {
            if (Entries.offset(e) != 0) {
                m[n++] = Entries.offset(e);
            }
        }
        java.util.Arrays.sort(m);
        for (int i = 1; i < m.length; i++) {
            if (m[i] == m[i - 1]) {
                throw new Damage("the cluster at " + m[i] + " holds two pieces of metadata ("
                        + describe(m[i], h, l1, rt) + ")");
            }
        }
        return m;
    }

    /** Names what the image uses the cluster at {@code off} for (for messages; linear). */
    static String describe(long off, Header h, long[] l1, long[] rt) {
        List<String> uses = new ArrayList<>();
        int cs = h.clusterSize();
        if (off == 0) {
            uses.add("header");
        }
        if (overlaps(off, cs, h.l1TableOffset(), h.l1Size() * 8L)) {
            uses.add("L1 table");
        }
        if (overlaps(off, cs, h.refcountTableOffset(), (long) h.refcountTableClusters() * cs)) {
            uses.add("refcount table");
        }
        for (int i = 0; i < rt.length; i++) {
            if (rt[i] == off) {
                uses.add("refcount block " + i);
            }
        }
        for (int i = 0; i < l1.length; i++) {
            if (Entries.offset(l1[i]) == off) {
                uses.add("L2 table of L1 entry " + i);
            }
        }
        return String.join(", ", uses);
    }

    /**
     * Host clusters mapped at two guest offsets: refused when either mapping has the COPIED
     * flag (refcount one: an in-place write to one guest offset would change the other).
     * Entries are offsets with bit 0 standing for the COPIED flag.
     */
    private static void sharedData(long[] data, int n) {
        java.util.Arrays.sort(data, 0, n);
        for (int i = 1; i < n; i++) {
            if ((data[i] & ~1L) == (data[i - 1] & ~1L) && ((data[i] | data[i - 1]) & 1) != 0) {
                throw new Damage("the host cluster at " + (data[i] & ~1L) + " is mapped at two guest offsets"
                        + " although its entry says it is referenced once (COPIED)");
            }
        }
    }

    /**
     * Validates every entry of an L2 table; {@code firstCluster} is the guest cluster of entry 0,
     * {@code metadata} the sorted metadata clusters a data cluster must not be.
     */
    static void checkL2(long[] table, long firstCluster, Header h, long fileSize, long[] metadata) {
        int cs = h.clusterSize();
        for (int j = 0; j < table.length; j++) {
            long e = table[j];
            Entries.State st = Entries.state(e);
            if (st == Entries.State.COMPRESSED) {
                throw new Damage("guest offset " + ((firstCluster + j) << h.clusterBits())
                        + " is stored compressed, which Strata does not support"
                        + " (decompress with 'qemu-img convert -O qcow2')", true);
            }
            if (st == Entries.State.NORMAL || st == Entries.State.ZERO_ALLOC) {
                String what = "L2 entry for guest offset " + ((firstCluster + j) << h.clusterBits());
                long off = Entries.offset(e);
                pointer(what, off, h, fileSize, cs);
                if (java.util.Arrays.binarySearch(metadata, off) >= 0) {
                    throw new Damage(what + " points to " + off + ", a cluster that holds metadata"
                            + " (an L2 table or a refcount block)");
                }
            }
        }
    }

    private static void pointer(String what, long off, Header h, long fileSize, int cs) {
        if (off % cs != 0) {
            throw new Damage(what + " points to " + Bounds.unsigned(off) + ", which is not cluster-aligned ("
                    + cs + " bytes)");
        }
        if (Long.compareUnsigned(off, fileSize) >= 0) {
            throw new Damage(what + " points to " + Bounds.unsigned(off) + ", past the end of the file ("
                    + fileSize + " bytes)");
        }
        if (off == 0) {
            throw new Damage(what + " points into the header cluster");
        }
        if (overlaps(off, cs, h.l1TableOffset(), h.l1Size() * 8L)) {
            throw new Damage(what + " points into the L1 table");
        }
        if (overlaps(off, cs, h.refcountTableOffset(), (long) h.refcountTableClusters() * cs)) {
            throw new Damage(what + " points into the refcount table");
        }
    }

    private static void region(String what, long off, long length, int cs, long fileSize) {
        if (off <= 0 || off % cs != 0) {
            throw new Damage(what + " offset " + Bounds.unsigned(off) + " is not a cluster-aligned offset past"
                    + " the header");
        }
        if (off >= fileSize || !Bounds.inRange(off, length, Qcow2.roundUp(fileSize, cs))) {
            throw new Damage(what + " (offset " + Bounds.unsigned(off) + ", " + length + " bytes) lies past the"
                    + " end of the file (" + fileSize + " bytes)");
        }
    }

    /** Whether two non-negative ranges overlap (an empty range overlaps nothing), without overflow. */
    static boolean overlaps(long a, long aLen, long b, long bLen) {
        if (aLen <= 0 || bLen <= 0 || a < 0 || b < 0) {
            return false;
        }
        return a - b < bLen && b - a < aLen;
    }

    static long[] readTable(DatastoreFile file, long offset, int entries) {
        byte[] raw = new byte[entries * 8];
        Io.readPadded(file, ByteBuffer.wrap(raw), offset);
        return Entries.decode(raw);
    }
}
