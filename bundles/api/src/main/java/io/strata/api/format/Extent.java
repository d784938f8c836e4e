package io.strata.api.format;

/**
 * A run of a virtual disk with one allocation state, as reported by
 * {@link VirtualDisk#blockStatus}.
 *
 * @param offset start in bytes
 * @param length length in bytes
 * @param allocated whether the range is allocated in the image (or its chain)
 * @param zero whether the range is known to read as zeros
 */
public record Extent(long offset, long length, boolean allocated, boolean zero) {
}
