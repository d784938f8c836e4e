package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.VolumeRef;

/**
 * The arguments of a command that makes a volume ({@code volume-create}, {@code volume-import}):
 * {@code <datastore>/<volume> <value>}, as every other volume command names its volume, or the
 * deprecated {@code <datastore> <volume> <value>} of earlier releases.
 *
 * @param volume the new volume
 * @param value what follows it: the size, or the image's path
 */
record NewVolumeArguments(VolumeRef volume, String value) {

    /**
     * @param first {@code <datastore>/<volume>}, or the datastore in the deprecated form
     * @param second the value, or the volume name in the deprecated form
     * @param third null, or the value in the deprecated form
     * @param valueName what the value is, for the error message
     * @throws StorageException {@code INVALID_NAME} for a bad reference or name,
     *         {@code INVALID_ARGUMENT} for a reference followed by two more arguments
     */
    static NewVolumeArguments parse(String first, String second, String third, String valueName) {
        if (third == null) {
            return new NewVolumeArguments(VolumeRef.parse(first), second);
        }
        if (first.indexOf('/') >= 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "too many arguments: give the volume as <datastore>/<volume>, then the " + valueName);
        }
        return new NewVolumeArguments(new VolumeRef(first, second), third);
    }
}
