package io.strata.api.device;

/** What kind of device a resource offers. */
public enum DeviceKind {
    /** A block device: LUN, local disk, file-backed LUN. */
    BLOCK,
    /** A file share: NAS export or local directory. */
    FILE_SHARE
}
