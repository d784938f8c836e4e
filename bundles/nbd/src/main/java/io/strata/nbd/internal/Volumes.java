package io.strata.nbd.internal;

import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;

/** What exports need of the volume services: opening a volume, and what its format can do. */
interface Volumes {
    /**
     * @throws StorageException as {@link io.strata.api.service.VolumeService#open}
     */
    VirtualDisk open(VolumeRef ref, boolean readOnly);

    /** @return whether zeroing a range is cheaper than writing zeros (the format can trim to zeros) */
    boolean fastZero(VolumeRef ref);
}
