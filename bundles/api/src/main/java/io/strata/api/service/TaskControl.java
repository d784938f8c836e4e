package io.strata.api.service;

import org.osgi.annotation.versioning.ProviderType;

/** What a running {@link TaskWork} reports to and asks of its task. */
@ProviderType
public interface TaskControl {
    /** @param fraction done so far, 0 to 1 */
    void progress(double fraction);

    /** @return whether a cancel was asked for */
    boolean cancelRequested();

    /**
     * A safe point.
     *
     * @throws io.strata.api.StorageException {@code CANCELLED} when a cancel was asked for
     */
    void checkCancel();
}
