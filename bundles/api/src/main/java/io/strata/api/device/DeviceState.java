package io.strata.api.device;

/**
 * How a block device (or, for multipath, one path to it) is doing, as far as its driver
 * can tell. Read it with {@link BlockDevice#state()}; follow changes with
 * {@link BlockDevice#addStateListener}.
 *
 * @since 1.1
 */
public enum DeviceState {
    /** I/O works. */
    ONLINE,
    /**
     * The device is still there but not healthy: an I/O timed out or failed with an I/O
     * error. I/O is still attempted; the next one that succeeds makes it {@link #ONLINE}.
     */
    DEGRADED,
    /**
     * The device cannot be used now: its node or backing file disappeared or was replaced,
     * or too many I/Os are stuck in it. I/O fails with {@code DEVICE_UNAVAILABLE} until the
     * driver sees it working again.
     */
    OFFLINE
}
