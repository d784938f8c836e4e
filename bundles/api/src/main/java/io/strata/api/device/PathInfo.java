package io.strata.api.device;

import static java.util.Objects.requireNonNull;

/**
 * One path to a block device: an iSCSI session through one portal, or one Fibre Channel
 * initiator port to one target port. A multipathing driver groups the paths that reach the
 * same LUN (the same {@link BlockDevice#identity()}) into one device and lists them with
 * {@link StorageResource#paths()}.
 *
 * @param device the id of the device the path leads to (as {@link DeviceInfo#id()})
 * @param id the path's id, unique within its resource and stable while the resource is attached
 * @param transport where the path goes, for people: {@code iscsi 127.0.0.1:3260} or
 *        {@code fc host3 0x500143802426baf4 -> 0x50060e8005f4c010}
 * @param state whether it works: {@link DeviceState#ONLINE} (up), {@link DeviceState#DEGRADED}
 *        (an I/O or the checker failed, being retried), {@link DeviceState#OFFLINE} (down)
 * @param enabled false when an administrator set the path offline for maintenance
 * @param active true when the path selector sends I/O to it now
 * @param ios the I/Os completed on it
 * @param errors the I/Os and checks that failed on it
 * @param inFlight the I/Os on it now
 * @since 1.1
 */
public record PathInfo(String device, String id, String transport, DeviceState state, boolean enabled,
        boolean active, long ios, long errors, int inFlight) {
    /** Checks the components. */
    public PathInfo {
        requireNonNull(device, "device");
        requireNonNull(id, "id");
        requireNonNull(transport, "transport");
        requireNonNull(state, "state");
    }
}
