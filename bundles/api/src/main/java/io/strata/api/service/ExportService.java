package io.strata.api.service;

import io.strata.api.StorageException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The host's NBD exports. Exports are host configuration: they survive restarts. An
 * exported volume is open (in use) for as long as it is exported, so it cannot be
 * deleted or resized, and snapshots and clones of it see every write a client has seen
 * completed.
 *
 * @since 1.2
 */
@ProviderType
public interface ExportService {
    /**
     * Exports a volume.
     *
     * @param name the export name, or null for the volume's name
     * @throws StorageException {@code INVALID_NAME}; {@code ALREADY_EXISTS} for a taken export
     *         name or a volume exported already; {@code VOLUME_NOT_FOUND}; {@code VOLUME_IN_USE}
     *         when someone else has the volume open for writing
     */
    ExportInfo add(VolumeRef volume, String name, boolean readOnly);

    /**
     * Exports a volume that TCP clients may use only after starting TLS (clients through the
     * server's Unix domain socket are guarded by its permissions instead).
     *
     * @param tlsRequired false: as {@link #add(VolumeRef, String, boolean)}
     * @throws StorageException as {@link #add(VolumeRef, String, boolean)}; {@code UNSUPPORTED}
     *         when the server offers no TLS
     * @since 1.4
     */
    default ExportInfo add(VolumeRef volume, String name, boolean readOnly, boolean tlsRequired) {
        if (tlsRequired) {
            throw new StorageException(io.strata.api.ErrorCode.UNSUPPORTED,
                    "this NBD server cannot require TLS for one export");
        }
        return add(volume, name, readOnly);
    }

    /** @return every export, by name */
    List<ExportInfo> list();

    /**
     * @throws StorageException {@code EXPORT_NOT_FOUND}
     */
    ExportInfo info(String name);

    /**
     * Removes an export and closes its volume. Acknowledged writes are flushed first.
     *
     * @param force disconnect connected clients instead of refusing
     * @throws StorageException {@code EXPORT_NOT_FOUND}; {@code EXPORT_IN_USE} when
     *         {@code force} is false and clients are still connected after a few seconds'
     *         wait for them to leave
     */
    void remove(String name, boolean force);
}
