package io.strata.iscsi.internal;

import com.sun.jna.Callback;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.posix.JnaRelease;
import java.time.Duration;

/**
 * JNA direct mapping of the part of libiscsi 1.19 ({@code libiscsi.so.7}) the driver uses, and
 * of the few libc calls its event loops need. Pointers are passed as {@code long} (the driver
 * runs on 64-bit Linux only, checked at load) so that the I/O path allocates no JNA objects.
 *
 * <p>libiscsi contexts are not thread-safe: every call on a context is made by the one event
 * loop thread that owns it ({@link Session}).
 */
final class LibIscsi {
    /** The versioned name: without the -dev package there is no unversioned {@code libiscsi.so}. */
    static final String LIBRARY = "libiscsi.so.7";

    static final int SCSI_STATUS_GOOD = 0;
    static final int SCSI_STATUS_CHECK_CONDITION = 2;
    static final int SCSI_STATUS_BUSY = 8;
    static final int SCSI_STATUS_RESERVATION_CONFLICT = 0x18;
    static final int SCSI_STATUS_TASK_SET_FULL = 0x28;
    static final int SCSI_STATUS_TASK_ABORTED = 0x40;
    static final int SCSI_STATUS_CANCELLED = 0x0f000000;
    static final int SCSI_STATUS_ERROR = 0x0f000001;
    static final int SCSI_STATUS_TIMEOUT = 0x0f000002;

    static final int XFER_NONE = 0;
    static final int XFER_READ = 1;
    static final int XFER_WRITE = 2;

    static final int SESSION_DISCOVERY = 1;
    static final int SESSION_NORMAL = 2;

    /** {@code struct scsi_task} offsets (checked against scsi-lowlevel.h of 1.19 on x86_64). */
    static final int TASK_RESIDUAL_STATUS = 32;
    static final int TASK_RESIDUAL = 40;
    static final int TASK_SENSE_KEY = 52;
    static final int TASK_SENSE_ASCQ = 56;

    static final short POLLIN = 0x1;
    static final short POLLOUT = 0x4;

    private static final Throwable LOAD_ERROR;

    /** Whether the native methods are registered; guarded by LibIscsi.class. */
    private static boolean registered;

    /**
     * The sessions whose event loops run: every native call is made by a loop, or by a thread
     * waking one (which a loop's end excludes, {@link WakeFd}). {@link #release} waits for none.
     */
    static final JnaRelease.Gate LOOPS = new JnaRelease.Gate(() -> new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
            "the iscsi driver bundle was stopped"));

    static {
        Throwable error = null;
        try {
            if (Native.POINTER_SIZE != 8 || !Platform.isLinux()) {
                throw new UnsatisfiedLinkError("the iscsi driver needs 64-bit Linux");
            }
            register();
        } catch (Throwable e) {
            error = e;
        }
        LOAD_ERROR = error;
    }

    private LibIscsi() {
    }

    private static synchronized void register() {
        Native.register(LibIscsi.class, NativeLibrary.getInstance(LIBRARY));
        Native.register(C.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
        registered = true;
    }

    /**
     * Refuses new sessions, waits for the running ones' loops to end, then unregisters the
     * native methods and removes this bundle's classes and callbacks from JNA's static maps (see
     * {@link JnaRelease}): the bundle is stopping.
     *
     * @return false when a loop still ran after {@code wait} (the bindings then stay, and only
     *         this revision's classes stay loaded) or JNA's maps could not be reached
     */
    static synchronized boolean release(Duration wait) {
        if (!LOOPS.close(wait)) {
            return false;
        }
        if (registered) {
            Native.unregister(LibIscsi.class);
            Native.unregister(C.class);
            registered = false;
        }
        return JnaRelease.forget(LibIscsi.class.getClassLoader());
    }

    /** Lets sessions start again after {@link #release}: the same revision was started again. */
    static synchronized void bind() {
        if (LOOPS.isClosed()) {
            if (!registered && LOAD_ERROR == null) {
                register();
            }
            LOOPS.open();
        }
    }

    /**
     * @throws StorageException {@code UNSUPPORTED} when libiscsi cannot be loaded, naming the package
     */
    static void ensureLoaded() {
        if (LOAD_ERROR != null) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "the iscsi driver needs libiscsi ("
                    + LIBRARY + ", Debian/Ubuntu package libiscsi7) which cannot be loaded: "
                    + LOAD_ERROR.getMessage());
        }
    }

    /** @return true when libiscsi is usable here */
    static boolean available() {
        return LOAD_ERROR == null;
    }

    /** {@code iscsi_command_cb}: one long-lived instance per session, never one per command. */
    interface CommandCallback extends Callback {
        void invoke(long iscsi, int status, long commandData, long privateData);
    }

    static native long iscsi_create_context(String initiatorName);

    static native int iscsi_destroy_context(long iscsi);

    static native int iscsi_set_targetname(long iscsi, String targetName);

    static native int iscsi_set_session_type(long iscsi, int sessionType);

    static native int iscsi_set_initiator_username_pwd(long iscsi, String user, String password);

    static native int iscsi_set_timeout(long iscsi, int seconds);

    static native int iscsi_set_tcp_keepalive(long iscsi, int idle, int count, int interval);

    static native void iscsi_set_tcp_user_timeout(long iscsi, int timeoutMs);

    static native void iscsi_set_noautoreconnect(long iscsi, int state);

    static native int iscsi_connect_async(long iscsi, String portal, CommandCallback cb, long privateData);

    static native int iscsi_login_async(long iscsi, CommandCallback cb, long privateData);

    static native int iscsi_discovery_async(long iscsi, CommandCallback cb, long privateData);

    static native int iscsi_nop_out_async(long iscsi, CommandCallback cb, long data, int len, long privateData);

    static native int iscsi_get_nops_in_flight(long iscsi);

    static native int iscsi_get_fd(long iscsi);

    static native int iscsi_which_events(long iscsi);

    static native int iscsi_service(long iscsi, int revents);

    static native String iscsi_get_error(long iscsi);

    static native long scsi_create_task(int cdbSize, byte[] cdb, int xferDir, int expxferlen);

    static native void scsi_free_scsi_task(long task);

    static native int scsi_task_add_data_in_buffer(long task, int len, long buf);

    static native int scsi_task_add_data_out_buffer(long task, int len, long buf);

    static native int iscsi_scsi_command_async(long iscsi, int lun, long task, CommandCallback cb, long data,
            long privateData);

    static native void iscsi_scsi_cancel_all_tasks(long iscsi);

    /** The libc calls of the event loops: poll(2) and an eventfd(2) to wake them. */
    static final class C {
        static final int EFD_NONBLOCK = 04000;
        static final int EFD_CLOEXEC = 02000000;

        private C() {
        }

        static native int poll(long fds, long nfds, int timeoutMs);

        static native int eventfd(int initval, int flags);

        static native long read(int fd, long buf, long count);

        static native long write(int fd, long buf, long count);

        static native int close(int fd);
    }
}
