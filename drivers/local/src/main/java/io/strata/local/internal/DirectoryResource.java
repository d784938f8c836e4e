package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.posix.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** kind=directory: one file share, device id {@value #DEVICE_ID}, on a local directory. */
final class DirectoryResource extends LocalResource {
    static final String DEVICE_ID = "dir";
    static final Set<String> PARAMETERS = Set.of("kind", "path", "create");

    private final Path directory;

    DirectoryResource(String name, Map<String, String> parameters) {
        super(name, parameters);
        Params p = new Params(name, parameters);
        p.allowOnly("directory", PARAMETERS);
        this.directory = p.absolutePath("path");
        boolean create = p.bool("create", true);
        if (Files.exists(directory) && !Files.isDirectory(directory)) {
            throw p.invalid("path", "names " + directory + ", which is not a directory");
        }
        if (!Files.isDirectory(directory)) {
            if (!create) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "resource " + name + ": directory " + directory + " does not exist (create=false)");
            }
            try {
                Files.createDirectories(directory);
            } catch (IOException e) {
                throw Errno.exception(e, "create directory", directory);
            }
        }
    }

    @Override
    public List<DeviceInfo> devices() {
        if (!Files.isDirectory(directory)) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "resource " + name() + ": directory " + directory + " is gone");
        }
        long capacity;
        try {
            capacity = Files.getFileStore(directory).getTotalSpace();
        } catch (IOException e) {
            capacity = -1;
        }
        return List.of(new DeviceInfo(name(), DEVICE_ID, DeviceKind.FILE_SHARE, capacity, 0,
                "directory " + directory));
    }

    @Override
    public StorageDevice openDevice(String deviceId) {
        return new LocalShare(find(deviceId), directory);
    }
}
