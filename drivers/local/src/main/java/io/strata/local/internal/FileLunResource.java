package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Sizes;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.posix.DirectFile;
import io.strata.posix.Errno;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * kind=file-lun: a sparse file acting as one block device, id {@value #DEVICE_ID},
 * with 512-byte sectors. The file is created on first attach and keeps its size. Its
 * identity is a UUID kept with the file ({@link LunIdentity}), made with the file, or
 * on the first open of a file made before identities existed.
 */
final class FileLunResource extends LocalResource {
    static final String DEVICE_ID = "lun";
    static final Set<String> PARAMETERS = Set.of("kind", "path", "size", "create", "direct", "io.timeout.ms");
    private static final System.Logger LOG = System.getLogger(FileLunResource.class.getName());

    private final Path file;
    private final IoOptions io;
    private final LunIdentity identities;

    FileLunResource(String name, Map<String, String> parameters) {
        this(name, parameters, LunIdentity.DEFAULT);
    }

    FileLunResource(String name, Map<String, String> parameters, LunIdentity identities) {
        super(name, parameters);
        this.identities = identities;
        Params p = new Params(name, parameters);
        p.allowOnly("file-lun", PARAMETERS);
        this.file = p.absolutePath("path");
        this.io = p.io();
        long size = p.size("size", Sizes.SECTOR);
        boolean create = p.bool("create", true);
        if (Files.isDirectory(file)) {
            throw p.invalid("path", "names " + file + ", which is a directory");
        }
        if (Files.exists(file)) {
            long existing = fileSize();
            if (size >= 0 && size != existing) {
                throw p.invalid("size", "is " + size + " but the existing LUN file " + file + " has " + existing
                        + " bytes; a file-backed LUN keeps its size");
            }
            checkDirect(false);
            return;
        }
        if (!create) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "resource " + name + ": LUN file " + file + " does not exist (create=false)");
        }
        if (size < 0) {
            throw p.invalid("size", "is required to create the LUN file " + file);
        }
        try {
            Files.createDirectories(file.getParent());
            Files.newByteChannel(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(size); // ftruncate: sparse, nothing written
            }
        } catch (IOException e) {
            throw Errno.exception(e, "create LUN file", file);
        }
        try {
            identities.create(file);
            checkDirect(true);
        } catch (RuntimeException e) {
            try {
                Files.deleteIfExists(file); // just made, holds nothing
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** With direct=true, says at attach already when the filesystem under the file refuses O_DIRECT. */
    private void checkDirect(boolean created) {
        if (!io.direct()) {
            return;
        }
        try {
            DirectFile.open(file, false).close();
        } catch (StorageException e) {
            if (e.code() == ErrorCode.UNSUPPORTED) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "resource " + name() + ": " + e.getMessage()
                        + "; attach it without direct=true to use the page cache"
                        + (created ? " (the new LUN file was removed again)" : ""), e);
            }
            throw e;
        }
    }

    private long fileSize() {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "resource " + name() + ": LUN file " + file + " is gone", e);
        }
    }

    @Override
    public List<DeviceInfo> devices() {
        long size = fileSize() / Sizes.SECTOR * Sizes.SECTOR;
        return List.of(new DeviceInfo(name(), DEVICE_ID, DeviceKind.BLOCK, size, Sizes.SECTOR,
                "file-backed LUN " + file, identities.read(file).orElse("")));
    }

    @Override
    public StorageDevice openDevice(String deviceId) {
        DeviceInfo info = find(deviceId);
        boolean readOnly = !Files.isWritable(file);
        if (info.identity().isEmpty()) {
            try {
                info = info.withIdentity(identities.ensure(file)); // a LUN made before identities existed
            } catch (StorageException e) {
                LOG.log(System.Logger.Level.WARNING, "device " + info.ref() + " has no identity: " + e.getMessage());
            }
        }
        return LocalBlockDevice.open(info, file, readOnly, io);
    }
}
