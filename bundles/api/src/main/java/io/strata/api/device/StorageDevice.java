package io.strata.api.device;

import java.nio.file.Path;
import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/** An opened device: a {@link BlockDevice} or a {@link FileShare}. */
@ConsumerType
public interface StorageDevice extends AutoCloseable {
    /** @return what the device is */
    DeviceInfo info();

    /**
     * @return where the device appears in the host's filesystem: a device node or
     *         backing file for a block device, a directory for a file share; empty
     *         for devices reached only through a user-space transport (iSCSI, NFS)
     */
    Optional<Path> localPath();

    /** Releases the device. Never throws. */
    @Override
    void close();
}
