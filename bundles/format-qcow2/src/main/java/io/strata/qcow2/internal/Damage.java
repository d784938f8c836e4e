package io.strata.qcow2.internal;

/**
 * A problem found while decoding or validating an image. The decoders do not
 * know which file they read; {@link Inspector} turns this into a
 * {@code CORRUPT_IMAGE} StorageException that names the file.
 */
final class Damage extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** True when the image is well-formed but uses a feature Strata does not implement. */
    final boolean unsupported;

    Damage(String problem) {
        this(problem, false);
    }

    Damage(String problem, boolean unsupported) {
        super(problem, null, false, false);
        this.unsupported = unsupported;
    }
}
