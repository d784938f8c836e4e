package io.strata.iscsi.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;

/**
 * An event loop's eventfd: any thread writes to it to wake the loop, the loop polls and drains
 * it, and closes it when the loop ends.
 *
 * <p>A write never meets a closed descriptor. Once closed, its number is free, and the next
 * file, socket or image the process opens may get it: a late wake-up would then write eight
 * bytes into that. So {@link #wake} and {@link #close} exclude each other, and a wake-up after
 * the close does nothing (the loop it would wake is gone).
 */
final class WakeFd implements AutoCloseable {
    private final int fd;
    private final Memory one = new Memory(8);
    private final Memory drained = new Memory(8);
    private boolean closed; // guarded by this

    /** Runs in {@link #wake} just before its write; for tests that hold a wake-up there. */
    volatile Runnable beforeWrite;

    /**
     * @param name the loop's name, for the message when the kernel refuses an eventfd
     */
    WakeFd(String name) {
        fd = LibIscsi.C.eventfd(0, LibIscsi.C.EFD_NONBLOCK | LibIscsi.C.EFD_CLOEXEC);
        if (fd < 0) {
            throw new StorageException(ErrorCode.INTERNAL, "iscsi " + name + ": eventfd failed");
        }
        one.setLong(0, 1);
    }

    /** @return the descriptor, for the loop's poll; only the loop uses it, and only before {@link #close} */
    int fd() {
        return fd;
    }

    /** Wakes the loop; does nothing once closed. Non-blocking: an eventfd counter does not fill up in practice. */
    synchronized void wake() {
        if (closed) {
            return;
        }
        Runnable hook = beforeWrite;
        if (hook != null) {
            hook.run();
        }
        LibIscsi.C.write(fd, Pointer.nativeValue(one), 8);
    }

    /** Resets the counter; called by the loop after its poll saw the descriptor readable. */
    void drain() {
        LibIscsi.C.read(fd, Pointer.nativeValue(drained), 8);
    }

    /** Closes the descriptor, after any wake-up in progress. Idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibIscsi.C.close(fd);
        }
    }
}
