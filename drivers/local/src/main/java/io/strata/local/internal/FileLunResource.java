package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Sizes;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
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
 * with 512-byte sectors. The file is created on first attach and keeps its size.
 */
final class FileLunResource extends LocalResource {
    static final String DEVICE_ID = "lun";
    static final Set<String> PARAMETERS = Set.of("kind", "path", "size", "create");

    private final Path file;

    FileLunResource(String name, Map<String, String> parameters) {
        super(name, parameters);
        Params p = new Params(name, parameters);
        p.allowOnly("file-lun", PARAMETERS);
        this.file = p.absolutePath("path");
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
                "file-backed LUN " + file));
    }

    @Override
    public StorageDevice openDevice(String deviceId) {
        DeviceInfo info = find(deviceId);
        return new ChannelBlockDevice(info, file, !Files.isWritable(file));
    }
}
