package io.strata.vhd.internal;

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
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.osgi.service.component.annotations.Component;

/**
 * VHD per Microsoft's Virtual Hard Disk Image Format Specification: fixed disks
 * for thick and thick-lazy provisioning, dynamic disks (2 MiB blocks) for thin.
 * See README.md for the layout Strata writes and why.
 */
@Component(service = DiskFormat.class, property = DiskFormat.TYPE_PROPERTY + "=" + VhdFormat.TYPE)
public final class VhdFormat implements DiskFormat {
    static final String TYPE = "vhd";

    private static final Set<Capability> CAPABILITIES = Collections.unmodifiableSet(EnumSet.of(
            Capability.THIN, Capability.THICK, Capability.THICK_LAZY, Capability.RESIZE, Capability.BLOCK_STATUS,
            Capability.TRIM, Capability.BACKING_CHAIN, Capability.CHECK, Capability.RECLAIM));
    /** The longest chain (this image and its parents) Strata opens or creates. */
    static final int MAX_CHAIN = 32;

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "Microsoft VHD: fixed (thick) and dynamic (thin) images up to 2040 GiB, readable by Hyper-V and qemu";
    }

    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public String fileExtension() {
        return "vhd";
    }

    @Override
    public long maxVirtualSize() {
        return Vhd.MAX_VIRTUAL_SIZE;
    }

    @Override
    public boolean recognizes(DatastoreFile file) {
        try {
            return VhdInspector.looksLikeVhd(file);
        } catch (StorageException e) {
            return false;
        }
    }

    @Override
    public ImageInfo probe(DatastoreFile file) {
        Inspection in = VhdInspector.inspect(file);
        Map<String, String> details = new LinkedHashMap<>();
        Footer f = in.footer();
        details.put("subformat", in.type() == DiskType.FIXED ? "fixed"
                : in.type() == DiskType.DIFFERENCING ? "differencing" : "dynamic");
        details.put("creator-app", printable(f.creatorApp()));
        details.put("creator-version", (f.creatorVersion() >>> 16) + "." + (f.creatorVersion() & 0xffff));
        details.put("size-source", SizeRule.usesCurrentSize(f) ? "current_size" : "chs");
        details.put("geometry", f.geometry().toString());
        details.put("unique-id", f.uniqueId().toString());
        if (in.header() != null) {
            details.put("block-size", Integer.toString(in.header().blockSize()));
            details.put("allocated-blocks", Long.toString(in.allocatedBlocks()));
        }
        if (in.type() == DiskType.DIFFERENCING) {
            String parent = Layout.parentFileName(file, in.header());
            details.put("parent", parent == null ? "" : parent);
            details.put("parent-unique-id", in.header().parentUniqueId().toString());
        }
        return new ImageInfo(TYPE, in.virtualSize(), provisioningOf(in), details);
    }

    @Override
    public VirtualDisk create(DatastoreFile file, DiskSpec spec) {
        long size = checkSize(spec.virtualSize());
        if (!file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name() + "' is not writable");
        }
        if (file.size() != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "file '" + file.name()
                    + "' is not empty; a new VHD image needs an empty file");
        }
        if (spec.provisioning() == Provisioning.THIN) {
            createDynamic(file, size);
            return new DynamicVhdDisk(file, false, VhdInspector.inspect(file));
        }
        createFixed(file, size, spec.provisioning());
        return new FixedVhdDisk(file, false, VhdInspector.inspect(file), spec.provisioning());
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly) {
        if (!readOnly && !file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name()
                    + "' is not writable; open the disk read-only");
        }
        Inspection in = VhdInspector.inspect(file);
        if (in.type() == DiskType.FIXED) {
            return new FixedVhdDisk(file, readOnly, in, Provisioning.THICK);
        }
        if (in.type() == DiskType.DIFFERENCING) {
            throw new StorageException(ErrorCode.CHAIN_BROKEN, "VHD image '" + file.name()
                    + "' is a differencing disk; it can only be opened with its parent chain");
        }
        return new DynamicVhdDisk(file, readOnly, in);
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly, BackingResolver backing) {
        if (!readOnly && !file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name()
                    + "' is not writable; open the disk read-only");
        }
        return openChain(file, readOnly, backing, 0);
    }

    /**
     * Opens an image and, for a differencing disk, its parents (read-only).
     *
     * @param above how many images of the chain lie above this one
     */
    static VirtualDisk openChain(DatastoreFile file, boolean readOnly, BackingResolver backing, int above) {
        if (above + 1 > MAX_CHAIN) {
            throw new StorageException(ErrorCode.CHAIN_TOO_LONG, "the chain above '" + file.name()
                    + "' is longer than " + MAX_CHAIN + " images");
        }
        // Parents (above > 0, always read-only) defer their BAT to the first read through them.
        Inspection in = readOnly && above > 0 ? VhdInspector.inspectHeaders(file) : VhdInspector.inspect(file);
        if (in.type() == DiskType.FIXED) {
            return new FixedVhdDisk(file, readOnly, in, Provisioning.THICK);
        }
        if (in.type() == DiskType.DYNAMIC) {
            return new DynamicVhdDisk(file, readOnly, in);
        }
        if (backing == null) {
            throw new StorageException(ErrorCode.CHAIN_BROKEN, "VHD image '" + file.name()
                    + "' is a differencing disk and no backing resolver was given to find its parent");
        }
        // What the child records is only a hint (an imported child may name any path): the resolver
        // decides which file that is, and the parent's unique id whether it is the right one.
        String name = Layout.parentNameForResolver(file, in.header());
        DynamicVhdDisk.Parent parent = openParent(file.name(), name, backing, in.header().parentUniqueId(), above + 1);
        return new DynamicVhdDisk(file, readOnly, in, parent);
    }

    /**
     * Opens a parent chain read-only through the resolver.
     *
     * @param expected the unique id the child recorded, or null when any parent will do (rebase)
     * @param above images above the parent (the child and its own children)
     */
    static DynamicVhdDisk.Parent openParent(String child, String name, BackingResolver backing, UUID expected,
            int above) {
        DatastoreFile pf;
        try {
            pf = backing.openBacking(name);
        } catch (StorageException e) {
            if (e.code() == ErrorCode.CHAIN_BROKEN || e.code() == ErrorCode.FILE_NOT_FOUND) {
                throw new StorageException(ErrorCode.CHAIN_BROKEN, "differencing disk '" + child
                        + "' needs its parent '" + name + "', which is missing", e);
            }
            throw e;
        }
        VirtualDisk pd;
        try {
            pd = openChain(pf, true, backing, above);
        } catch (RuntimeException e) {
            pf.close();
            throw e;
        }
        UUID id = ((AbstractVhdDisk) pd).uniqueId();
        if (expected != null && !expected.equals(id)) {
            pd.close();
            throw new StorageException(ErrorCode.CHAIN_BROKEN, "parent '" + name + "' of differencing disk '" + child
                    + "' is not the image the child was made from (unique id " + id + ", the child expects "
                    + expected + ")");
        }
        return new DynamicVhdDisk.Parent(pd, name, id);
    }

    /**
     * A differencing disk over {@code parentFile}: footer (type 4, the parent's size),
     * header with the parent's unique id, timestamp and name, an empty BAT with room
     * for 2040 GiB, two sets of locator room (W2ku and W2ru, 8 KiB each) of which the
     * first is used, footer. Constant time: nothing of the parent is copied.
     */
    @Override
    public VirtualDisk createChild(DatastoreFile file, String parentFile, BackingResolver backing) {
        if (!file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name() + "' is not writable");
        }
        if (file.size() != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "file '" + file.name()
                    + "' is not empty; a new VHD image needs an empty file");
        }
        DynamicVhdDisk.Parent parent = openParent(file.name(), parentFile, backing, null, 1);
        try {
            return writeChild(file, parentFile, parent);
        } catch (RuntimeException e) {
            parent.disk().close();
            throw e;
        }
    }

    /**
     * Over the volume's open chain: the parent's footer is already in memory, so the cost is
     * the child's own metadata (its 2 MiB BAT for a 2 TiB disk) and one fsync, whatever the
     * chain's length.
     */
    @Override
    public VirtualDisk createChild(DatastoreFile file, String parentFile, VirtualDisk parent,
            BackingResolver backing) {
        if (!(parent instanceof AbstractVhdDisk pd)) {
            return DiskFormat.super.createChild(file, parentFile, parent, backing);
        }
        if (!file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name() + "' is not writable");
        }
        if (file.size() != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "file '" + file.name()
                    + "' is not empty; a new VHD image needs an empty file");
        }
        if (!pd.file.name().equals(parentFile)) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "the open parent is '" + pd.file.name()
                    + "', not '" + parentFile + "'");
        }
        return writeChild(file, parentFile, new DynamicVhdDisk.Parent(parent, parentFile, pd.uniqueId()));
    }

    /** Writes a new differencing disk over an open parent; the parent is not closed on failure. */
    private VirtualDisk writeChild(DatastoreFile file, String parentFile, DynamicVhdDisk.Parent parent) {
        {
            long size = parent.disk().virtualSize();
            Footer footer = newFooter(size, DiskType.DIFFERENCING);
            int entries = (int) ((size + Vhd.BLOCK_SIZE - 1) / Vhd.BLOCK_SIZE);
            byte[] encoded = footer.encode();
            Io.write(file, encoded, Layout.LOCATOR_AREA_END);
            List<ParentLocator> locators = Layout.writeLocators(file, Layout.LOCATOR_AREA,
                    Layout.relativePath(parentFile), absolutePath(parent));
            Io.write(file, Bat.unused(entries), Vhd.BAT_OFFSET);
            DynamicHeader header = DynamicHeader.forDynamic(Vhd.BAT_OFFSET, entries, Vhd.BLOCK_SIZE)
                    .withParent(parent.uniqueId(), parentTimestamp(parent), parentFile, locators);
            Io.write(file, header.encode(), Vhd.HEADER_OFFSET);
            Io.write(file, encoded, 0);
            // What the inspector would find, without reading back what was just written (constant time matters:
            // snapshot creation of a 1 TiB disk must not pay for its 2 MiB BAT twice).
            int[] bat = new int[entries];
            java.util.Arrays.fill(bat, Bat.UNUSED);
            long footerPos = Layout.LOCATOR_AREA_END;
            Inspection in = new Inspection(footerPos + Footer.SIZE, footer, size, header, bat, footerPos,
                    Layout.LOCATOR_AREA, true);
            // Durable before anyone stacks on it or retires the parent to read-only: one fsync.
            file.flush();
            return new DynamicVhdDisk(file, false, in, parent);
        }
    }

    /** The W2ku path: the parent's path on the host when the datastore has one, else its name. */
    static String absolutePath(DynamicVhdDisk.Parent parent) {
        return ((AbstractVhdDisk) parent.disk()).file.localPath().map(p -> p.toAbsolutePath().toString())
                .orElse(parent.name());
    }

    /**
     * The parent time stamp: the specification asks for the parent's modification time
     * (seconds since 2000-01-01 UTC). That is the file's mtime where the datastore has
     * local paths, else the parent footer's time stamp. Informational: the unique id
     * is what identifies the parent.
     */
    static int parentTimestamp(DynamicVhdDisk.Parent parent) {
        AbstractVhdDisk d = (AbstractVhdDisk) parent.disk();
        java.util.Optional<java.nio.file.Path> p = d.file.localPath();
        if (p.isPresent()) {
            try {
                return (int) (java.nio.file.Files.getLastModifiedTime(p.get()).toMillis() / 1000 - Footer.VHD_EPOCH);
            } catch (java.io.IOException | RuntimeException e) {
                // fall through to the footer's time stamp
            }
        }
        return d.timestamp();
    }

    @Override
    public Optional<String> backingFile(DatastoreFile file) {
        Inspection in = VhdInspector.inspect(file);
        if (in.type() != DiskType.DIFFERENCING) {
            return Optional.empty();
        }
        // Never empty for a child (that would make it look standalone): "" when no usable name is recorded.
        return Optional.of(Layout.parentNameForResolver(file, in.header()));
    }

    @Override
    public CheckReport check(DatastoreFile file, BackingResolver backing, boolean repair) {
        return new VhdChecker(file, backing).check(repair);
    }

    /** The size rules of creation and resize: positive, whole sectors, at most 2040 GiB. */
    static long checkSize(long size) {
        if (size <= 0) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "a VHD disk needs a positive size, not " + size
                    + " bytes");
        }
        if (size % 512 != 0) {
            long down = size / 512 * 512;
            throw new StorageException(ErrorCode.INVALID_SIZE, "VHD sizes are whole 512-byte sectors; " + size
                    + " bytes is not (use " + (down > 0 ? down + " or " : "") + (down + 512) + ")");
        }
        if (size > Vhd.MAX_VIRTUAL_SIZE) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, size + " bytes exceeds the VHD limit of 2040 GiB ("
                    + Vhd.MAX_VIRTUAL_SIZE + " bytes); use the qcow2 format for larger disks");
        }
        return size;
    }

    static Footer newFooter(long size, DiskType type) {
        long timestamp = System.currentTimeMillis() / 1000 - Footer.VHD_EPOCH;
        return new Footer(Footer.FEATURES_RESERVED, Footer.FORMAT_VERSION,
                type == DiskType.FIXED ? Footer.NO_DATA_OFFSET : Vhd.HEADER_OFFSET,
                (int) timestamp, SizeRule.STRATA_CREATOR, Vhd.CREATOR_VERSION, Footer.HOST_OS_WINDOWS,
                size, size, Geometry.of(size / 512), type.code, UUID.randomUUID(), false);
    }

    /**
     * Footer copy, header, BAT for the current size, sparse room for a 2040 GiB BAT,
     * footer. The room is never written until the disk grows into it.
     */
    private static void createDynamic(DatastoreFile file, long size) {
        Footer footer = newFooter(size, DiskType.DYNAMIC);
        int entries = (int) ((size + Vhd.BLOCK_SIZE - 1) / Vhd.BLOCK_SIZE);
        long footerPos = Vhd.BAT_OFFSET + Bat.bytesOnDisk(Vhd.MAX_BAT_ENTRIES);
        byte[] encoded = footer.encode();
        Io.write(file, encoded, footerPos);
        int[] bat = new int[entries];
        java.util.Arrays.fill(bat, Bat.UNUSED);
        file.write(Bat.encode(bat, 0, entries, true), Vhd.BAT_OFFSET);
        Io.write(file, DynamicHeader.forDynamic(Vhd.BAT_OFFSET, entries, Vhd.BLOCK_SIZE).encode(), Vhd.HEADER_OFFSET);
        Io.write(file, encoded, 0);
    }

    private static void createFixed(DatastoreFile file, long size, Provisioning provisioning) {
        if (provisioning == Provisioning.THICK_LAZY) {
            reserve(file, 0, size + Footer.SIZE);
        } else {
            Io.writeZeros(file, 0, size);
        }
        Io.write(file, newFooter(size, DiskType.FIXED).encode(), size);
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

    private static Provisioning provisioningOf(Inspection in) {
        return in.type() == DiskType.FIXED ? Provisioning.THICK : Provisioning.THIN;
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            b.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\x%02x", (int) c));
        }
        return b.toString();
    }
}
