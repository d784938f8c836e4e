package io.strata.api.format;

import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Finds the files a child image names as its backing (parent). The core gives
 * one to a format when it opens or creates a differencing image, so that the
 * format never reaches outside the datastore by itself.
 *
 * <p>The core implements it and formats only call it ({@link ProviderType}).
 */
@ProviderType
@FunctionalInterface
public interface BackingResolver {
    /**
     * Opens a backing image read-only.
     *
     * @param fileName the parent's file name as the child records it (a plain file name in
     *        the same datastore; formats that record paths pass the last path element)
     * @return the parent file, opened read-only; the caller closes it
     * @throws StorageException {@code CHAIN_BROKEN} when no such file exists,
     *         {@code INVALID_NAME} for a name that would leave the datastore
     */
    DatastoreFile openBacking(String fileName);
}
