package io.strata.fs.dir.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.FileShare;
import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.posix.LocalDirectoryDatastore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.osgi.service.component.annotations.Component;

/**
 * The {@code dir} layer: a datastore is the directory of a local file share,
 * used as it is. Nothing to format, nothing to mount.
 */
@Component(service = DatastoreFilesystem.class, property = DatastoreFilesystem.TYPE_PROPERTY + "=" + DirFilesystem.TYPE)
public final class DirFilesystem implements DatastoreFilesystem {
    static final String TYPE = "dir";
    /**
     * The option that mounts the directory as a shared datastore: a directory of a cluster
     * filesystem (or any filesystem several hosts mount) that many Strata hosts use at once,
     * coordinating through the lockspace the core keeps in it.
     */
    static final String SHARED_OPTION = "shared";

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "Datastore in an existing local directory (the embedded default)";
    }

    /**
     * What a dir datastore can offer on a Linux filesystem such as ext4 or xfs. Each mounted
     * datastore probes its own directory, so {@link Datastore#capabilities()} is the
     * authoritative answer for one datastore (a directory on a filesystem without fallocate
     * lacks PREALLOCATE and PUNCH_HOLE there).
     */
    @Override
    public Set<Capability> capabilities() {
        return Collections.unmodifiableSet(EnumSet.of(Capability.SPARSE_FILES, Capability.PREALLOCATE,
                Capability.PUNCH_HOLE, Capability.FILE_LOCKS, Capability.LOCAL_PATHS));
    }

    @Override
    public DeviceKind deviceKind() {
        return DeviceKind.FILE_SHARE;
    }

    @Override
    public void format(StorageDevice device, Map<String, String> options, boolean force) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "a dir datastore uses an existing directory; "
                + "there is nothing to format on " + device.info().ref());
    }

    @Override
    public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
        if (!(device instanceof FileShare) || device.localPath().isEmpty()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "datastore " + datastoreName + ": device "
                    + device.info().ref() + " is not a local directory; a dir datastore needs a file share with a local path");
        }
        Map<String, String> opts = options == null ? Map.of() : options;
        for (String key : opts.keySet()) {
            if (!key.equals(SHARED_OPTION)) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "datastore " + datastoreName
                        + ": the dir layer takes only the option '" + SHARED_OPTION + "', got '" + key + "'");
            }
        }
        String sharedValue = opts.getOrDefault(SHARED_OPTION, "false").trim();
        if (!sharedValue.equalsIgnoreCase("true") && !sharedValue.equalsIgnoreCase("false")) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "datastore " + datastoreName + ": option "
                    + SHARED_OPTION + " must be true or false, got '" + sharedValue + "'");
        }
        boolean shared = Boolean.parseBoolean(sharedValue);
        Path dir = device.localPath().get();
        if (!Files.isDirectory(dir)) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "datastore " + datastoreName + ": directory " + dir + " does not exist");
        }
        return new LocalDirectoryDatastore(datastoreName, TYPE, dir, null, shared);
    }
}
