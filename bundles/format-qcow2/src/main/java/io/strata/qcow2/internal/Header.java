package io.strata.qcow2.internal;

import io.strata.api.Bounds;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The qcow2 header, its header extensions and the backing file name: everything in
 * the first cluster. Version 3 only. Decoding validates every field that the rest of
 * Strata relies on; encoding produces one sector-aligned block written at offset 0.
 *
 * @param clusterBits log2 of the cluster size (9..21)
 * @param size virtual size in bytes
 * @param l1Size entries in the active L1 table
 * @param l1TableOffset file offset of the L1 table
 * @param refcountTableOffset file offset of the refcount table
 * @param refcountTableClusters clusters the refcount table occupies
 * @param nbSnapshots internal snapshots (Strata reads such images, never writes them)
 * @param snapshotsOffset file offset of the snapshot table
 * @param incompatible incompatible feature bits
 * @param compatible compatible feature bits
 * @param autoclear autoclear feature bits
 * @param headerLength bytes of the fixed header, optional fields included
 * @param extraFields bytes 104..headerLength, preserved as found (optional fields such as compression_type)
 * @param backingFile the backing file name, or null
 * @param backingFormat the backing format extension, or null when absent
 * @param otherExtensions unknown or unused header extensions, preserved when the header is rewritten
 */
record Header(
        int clusterBits,
        long size,
        int l1Size,
        long l1TableOffset,
        long refcountTableOffset,
        int refcountTableClusters,
        int nbSnapshots,
        long snapshotsOffset,
        long incompatible,
        long compatible,
        long autoclear,
        int headerLength,
        byte[] extraFields,
        String backingFile,
        String backingFormat,
        List<Extension> otherExtensions) {

    /** A header extension kept as raw bytes. */
    record Extension(int type, byte[] data) {
    }

    Header {
        otherExtensions = List.copyOf(otherExtensions);
    }

    /** A header for a new image written by Strata. */
    static Header create(int clusterBits, long size, int l1Size, long l1TableOffset, long refcountTableOffset,
            int refcountTableClusters, String backingFile) {
        return new Header(clusterBits, size, l1Size, l1TableOffset, refcountTableOffset, refcountTableClusters,
                0, 0, 0, 0, 0, Qcow2.HEADER_V3_LENGTH, new byte[0], backingFile,
                backingFile == null ? null : "qcow2", List.of());
    }

    int clusterSize() {
        return 1 << clusterBits;
    }

    /** Entries in an L2 table (8 bytes each). */
    int l2Entries() {
        return clusterSize() / 8;
    }

    /** Bytes of virtual disk one L1 entry (one L2 table) maps. */
    long l2Coverage() {
        return (long) clusterSize() * l2Entries();
    }

    /** Entries in a refcount block (16-bit refcounts). */
    int refcountBlockEntries() {
        return clusterSize() / 2;
    }

    Header withSize(long newSize, int newL1Size, long newL1Offset) {
        return new Header(clusterBits, newSize, newL1Size, newL1Offset, refcountTableOffset, refcountTableClusters,
                nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear, headerLength, extraFields,
                backingFile, backingFormat, otherExtensions);
    }

    Header withBacking(String name) {
        return new Header(clusterBits, size, l1Size, l1TableOffset, refcountTableOffset, refcountTableClusters,
                nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear, headerLength, extraFields,
                name, name == null ? null : "qcow2", otherExtensions);
    }

    Header withIncompatible(long bits) {
        return new Header(clusterBits, size, l1Size, l1TableOffset, refcountTableOffset, refcountTableClusters,
                nbSnapshots, snapshotsOffset, bits, compatible, autoclear, headerLength, extraFields,
                backingFile, backingFormat, otherExtensions);
    }

    Header withRefcountTable(long offset, int clusters) {
        return new Header(clusterBits, size, l1Size, l1TableOffset, offset, clusters,
                nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear, headerLength, extraFields,
                backingFile, backingFormat, otherExtensions);
    }

    /**
     * Encodes header, extensions, end marker and backing name, padded with zeros to a
     * whole number of 512-byte sectors, so that a rewrite is one sector-aligned write.
     *
     * @throws Damage when it does not fit in the first cluster
     */
    byte[] encode() {
        byte[] name = backingFile == null ? new byte[0] : backingFile.getBytes(StandardCharsets.UTF_8);
        if (name.length > Qcow2.MAX_BACKING_NAME) {
            throw new Damage("backing file name is " + name.length + " bytes long; the format allows "
                    + Qcow2.MAX_BACKING_NAME);
        }
        List<Extension> exts = new ArrayList<>();
        if (backingFormat != null) {
            exts.add(new Extension(Qcow2.EXT_BACKING_FORMAT, backingFormat.getBytes(StandardCharsets.UTF_8)));
        }
        exts.addAll(otherExtensions);
        int extBytes = 8; // end marker
        for (Extension e : exts) {
            extBytes += 8 + (int) Qcow2.roundUp(e.data().length, 8);
        }
        int nameOffset = headerLength + extBytes;
        int total = (int) Qcow2.roundUp(nameOffset + name.length, 512);
        if (nameOffset + name.length > clusterSize()) {
            throw new Damage("header, extensions and backing name need " + (nameOffset + name.length)
                    + " bytes, more than one " + clusterSize() + "-byte cluster");
        }
        ByteBuffer b = ByteBuffer.allocate(total);
        b.putInt(Qcow2.MAGIC).putInt(Qcow2.VERSION)
                .putLong(name.length == 0 ? 0 : nameOffset).putInt(name.length)
                .putInt(clusterBits).putLong(size).putInt(0 /* no encryption */)
                .putInt(l1Size).putLong(l1TableOffset).putLong(refcountTableOffset)
                .putInt(refcountTableClusters).putInt(nbSnapshots).putLong(snapshotsOffset)
                .putLong(incompatible).putLong(compatible).putLong(autoclear)
                .putInt(Qcow2.REFCOUNT_ORDER).putInt(headerLength);
        b.put(extraFields);
        for (Extension e : exts) {
            b.putInt(e.type()).putInt(e.data().length).put(e.data());
            b.position((int) Qcow2.roundUp(b.position(), 8));
        }
        b.putInt(Qcow2.EXT_END).putInt(0);
        b.put(name);
        return b.array();
    }

    /** @return the cluster size named by a buffer holding at least the first 24 bytes, unvalidated */
    static int peekClusterBits(byte[] start) {
        return ByteBuffer.wrap(start).getInt(20);
    }

    /**
     * Decodes and validates the header.
     *
     * @param b the first cluster of the file, or the whole file when it is shorter
     * @throws Damage naming the first problem found
     */
    static Header decode(byte[] b) {
        if (b.length < 8) {
            throw new Damage("the file is too short for a qcow2 header (" + b.length + " bytes)");
        }
        ByteBuffer in = ByteBuffer.wrap(b);
        int magic = in.getInt(0);
        if (magic != Qcow2.MAGIC) {
            throw new Damage(String.format("bad magic 0x%08x (a qcow2 image starts with QFI\\xfb)", magic));
        }
        int version = in.getInt(4);
        if (version == 2) {
            throw new Damage("it is qcow2 version 2 (compat=0.10), which Strata does not support;"
                    + " upgrade it with 'qemu-img amend -o compat=1.1'", true);
        }
        if (version != 3) {
            throw new Damage("unknown qcow2 version " + version + " (Strata reads version 3)");
        }
        if (b.length < Qcow2.HEADER_V3_LENGTH) {
            throw new Damage("the file is too short for a qcow2 version 3 header (" + b.length + " bytes)");
        }
        long backingOffset = in.getLong(8);
        int backingSize = in.getInt(16);
        int clusterBits = in.getInt(20);
        if (clusterBits < Qcow2.MIN_CLUSTER_BITS || clusterBits > Qcow2.MAX_CLUSTER_BITS) {
            throw new Damage("cluster_bits " + clusterBits + " is out of range (" + Qcow2.MIN_CLUSTER_BITS + ".."
                    + Qcow2.MAX_CLUSTER_BITS + ", clusters of 512 B..2 MiB)");
        }
        int clusterSize = 1 << clusterBits;
        long size = in.getLong(24);
        if (size <= 0 || size % 512 != 0) {
            throw new Damage("virtual size " + Bounds.unsigned(size) + " bytes is invalid (a qcow2 virtual size is"
                    + " a positive multiple of 512 bytes)");
        }
        if (size > Qcow2.MAX_VIRTUAL_SIZE) {
            throw new Damage("its virtual size " + size + " bytes exceeds the " + Qcow2.MAX_VIRTUAL_SIZE
                    + " bytes (1 PiB) Strata supports", true);
        }
        long nbSnapshots = Integer.toUnsignedLong(in.getInt(60));
        if (nbSnapshots > Qcow2.MAX_SNAPSHOTS) {
            throw new Damage("nb_snapshots " + nbSnapshots + " exceeds the limit of " + Qcow2.MAX_SNAPSHOTS
                    + " internal snapshots (qemu's)");
        }
        int crypt = in.getInt(32);
        long incompatible = in.getLong(72);
        long unknown = incompatible & ~Qcow2.INCOMPAT_KNOWN;
        if (unknown != 0) {
            throw new Damage(String.format("unknown incompatible feature bits 0x%x", unknown));
        }
        if ((incompatible & Qcow2.INCOMPAT_DATA_FILE) != 0) {
            throw new Damage("it stores its data in an external data file, which Strata does not support", true);
        }
        if ((incompatible & Qcow2.INCOMPAT_EXTL2) != 0) {
            throw new Damage("it uses extended L2 entries (subclusters), which Strata does not support", true);
        }
        if (crypt != 0) {
            throw new Damage("it is encrypted (crypt_method " + crypt + "), which Strata does not support", true);
        }
        int refcountOrder = in.getInt(96);
        if (refcountOrder != Qcow2.REFCOUNT_ORDER) {
            throw new Damage("refcount_order " + refcountOrder + " (" + (refcountOrder < 31 ? 1L << refcountOrder : "?")
                    + "-bit refcounts) is not supported; Strata uses 16-bit refcounts (refcount_bits=16)", true);
        }
        int headerLength = in.getInt(100);
        if (headerLength < Qcow2.HEADER_V3_LENGTH || headerLength % 8 != 0 || headerLength > clusterSize) {
            throw new Damage("header_length " + headerLength + " is invalid (at least 104, a multiple of 8, within"
                    + " the first cluster)");
        }
        if (b.length < Math.min(clusterSize, headerLength + 8)) {
            throw new Damage("the file ends inside its header cluster (" + b.length + " bytes)");
        }
        byte[] extra = new byte[headerLength - Qcow2.HEADER_V3_LENGTH];
        in.get(Qcow2.HEADER_V3_LENGTH, extra);

        String backingFormat = null;
        List<Extension> others = new ArrayList<>();
        int p = headerLength;
        int limit = Math.min(b.length, clusterSize);
        while (true) {
            if (p + 8 > limit) {
                throw new Damage("header extensions run past the first cluster (no end marker)");
            }
            int type = in.getInt(p);
            int len = in.getInt(p + 4);
            if (type == Qcow2.EXT_END) {
                break;
            }
            if (len < 0 || p + 8L + len > limit) {
                throw new Damage(String.format("header extension 0x%08x at %d has length %s past the first cluster",
                        type, p, Integer.toUnsignedString(len)));
            }
            byte[] data = new byte[len];
            in.get(p + 8, data);
            if (type == Qcow2.EXT_BACKING_FORMAT) {
                backingFormat = new String(data, StandardCharsets.UTF_8);
            } else {
                others.add(new Extension(type, data));
            }
            p += 8 + (int) Qcow2.roundUp(len, 8);
        }
        int extensionsEnd = p + 8; // past the end marker

        String backingFile = null;
        if (backingOffset != 0) {
            if (backingSize <= 0 || backingSize > Qcow2.MAX_BACKING_NAME) {
                throw new Damage("backing file name length " + Integer.toUnsignedString(backingSize)
                        + " is invalid (1.." + Qcow2.MAX_BACKING_NAME + ")");
            }
            if (!Bounds.inRange(backingOffset, backingSize, limit)) {
                throw new Damage("backing file name at " + Bounds.unsigned(backingOffset) + " (" + backingSize
                        + " bytes) lies outside the header cluster");
            }
            if (backingOffset < extensionsEnd) {
                throw new Damage("backing file name at " + backingOffset + " overlaps the header or its extensions"
                        + " (which end at " + extensionsEnd + ")");
            }
            byte[] name = new byte[backingSize];
            in.get((int) backingOffset, name);
            backingFile = new String(name, StandardCharsets.UTF_8);
        }
        return new Header(clusterBits, size, in.getInt(36), in.getLong(40), in.getLong(48), in.getInt(56),
                (int) nbSnapshots, in.getLong(64), incompatible, in.getLong(80), in.getLong(88), headerLength, extra,
                backingFile, backingFormat, others);
    }
}
