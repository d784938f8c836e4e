package io.strata.vhd.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
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
            Capability.THIN, Capability.THICK, Capability.THICK_LAZY, Capability.RESIZE, Capability.BLOCK_STATUS));

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
        details.put("subformat", in.type() == DiskType.FIXED ? "fixed" : "dynamic");
        details.put("creator-app", printable(f.creatorApp()));
        details.put("creator-version", (f.creatorVersion() >>> 16) + "." + (f.creatorVersion() & 0xffff));
        details.put("size-source", SizeRule.usesCurrentSize(f) ? "current_size" : "chs");
        details.put("geometry", f.geometry().toString());
        details.put("unique-id", f.uniqueId().toString());
        if (in.header() != null) {
            details.put("block-size", Integer.toString(in.header().blockSize()));
            details.put("allocated-blocks", Long.toString(in.allocatedBlocks()));
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
        return new DynamicVhdDisk(file, readOnly, in);
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
