package io.strata.qcow2.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Validates an image's metadata without writing anything: header, L1 table, refcount
 * table, and (up to {@link #EAGER_L2_BYTES}) every L2 table. Every problem becomes a
 * {@code CORRUPT_IMAGE} naming the file and the problem.
 */
final class Inspector {
    /** L2 tables are validated at open up to this many bytes of them; larger images validate each table on first use. */
    static final long EAGER_L2_BYTES = 64L << 20;

    /**
     * What a validated image holds.
     *
     * @param header the decoded header
     * @param fileSize the file size when inspected
     * @param l1 the active L1 table ({@code header.l1Size()} entries)
     * @param refcountTable the refcount table entries
     * @param l2Tables L2 tables validated at open, by file offset (empty for large images)
     */
    record Image(Header header, long fileSize, long[] l1, long[] refcountTable, Map<Long, long[]> l2Tables) {
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
            throw new Damage("L1 table size " + h.l1Size() + " entries is out of range (at most "
                    + Qcow2.MAX_L1_BYTES / 8 + ")");
        }
        long needed = (h.size() + h.l2Coverage() - 1) / h.l2Coverage();
        if (h.l1Size() < needed) {
            throw new Damage("L1 table of " + h.l1Size() + " entries cannot map the virtual size " + h.size()
                    + " (needs " + needed + ")");
        }
        if (h.l1Size() > 0) {
            region("L1 table", h.l1TableOffset(), l1Bytes, cs, fileSize);
        }
        long rtBytes = (long) h.refcountTableClusters() * cs;
        if (h.refcountTableClusters() <= 0 || rtBytes > Qcow2.MAX_REFTABLE_BYTES) {
            throw new Damage("refcount table of " + h.refcountTableClusters() + " clusters is out of range");
        }
        region("refcount table", h.refcountTableOffset(), rtBytes, cs, fileSize);
        if (h.l1Size() > 0 && overlaps(h.l1TableOffset(), l1Bytes, h.refcountTableOffset(), rtBytes)) {
            throw new Damage("the L1 table and the refcount table overlap");
        }
        if (h.nbSnapshots() > 0) {
            region("snapshot table", h.snapshotsOffset(), 1, cs, fileSize);
        }
        long[] l1 = readTable(file, h.l1TableOffset(), h.l1Size());
        long[] rt = readTable(file, h.refcountTableOffset(), (int) (rtBytes / 8));
        for (int i = 0; i < rt.length; i++) {
            long off = rt[i] & ~0x1ffL;
            if (off != 0) {
                pointer("refcount table entry " + i, off, h, fileSize, cs);
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
        Map<Long, long[]> l2 = new HashMap<>();
        if ((long) allocatedTables * cs <= EAGER_L2_BYTES) {
            for (int i = 0; i < l1.length; i++) {
                long off = Entries.offset(l1[i]);
                if (off != 0 && !l2.containsKey(off)) {
                    byte[] raw = new byte[cs];
                    Io.readPadded(file, ByteBuffer.wrap(raw), off);
                    long[] table = Entries.decode(raw);
                    checkL2(table, (long) i * h.l2Entries(), h, fileSize);
                    l2.put(off, table);
                }
            }
        }
        return new Image(h, fileSize, l1, rt, l2);
    }

    /** Validates every entry of an L2 table; {@code firstCluster} is the guest cluster of entry 0. */
    static void checkL2(long[] table, long firstCluster, Header h, long fileSize) {
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
                pointer("L2 entry for guest offset " + ((firstCluster + j) << h.clusterBits()), Entries.offset(e),
                        h, fileSize, cs);
            }
        }
    }

    private static void pointer(String what, long off, Header h, long fileSize, int cs) {
        if (off % cs != 0) {
            throw new Damage(what + " points to " + off + ", which is not cluster-aligned (" + cs + " bytes)");
        }
        if (off >= fileSize) {
            throw new Damage(what + " points to " + off + ", past the end of the file (" + fileSize + " bytes)");
        }
        if (off == 0) {
            throw new Damage(what + " points into the header cluster");
        }
        long l1Bytes = h.l1Size() * 8L;
        if (h.l1Size() > 0 && overlaps(off, cs, h.l1TableOffset(), l1Bytes)) {
            throw new Damage(what + " points into the L1 table");
        }
        if (overlaps(off, cs, h.refcountTableOffset(), (long) h.refcountTableClusters() * cs)) {
            throw new Damage(what + " points into the refcount table");
        }
    }

    private static void region(String what, long off, long length, int cs, long fileSize) {
        if (off <= 0 || off % cs != 0) {
            throw new Damage(what + " offset " + off + " is not a cluster-aligned offset past the header");
        }
        if (off + length > Qcow2.roundUp(fileSize, cs) || off >= fileSize) {
            throw new Damage(what + " (offset " + off + ", " + length + " bytes) lies past the end of the file ("
                    + fileSize + " bytes)");
        }
    }

    private static boolean overlaps(long a, long aLen, long b, long bLen) {
        return a < b + bLen && b < a + aLen;
    }

    static long[] readTable(DatastoreFile file, long offset, int entries) {
        byte[] raw = new byte[entries * 8];
        Io.readPadded(file, ByteBuffer.wrap(raw), offset);
        return Entries.decode(raw);
    }
}
