package io.strata.api.device;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A file share: a local directory or a NAS export. Filesystem layers reach
 * its files through {@link #localPath()} where it has one, or through their
 * own user-space client using {@link #uri()}.
 */
@ConsumerType
public interface FileShare extends StorageDevice {
    /** @return a URI naming the share, e.g. {@code file:///srv/ds1} or {@code nfs://host/export} */
    String uri();
}
