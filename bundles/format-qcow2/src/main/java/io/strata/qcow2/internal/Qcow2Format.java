package io.strata.qcow2.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.osgi.service.component.annotations.Component;

/**
 * qcow2 version 3 (QEMU docs/interop/qcow2.txt): thin images with backing chains, plus
 * thick and thick-lazy images whose clusters are all allocated at creation. Standard
 * clusters only (no compression, encryption, internal snapshots, external data files or
 * extended L2 entries). See README.md for the layout, the write ordering and the limits.
 */
@Component(service = DiskFormat.class, property = DiskFormat.TYPE_PROPERTY + "=" + Qcow2Format.TYPE)
public final class Qcow2Format implements DiskFormat {
    static final String TYPE = "qcow2";

    private static final Set<Capability> CAPABILITIES = Collections.unmodifiableSet(EnumSet.of(
            Capability.THIN, Capability.THICK, Capability.THICK_LAZY, Capability.RESIZE, Capability.BLOCK_STATUS,
            Capability.TRIM, Capability.BACKING_CHAIN, Capability.CHECK));

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "QEMU qcow2 version 3: thin, thick or thick-lazy images up to 1 PiB with backing chains,"
                + " readable by qemu";
    }

    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public String fileExtension() {
        return "qcow2";
    }

    @Override
    public long maxVirtualSize() {
        return Qcow2.MAX_VIRTUAL_SIZE;
    }

    @Override
    public boolean recognizes(DatastoreFile file) {
        try {
            return Inspector.looksLikeQcow2(file);
        } catch (StorageException e) {
            return false;
        }
    }

    @Override
    public ImageInfo probe(DatastoreFile file) {
        Inspector.Image in = Inspector.inspect(file);
        Header h = in.header();
        Map<String, String> details = new LinkedHashMap<>();
        details.put("version", "3");
        details.put("cluster-size", Integer.toString(h.clusterSize()));
        details.put("refcount-bits", "16");
        if (h.backingFile() != null) {
            details.put("backing-file", h.backingFile());
            details.put("backing-format", h.backingFormat() == null ? "(not recorded)" : h.backingFormat());
        }
        long tables = 0;
        for (long e : in.l1()) {
            if (Entries.offset(e) != 0) {
                tables++;
            }
        }
        details.put("l2-tables", Long.toString(tables));
        if (h.nbSnapshots() > 0) {
            details.put("internal-snapshots", Integer.toString(h.nbSnapshots()));
        }
        if ((h.incompatible() & Qcow2.INCOMPAT_DIRTY) != 0) {
            details.put("dirty", "true");
        }
        if ((h.incompatible() & Qcow2.INCOMPAT_CORRUPT) != 0) {
            details.put("corrupt", "true");
        }
        return new ImageInfo(TYPE, h.size(), Provisioning.THIN, details);
    }

    @Override
    public VirtualDisk create(DatastoreFile file, DiskSpec spec) {
        writeNew(file, spec.virtualSize(), spec.provisioning(), null);
        return new Qcow2Disk(this, file, false, Inspector.inspect(file), null, spec.provisioning());
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly) {
        return openAt(file, readOnly, null, 1);
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly, BackingResolver backing) {
        return openAt(file, readOnly, backing, 1);
    }

    /** Constant time: header, a one-entry refcount table and block, and a sparse L1 table. */
    @Override
    public VirtualDisk createChild(DatastoreFile file, String parentFile, BackingResolver backing) {
        if (parentFile == null || parentFile.isEmpty()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "a qcow2 child needs a parent file name");
        }
        Qcow2Disk parent = openBacking(parentFile, backing, 2, file.name());
        try {
            writeNew(file, parent.virtualSize(), Provisioning.THIN, parentFile);
            return new Qcow2Disk(this, file, false, Inspector.inspect(file), parent, Provisioning.THIN);
        } catch (RuntimeException e) {
            parent.close();
            throw e;
        }
    }

    @Override
    public Optional<String> backingFile(DatastoreFile file) {
        return Optional.ofNullable(Inspector.readHeader(file).backingFile());
    }

    @Override
    public CheckReport check(DatastoreFile file, BackingResolver backing, boolean repair) {
        return new Checker(this, file, backing).run(repair);
    }

    // ------------------------------------------------------------------ opening

    Qcow2Disk openAt(DatastoreFile file, boolean readOnly, BackingResolver resolver, int depth) {
        if (!readOnly && !file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name()
                    + "' is not writable; open the disk read-only");
        }
        Inspector.Image in = Inspector.inspect(file);
        Header h = in.header();
        if (!readOnly) {
            refuseWriting(file, h);
        }
        Qcow2Disk parent = null;
        if (h.backingFile() != null) {
            if (resolver == null) {
                throw new StorageException(ErrorCode.CHAIN_BROKEN, "qcow2 image '" + file.name()
                        + "' has the backing file '" + h.backingFile() + "'; open it with its chain");
            }
            if (h.backingFormat() != null && !TYPE.equals(h.backingFormat())) {
                throw new StorageException(ErrorCode.CORRUPT_IMAGE, "qcow2 image '" + file.name()
                        + "' cannot be used: its backing file is in the format '" + h.backingFormat()
                        + "'; Strata chains qcow2 images only");
            }
            parent = openBacking(h.backingFile(), resolver, depth + 1, file.name());
        }
        try {
            return new Qcow2Disk(this, file, readOnly, in, parent, Provisioning.THIN);
        } catch (RuntimeException e) {
            if (parent != null) {
                parent.close();
            }
            throw e;
        }
    }

    /** Opens the parent named by a child, read-only, with its own chain; {@code depth} is the parent's place. */
    Qcow2Disk openBacking(String name, BackingResolver resolver, int depth, String child) {
        if (resolver == null) {
            throw new StorageException(ErrorCode.CHAIN_BROKEN, "no way to open the backing file '" + name
                    + "' of '" + child + "'");
        }
        if (depth > Qcow2.MAX_CHAIN) {
            throw new StorageException(ErrorCode.CHAIN_TOO_LONG, "the backing chain of '" + child
                    + "' would be longer than " + Qcow2.MAX_CHAIN + " images (at '" + name + "')");
        }
        DatastoreFile pf = resolver.openBacking(lastElement(name));
        try {
            return openAt(pf, true, resolver, depth);
        } catch (RuntimeException e) {
            pf.close();
            throw e;
        }
    }

    /** Backing names written by other tools may be paths; the datastore is flat, so the last element is the file. */
    static String lastElement(String name) {
        int slash = name.lastIndexOf('/');
        return slash >= 0 ? name.substring(slash + 1) : name;
    }

    private static void refuseWriting(DatastoreFile file, Header h) {
        if (h.nbSnapshots() > 0) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "qcow2 image '" + file.name() + "' has "
                    + h.nbSnapshots() + " internal snapshot(s); Strata opens such images read-only only");
        }
        if ((h.incompatible() & Qcow2.INCOMPAT_CORRUPT) != 0) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "qcow2 image '" + file.name()
                    + "' is marked corrupt (by qemu); open it read-only or repair it with 'qemu-img check -r all'");
        }
        if ((h.incompatible() & Qcow2.INCOMPAT_DIRTY) != 0) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "qcow2 image '" + file.name()
                    + "' is marked dirty (lazy refcounts left unfinished); run the checker with repair first");
        }
        if (h.autoclear() != 0) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "qcow2 image '" + file.name() + "' has autoclear"
                    + " features (0x" + Long.toHexString(h.autoclear()) + ", e.g. persistent bitmaps) that Strata"
                    + " does not maintain; open it read-only");
        }
    }

    // ------------------------------------------------------------------ creation

    /** The size rules of creation and resize: positive, whole sectors, at most 1 PiB. */
    static long checkSize(long size) {
        if (size <= 0) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "a qcow2 disk needs a positive size, not " + size
                    + " bytes");
        }
        if (size % 512 != 0) {
            long down = size / 512 * 512;
            throw new StorageException(ErrorCode.INVALID_SIZE, "qcow2 sizes are whole 512-byte sectors; " + size
                    + " bytes is not (use " + (down > 0 ? down + " or " : "") + (down + 512) + ")");
        }
        if (size > Qcow2.MAX_VIRTUAL_SIZE) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, size + " bytes exceeds the qcow2 limit of 1 PiB ("
                    + Qcow2.MAX_VIRTUAL_SIZE + " bytes)");
        }
        return size;
    }

    /** L1 entries that map {@code size} bytes (at least one). */
    static int l1Entries(long size, int clusterBits) {
        long coverage = 1L << (2 * clusterBits - 3);
        return (int) Math.max(1, (size + coverage - 1) / coverage);
    }

    /**
     * Writes a new image into an empty file. Thin: header, refcount table, one refcount
     * block, and an L1 table left as a sparse hole. Thick and thick-lazy: every L2 table and
     * data cluster allocated up front (data zeroed, or reserved with fallocate). The header
     * goes last; nothing is flushed (the caller flushes before publishing the volume).
     */
    void writeNew(DatastoreFile file, long size, Provisioning provisioning, String backingName) {
        checkSize(size);
        if (!file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name() + "' is not writable");
        }
        if (file.size() != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "file '" + file.name()
                    + "' is not empty; a new qcow2 image needs an empty file");
        }
        if (backingName != null && backingName.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                > Qcow2.MAX_BACKING_NAME) {
            throw new StorageException(ErrorCode.INVALID_NAME, "backing file name '" + backingName
                    + "' is longer than " + Qcow2.MAX_BACKING_NAME + " bytes");
        }
        int cb = Qcow2.DEFAULT_CLUSTER_BITS;
        int cs = 1 << cb;
        int l1 = l1Entries(size, cb);
        long l1Clusters = Qcow2.roundUp(l1 * 8L, cs) / cs;
        long dataClusters = (size + cs - 1) / cs;
        long rbEntries = cs / 2;
        long rtPerCluster = cs / 8;
        long worst = 1 + l1Clusters + l1 + dataClusters;
        long blocksNeeded = (worst + worst / 4 + 1024 + rbEntries - 1) / rbEntries;
        int rtClusters = (int) Math.min(Qcow2.MAX_REFTABLE_BYTES / cs,
                Math.max(1, (blocksNeeded + rtPerCluster - 1) / rtPerCluster));
        long rtOffset = cs;
        if (provisioning == Provisioning.THIN) {
            long rbOffset = (1L + rtClusters) * cs;
            long l1Offset = rbOffset + cs;
            long end = l1Offset + l1Clusters * cs;
            int metadataClusters = (int) (end / cs);
            byte[] rb = new byte[cs];
            for (int i = 0; i < metadataClusters; i++) {
                RefcountBlock.set(rb, i, 1);
            }
            file.setSize(end);
            Io.write(file, rb, rbOffset);
            Io.write(file, Entries.encode(rbOffset), rtOffset);
            writeHeader(file, Header.create(cb, size, l1, l1Offset, rtOffset, rtClusters, backingName));
            return;
        }
        long fixed = 1 + rtClusters + l1Clusters + l1 + dataClusters;
        long blocks = 1;
        while (blocks * rbEntries < fixed + blocks) {
            blocks++;
        }
        long rbOffset = (1L + rtClusters) * cs;
        long l1Offset = rbOffset + blocks * cs;
        long l2Offset = l1Offset + l1Clusters * cs;
        long dataOffset = l2Offset + (long) l1 * cs;
        long total = fixed + blocks;
        if (provisioning == Provisioning.THICK_LAZY) {
            reserve(file, dataOffset, dataClusters * cs);
        } else {
            Io.writeZeros(file, dataOffset, dataClusters * cs);
        }
        // refcount table and blocks: every cluster of the file counted once
        long[] rt = new long[rtClusters * (int) rtPerCluster];
        for (int b = 0; b < blocks; b++) {
            rt[b] = rbOffset + (long) b * cs;
            byte[] rb = new byte[cs];
            long first = b * rbEntries;
            for (long c = first; c < Math.min(total, first + rbEntries); c++) {
                RefcountBlock.set(rb, (int) (c - first), 1);
            }
            Io.write(file, rb, rt[b]);
        }
        Io.write(file, Entries.encode(rt, 0, (int) Math.min(rt.length, Qcow2.roundUp(blocks, rtPerCluster))),
                rtOffset);
        long[] l1Table = new long[(int) (l1Clusters * cs / 8)];
        long[] l2 = new long[cs / 8];
        for (int t = 0; t < l1; t++) {
            long tableOffset = l2Offset + (long) t * cs;
            l1Table[t] = Entries.normal(tableOffset);
            java.util.Arrays.fill(l2, 0);
            for (int j = 0; j < l2.length; j++) {
                long c = (long) t * l2.length + j;
                if (c < dataClusters) {
                    l2[j] = Entries.normal(dataOffset + c * cs);
                }
            }
            Io.write(file, Entries.encode(l2, 0, l2.length), tableOffset);
        }
        Io.write(file, Entries.encode(l1Table, 0, l1Table.length), l1Offset);
        writeHeader(file, Header.create(cb, size, l1, l1Offset, rtOffset, rtClusters, null));
    }

    private static void writeHeader(DatastoreFile file, Header h) {
        try {
            file.write(ByteBuffer.wrap(h.encode()), 0);
        } catch (Damage d) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "qcow2 image '" + file.name() + "': "
                    + d.getMessage());
        }
    }

    /** fallocate, with the message a user of thick-lazy needs when the datastore cannot. */
    static void reserve(DatastoreFile file, long position, long length) {
        try {
            file.allocate(position, length);
        } catch (StorageException e) {
            if (e.code() == ErrorCode.UNSUPPORTED) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "the datastore of '" + file.name()
                        + "' cannot reserve space without writing it, so thick-lazy is not available there;"
                        + " use thick or thin", e);
            }
            throw e;
        }
    }
}
