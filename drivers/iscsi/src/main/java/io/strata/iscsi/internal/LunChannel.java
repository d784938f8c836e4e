package io.strata.iscsi.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.multipath.PathFailedException;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Sends commands to one LUN through one session, and does what SAN initiators do with their
 * answers: UNIT ATTENTION is retried a few times, BUSY and TASK SET FULL are retried with a
 * growing pause, ABORTED COMMAND is retried; a transport failure becomes a
 * {@link PathFailedException}, any other error a {@link StorageException} with the matching code.
 */
final class LunChannel {
    static final int MAX_UNIT_ATTENTIONS = 5;
    static final int MAX_BUSY = 10;
    static final int MAX_ABORTED = 3;
    private static final long MAX_BUSY_PAUSE_MS = 200;

    private final Session session;
    private final int lun;
    private final String label;

    /**
     * @param session the session
     * @param lun the LUN number
     * @param label names the path in messages
     */
    LunChannel(Session session, int lun, String label) {
        this.session = session;
        this.lun = lun;
        this.label = label;
    }

    Session session() {
        return session;
    }

    int lun() {
        return lun;
    }

    String label() {
        return label;
    }

    /** Sends a command without waiting; finish it with {@link #finish}. */
    CompletableFuture<ScsiResult> send(byte[] cdb, int direction, int length, long address, Object owner) {
        return session.execute(lun, cdb, direction, length, address, owner);
    }

    /**
     * Waits for a command sent with {@link #send} and retries it as needed.
     *
     * @param what the command, for messages (e.g. {@code READ(16) at LBA 8})
     * @param sent the first attempt
     * @param resend sends it again
     * @param miscompareOk return a MISCOMPARE instead of failing (COMPARE AND WRITE)
     * @return a GOOD result, or a MISCOMPARE when allowed
     */
    ScsiResult finish(String what, CompletableFuture<ScsiResult> sent, Supplier<CompletableFuture<ScsiResult>> resend,
            boolean miscompareOk) {
        ScsiResult r = session.await(sent, session.config().timeoutSeconds() + 10L);
        int unitAttentions = 0;
        int busy = 0;
        int aborted = 0;
        while (true) {
            if (r.good()) {
                return r;
            }
            if (r.transportFailed()) {
                throw new PathFailedException(label + ": " + what + ": " + r.describe());
            }
            if (r.checkCondition(ScsiResult.KEY_UNIT_ATTENTION) && unitAttentions < MAX_UNIT_ATTENTIONS) {
                unitAttentions++;
            } else if ((r.status() == LibIscsi.SCSI_STATUS_BUSY || r.status() == LibIscsi.SCSI_STATUS_TASK_SET_FULL)
                    && busy < MAX_BUSY) {
                pause(Math.min(MAX_BUSY_PAUSE_MS, 1L << busy));
                busy++;
            } else if ((r.checkCondition(ScsiResult.KEY_ABORTED_COMMAND)
                    || r.status() == LibIscsi.SCSI_STATUS_TASK_ABORTED) && aborted < MAX_ABORTED) {
                aborted++;
            } else if (miscompareOk && r.checkCondition(ScsiResult.KEY_MISCOMPARE)) {
                return r;
            } else {
                throw error(label, what, r);
            }
            r = session.await(resend.get(), session.config().timeoutSeconds() + 10L);
        }
    }

    /** Sends a command and waits for it, with retries. */
    ScsiResult run(String what, byte[] cdb, int direction, int length, long address, Object owner) {
        Supplier<CompletableFuture<ScsiResult>> s = () -> send(cdb, direction, length, address, owner);
        return finish(what, s.get(), s, false);
    }

    /**
     * Sends a command whose data goes to or comes from a byte array, with retries.
     *
     * @param data for data out the bytes sent, for data in receives the bytes
     */
    ScsiResult runBytes(String what, byte[] cdb, int direction, byte[] data) {
        int unitAttentions = 0;
        int busy = 0;
        while (true) {
            ScsiResult r = session.executeBytes(lun, cdb, direction, data);
            if (r.checkCondition(ScsiResult.KEY_UNIT_ATTENTION) && unitAttentions++ < MAX_UNIT_ATTENTIONS) {
                continue;
            }
            if ((r.status() == LibIscsi.SCSI_STATUS_BUSY || r.status() == LibIscsi.SCSI_STATUS_TASK_SET_FULL)
                    && busy < MAX_BUSY) {
                pause(Math.min(MAX_BUSY_PAUSE_MS, 1L << busy));
                busy++;
                continue;
            }
            if (r.good()) {
                return r;
            }
            if (r.transportFailed()) {
                throw new PathFailedException(label + ": " + what + ": " + r.describe());
            }
            throw error(label, what, r);
        }
    }

    /** @return the data-in bytes of a command that reads at most {@code allocation} bytes */
    byte[] read(String what, byte[] cdb, int allocation) {
        byte[] data = new byte[allocation];
        runBytes(what, cdb, LibIscsi.XFER_READ, data);
        return data;
    }

    /**
     * Maps a final answer to the exception the caller gets.
     *
     * @param label the path
     * @param what the command
     * @param r its result (not GOOD)
     * @return a {@link PathFailedException} when another path may do better, else a StorageException
     */
    static RuntimeException error(String label, String what, ScsiResult r) {
        String m = label + ": " + what + " failed: " + r.describe();
        if (r.transportFailed()) {
            return new PathFailedException(m);
        }
        switch (r.status()) {
            case LibIscsi.SCSI_STATUS_RESERVATION_CONFLICT:
                return new StorageException(ErrorCode.LOCKED, label + ": " + what
                        + ": reservation conflict (another host holds a persistent reservation on the LUN)");
            case LibIscsi.SCSI_STATUS_BUSY:
            case LibIscsi.SCSI_STATUS_TASK_SET_FULL:
                return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, m + " (the target stayed busy)");
            case LibIscsi.SCSI_STATUS_CHECK_CONDITION:
                break;
            default:
                return new StorageException(ErrorCode.IO_ERROR, m);
        }
        switch (r.senseKey()) {
            case ScsiResult.KEY_NOT_READY:
                // the LUN is not ready through this path (target offline, in transition): try another
                return new PathFailedException(m);
            case ScsiResult.KEY_ILLEGAL_REQUEST:
                if (r.asc() == 0x21) {
                    return new StorageException(ErrorCode.OUT_OF_RANGE, m + " (LBA out of range)");
                }
                if (r.asc() == 0x20) {
                    return new StorageException(ErrorCode.UNSUPPORTED, m + " (the target does not support the command)");
                }
                if (r.asc() == 0x25) {
                    return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, m + " (the LUN is gone)");
                }
                return new StorageException(ErrorCode.INVALID_ARGUMENT, m);
            case ScsiResult.KEY_DATA_PROTECT:
                return new StorageException(ErrorCode.READ_ONLY, m + " (the LUN is write protected)");
            case ScsiResult.KEY_MEDIUM_ERROR:
            case ScsiResult.KEY_HARDWARE_ERROR:
            default:
                return new StorageException(ErrorCode.IO_ERROR, m);
        }
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.CANCELLED, "interrupted while the target was busy");
        }
    }
}
