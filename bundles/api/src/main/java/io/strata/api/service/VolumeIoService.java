package io.strata.api.service;

import io.strata.api.StorageException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Per-volume I/O statistics and QoS limits. Limits are host configuration: they survive
 * restarts and apply to every handle and export of the volume on this host.
 *
 * @since 1.2
 */
@ProviderType
public interface VolumeIoService {
    /**
     * @throws StorageException {@code VOLUME_NOT_FOUND}
     */
    VolumeStats stats(VolumeRef volume);

    /** @return the statistics of every volume with I/O since the core started */
    List<VolumeStats> all();

    /**
     * Starts the statistics afresh (counters, histograms, rates).
     *
     * @throws StorageException {@code VOLUME_NOT_FOUND}
     */
    void reset(VolumeRef volume);

    /**
     * @throws StorageException {@code VOLUME_NOT_FOUND}
     */
    QosLimits qos(VolumeRef volume);

    /**
     * Sets a volume's limits, in force at once for open handles; {@link QosLimits#NONE}
     * removes them.
     *
     * @throws StorageException {@code VOLUME_NOT_FOUND}
     */
    void setQos(VolumeRef volume, QosLimits limits);
}
