package io.strata.vhd.internal;

/**
 * A problem found while decoding or validating an image. The decoders do not
 * know which file they read; {@link VhdInspector} turns this into a
 * {@code CORRUPT_IMAGE} StorageException that names the file.
 */
final class Damage extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Damage(String problem) {
        super(problem, null, false, false);
    }
}
