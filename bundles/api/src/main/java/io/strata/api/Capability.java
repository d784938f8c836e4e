package io.strata.api;

/**
 * Capabilities an implementation declares, the way xapi SR drivers declare
 * CAPABILITIES. The generic layer checks them before calling an operation
 * and answers {@link ErrorCode#UNSUPPORTED} when one is missing.
 */
public enum Capability {
    // drivers and devices
    /** The driver discovers devices by itself (no per-device configuration). */
    DEVICE_DISCOVERY,
    /** The driver offers block devices (LUNs, disks). */
    BLOCK_DEVICES,
    /** The driver offers file shares (directories, NAS exports). */
    FILE_SHARES,
    /** Block devices can create new devices on request (file-backed LUNs). */
    DEVICE_CREATE,
    /** Block devices accept UNMAP / discard. */
    DEVICE_UNMAP,
    /** Block devices support atomic compare-and-write (SCSI ATS). */
    COMPARE_AND_WRITE,

    // filesystems and datastores
    /** The filesystem layer formats a device before first use. */
    FORMAT,
    /** The datastore can be mounted by several hosts at once. */
    SHARED,
    /** Files can be sparse: unwritten ranges take no space. */
    SPARSE_FILES,
    /** Space can be reserved for a file range without writing it (fallocate). */
    PREALLOCATE,
    /** A range of a file can be deallocated (punch hole). */
    PUNCH_HOLE,
    /** Files can be locked against other users. */
    FILE_LOCKS,
    /** The datastore's files are reachable as paths in the host's filesystem. */
    LOCAL_PATHS,

    // disk formats
    /** Thin provisioning: space is allocated on first write. */
    THIN,
    /** Thick provisioning, zeroed at creation. */
    THICK,
    /** Thick provisioning with space reserved and zeroing left to the filesystem. */
    THICK_LAZY,
    /** The virtual size can be changed after creation. */
    RESIZE,
    /** The format reports allocated and zero ranges. */
    BLOCK_STATUS,
    /** Trimmed ranges are freed. */
    TRIM,
    /** Images can have a backing (parent) image. */
    BACKING_CHAIN,
    /** The format checks an image's metadata and repairs what is safely repairable. */
    CHECK,
    /** The format frees blocks that read as zeros and compacts the image. */
    RECLAIM,

    // drivers and devices, for shared storage (io.strata.api.device 1.1)
    /** Block devices can do uncached I/O (O_DIRECT) when asked, so writes reach the storage and reads see other hosts' writes. */
    UNCACHED_IO,
    /** Block devices support persistent reservations ({@link io.strata.api.device.BlockDevice#reservations()}). */
    PERSISTENT_RESERVATIONS,
    /** Block device I/O can be given a time limit; an I/O exceeding it fails with {@link ErrorCode#DEVICE_UNAVAILABLE}. */
    IO_TIMEOUT,
    /** Block devices report their {@link io.strata.api.device.DeviceState state} and its changes. */
    DEVICE_STATE,
    /**
     * Devices are reached through several paths grouped by identity; the resource lists them
     * ({@link io.strata.api.device.StorageResource#paths()}) and fails I/O over between them.
     */
    MULTIPATH
}
