package io.strata.raw.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.osgi.service.component.annotations.Component;

/**
 * Raw images: the disk's bytes at the same offsets in the file, nothing else.
 * Thin is a sparse file, thick is written with zeros, thick-lazy is fallocated.
 */
@Component(service = DiskFormat.class, property = DiskFormat.TYPE_PROPERTY + "=" + RawFormat.TYPE)
public final class RawFormat implements DiskFormat {
    static final String TYPE = "raw";
    /** No limit of the format's own; the datastore's filesystem sets the real one. */
    static final long MAX_SIZE = 1L << 60;

    private static final Set<Capability> CAPABILITIES = Collections.unmodifiableSet(EnumSet.of(
            Capability.THIN, Capability.THICK, Capability.THICK_LAZY, Capability.RESIZE));
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "raw image: the disk's bytes as a plain (optionally sparse) file";
    }

    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public String fileExtension() {
        return "raw";
    }

    @Override
    public long maxVirtualSize() {
        return MAX_SIZE;
    }

    /** Raw has no magic number: any file could be a raw image, so detection never claims one. */
    @Override
    public boolean recognizes(DatastoreFile file) {
        return false;
    }

    @Override
    public ImageInfo probe(DatastoreFile file) {
        long size = checkImageSize(file);
        Provisioning p = guessProvisioning(file, size);
        return new ImageInfo(TYPE, size, p, Map.of("allocated", Long.toString(file.allocatedBytes())));
    }

    @Override
    public VirtualDisk create(DatastoreFile file, DiskSpec spec) {
        long size = checkSize(spec.virtualSize());
        if (!file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name() + "' is not writable");
        }
        if (file.size() != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "file '" + file.name()
                    + "' is not empty; a new raw image needs an empty file");
        }
        extend(file, 0, size, spec.provisioning());
        return new RawDisk(file, false, size, spec.provisioning());
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly) {
        if (!readOnly && !file.writable()) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + file.name()
                    + "' is not writable; open the disk read-only");
        }
        long size = checkImageSize(file);
        return new RawDisk(file, readOnly, size, guessProvisioning(file, size));
    }

    static long checkSize(long size) {
        if (size <= 0) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "a raw disk needs a positive size, not " + size
                    + " bytes");
        }
        if (size % 512 != 0) {
            long down = size / 512 * 512;
            throw new StorageException(ErrorCode.INVALID_SIZE, "disk sizes are whole 512-byte sectors; " + size
                    + " bytes is not (use " + (down > 0 ? down + " or " : "") + (down + 512) + ")");
        }
        if (size > MAX_SIZE) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, size + " bytes exceeds the raw format's limit of "
                    + MAX_SIZE + " bytes");
        }
        return size;
    }

    private static long checkImageSize(DatastoreFile file) {
        long size = file.size();
        if (size <= 0) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "raw image '" + file.name()
                    + "' is empty; a disk needs at least one 512-byte sector");
        }
        if (size % 512 != 0) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "raw image '" + file.name() + "' is " + size
                    + " bytes, not a whole number of 512-byte sectors (truncated, or not a disk image?)");
        }
        return size;
    }

    /** A file with holes is thin; a fully allocated one is thick. thick-lazy cannot be told from thick. */
    private static Provisioning guessProvisioning(DatastoreFile file, long size) {
        return file.allocatedBytes() < size ? Provisioning.THIN : Provisioning.THICK;
    }

    /** Makes {@code [from, to)} part of the image the way the provisioning type promises. */
    static void extend(DatastoreFile file, long from, long to, Provisioning provisioning) {
        switch (provisioning) {
            case THIN -> file.setSize(to);
            case THICK -> {
                long pos = from;
                while (pos < to) {
                    ByteBuffer z = ZEROS.duplicate();
                    z.limit((int) Math.min(z.capacity(), to - pos));
                    file.write(z, pos);
                    pos += z.limit();
                }
            }
            case THICK_LAZY -> {
                try {
                    file.allocate(from, to - from);
                } catch (StorageException e) {
                    if (e.code() == ErrorCode.UNSUPPORTED) {
                        throw new StorageException(ErrorCode.UNSUPPORTED, "the datastore of '" + file.name()
                                + "' cannot reserve space without writing it, so thick-lazy is not available there;"
                                + " use thick or thin", e);
                    }
                    throw e;
                }
                if (file.size() < to) {
                    file.setSize(to);
                }
            }
        }
    }
}
