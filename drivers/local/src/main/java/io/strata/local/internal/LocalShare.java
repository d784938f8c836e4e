package io.strata.local.internal;

import io.strata.api.device.DeviceInfo;
import io.strata.api.device.FileShare;
import java.nio.file.Path;
import java.util.Optional;

/** A local directory offered as a file share; nothing to release on close. */
final class LocalShare implements FileShare {
    private final DeviceInfo info;
    private final Path directory;

    LocalShare(DeviceInfo info, Path directory) {
        this.info = info;
        this.directory = directory;
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(directory);
    }

    @Override
    public String uri() {
        return directory.toUri().toString();
    }

    @Override
    public void close() {
        // a directory holds no connection
    }
}
