package io.strata.api.fs;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A byte range of an open datastore file that can be sent to a channel without passing
 * through the Java heap (on Linux, {@code sendfile(2)} from the page cache to a socket).
 * A slice keeps the file's descriptor open until it is closed, even when the file itself
 * is closed or deleted meanwhile, so a reply being sent never reads a reused descriptor.
 *
 * <p>Close it as soon as it has been sent: it may delay the release of the file's lock.
 * Filesystem layers implement it ({@link ConsumerType}).
 */
@ConsumerType
public interface FileSlice extends AutoCloseable {
    /** @return the number of bytes in the slice */
    long length();

    /**
     * Writes the whole slice to {@code target}, blocking until it is written.
     *
     * @param target where to write, typically a socket
     * @throws IOException when the target fails, or the file holds fewer bytes than the
     *         slice (then some of them may have been written: the target is unusable)
     */
    void transferTo(WritableByteChannel target) throws IOException;

    /** Releases the file; idempotent. */
    @Override
    void close();
}
