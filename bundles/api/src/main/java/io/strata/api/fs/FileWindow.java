package io.strata.api.fs;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A byte range of an open datastore file that a front end can write into in place: its
 * {@link #buffer()} is the file's own pages (on Linux, a shared mapping of the page cache), so
 * a payload read from a socket into it is copied once, where a write through a buffer copies
 * it twice (socket to buffer, buffer to page cache). The write side of {@link FileSlice}.
 *
 * <p>The buffer is meant to be filled by the kernel (a socket read into it), which reports a
 * page it cannot provide as an error; bytes already in memory go in with {@link #write}.
 * What is put into the buffer is the file's content at once, for readers as for
 * {@code flush}, which makes it durable like any write. A window the caller stops filling
 * halfway (its client went away) leaves the range partly written, as a write cut short by a
 * crash would. Close it as soon as it is filled: an open window keeps its mapping alive.
 * Filesystem layers implement it ({@link ConsumerType}).
 *
 * @since 1.5
 */
@ConsumerType
public interface FileWindow extends AutoCloseable {
    /**
     * @return a direct buffer over the range, position 0 and limit its length; valid until
     *         {@link #close()}
     */
    ByteBuffer buffer();

    /**
     * Copies what {@code src} holds into the window at its buffer's position, and advances both:
     * for bytes the caller already holds in memory (the part of a payload read with its
     * header). It goes through the file's own write path where the file has one (a local file:
     * {@code pwrite}), so a page that cannot be provided is an error, where a store into the
     * buffer would fault. The default puts into the buffer.
     *
     * @param src the bytes, at most what the window has left
     * @throws io.strata.api.StorageException {@code IO_ERROR}, {@code DATASTORE_FULL} as a
     *         write of the file
     */
    default void write(ByteBuffer src) {
        buffer().put(src);
    }

    /** Ends the write into the range; idempotent. */
    @Override
    void close();
}
