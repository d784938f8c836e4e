package io.strata.api.service;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;

/**
 * How users address a volume: {@code <datastore>/<volume>}.
 *
 * @param datastore the datastore name
 * @param volume the volume name
 */
public record VolumeRef(String datastore, String volume) {
    /** Checks both names with {@link Names#check}. */
    public VolumeRef {
        Names.check("datastore", datastore);
        Names.check("volume", volume);
    }

    /**
     * @param text {@code datastore/volume}
     * @return the reference
     * @throws StorageException {@code INVALID_NAME} when the text is not of that form or a name is bad
     */
    public static VolumeRef parse(String text) {
        if (text == null) {
            throw new StorageException(ErrorCode.INVALID_NAME, "volume must be given as <datastore>/<volume>");
        }
        int slash = text.indexOf('/');
        if (slash <= 0 || slash == text.length() - 1) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    "'" + Names.printable(text) + "' is not of the form <datastore>/<volume>");
        }
        return new VolumeRef(text.substring(0, slash), text.substring(slash + 1));
    }

    @Override
    public String toString() {
        return datastore + "/" + volume;
    }
}
