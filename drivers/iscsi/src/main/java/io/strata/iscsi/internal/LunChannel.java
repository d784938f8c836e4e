package io.strata.iscsi.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.multipath.PathFailedException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
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

    /** {@link #send} of a write sent only while {@code fence} passes ({@link Session#execute(int, byte[], int, int, long, Object, io.strata.api.device.WriteFence)}). */
    CompletableFuture<ScsiResult> send(byte[] cdb, int direction, int length, long address, Object owner,
            io.strata.api.device.WriteFence fence) {
        return session.execute(lun, cdb, direction, length, address, owner, fence);
    }

    /**
     * Follows a command sent with {@link #send} and retries it as needed, without waiting: the
     * retries are sent from the session's loop thread (a BUSY pause from a timer thread).
     *
     * @param what the command, for messages (e.g. {@code READ(16) at LBA 8}); made only when a
     *        message needs it, so that a read or write builds no string when it succeeds
     * @param sent the first attempt
     * @param resend sends it again
     * @param miscompareOk return a MISCOMPARE instead of failing (COMPARE AND WRITE)
     * @return completes with a GOOD result (or a MISCOMPARE when allowed), or with the
     *         {@link PathFailedException} or {@link StorageException} of {@link #error}
     */
    CompletableFuture<ScsiResult> finishAsync(Supplier<String> what, CompletableFuture<ScsiResult> sent,
            Supplier<CompletableFuture<ScsiResult>> resend, boolean miscompareOk) {
        Retries retries = new Retries(what, resend, miscompareOk);
        sent.whenComplete(retries);
        return retries.done;
    }

    /**
     * Waits for a command sent with {@link #send} and retries it as {@link #finishAsync} does.
     *
     * @return a GOOD result, or a MISCOMPARE when allowed
     */
    ScsiResult finish(String what, CompletableFuture<ScsiResult> sent, Supplier<CompletableFuture<ScsiResult>> resend,
            boolean miscompareOk) {
        return session.await(finishAsync(() -> what, sent, resend, miscompareOk), backstopSeconds());
    }

    /**
     * How long a caller waits at most for a command and its retries, beyond which the session's
     * own time limits have failed: every attempt has the configured timeout, and the retries of
     * {@link Retries} add at most a few seconds of pauses.
     */
    long backstopSeconds() {
        return (session.config().timeoutSeconds() + 2L) * (MAX_UNIT_ATTENTIONS + MAX_ABORTED + 2L) + 10L;
    }

    /** What SAN initiators do with a command's answers, one answer at a time. */
    private final class Retries implements BiConsumer<ScsiResult, Throwable> {
        final CompletableFuture<ScsiResult> done = new CompletableFuture<>();
        private final Supplier<String> what;
        private final Supplier<CompletableFuture<ScsiResult>> resend;
        private final boolean miscompareOk;
        private int unitAttentions;
        private int busy;
        private int aborted;

        Retries(Supplier<String> what, Supplier<CompletableFuture<ScsiResult>> resend, boolean miscompareOk) {
            this.what = what;
            this.resend = resend;
            this.miscompareOk = miscompareOk;
        }

        @Override
        public void accept(ScsiResult r, Throwable failure) {
            if (failure != null) { // not from a session (its futures always complete normally); kept as it is
                done.completeExceptionally(failure);
                return;
            }
            if (r.good()) {
                done.complete(r);
                return;
            }
            if (r.transportFailed()) {
                done.completeExceptionally(new PathFailedException(label + ": " + what.get() + ": " + r.describe()));
                return;
            }
            if (r.checkCondition(ScsiResult.KEY_UNIT_ATTENTION) && unitAttentions < MAX_UNIT_ATTENTIONS) {
                unitAttentions++;
            } else if ((r.status() == LibIscsi.SCSI_STATUS_BUSY || r.status() == LibIscsi.SCSI_STATUS_TASK_SET_FULL)
                    && busy < MAX_BUSY) {
                long pause = Math.min(MAX_BUSY_PAUSE_MS, 1L << busy);
                busy++;
                CompletableFuture.delayedExecutor(pause, TimeUnit.MILLISECONDS).execute(this::again);
                return;
            } else if ((r.checkCondition(ScsiResult.KEY_ABORTED_COMMAND)
                    || r.status() == LibIscsi.SCSI_STATUS_TASK_ABORTED) && aborted < MAX_ABORTED) {
                aborted++;
            } else if (miscompareOk && r.checkCondition(ScsiResult.KEY_MISCOMPARE)) {
                done.complete(r);
                return;
            } else {
                done.completeExceptionally(error(label, what.get(), r));
                return;
            }
            again();
        }

        private void again() {
            try {
                resend.get().whenComplete(this);
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
            }
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
