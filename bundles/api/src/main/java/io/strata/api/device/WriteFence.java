package io.strata.api.device;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The condition under which a host may still write to shared storage, checked by the driver at
 * the last moment before a write leaves the host: just before the system call, or before each
 * (re)send of a SCSI command, not when the write was queued. A host that froze (a stopped
 * process, a long garbage collection pause, a suspended virtual machine) with writes queued
 * must not issue them when it wakes up after its lease expired and another host took the
 * storage over; a check made only before queueing would let them through.
 *
 * @since 1.4
 */
@FunctionalInterface
@ConsumerType
public interface WriteFence {
    /** A fence that always lets writes through. */
    WriteFence NONE = () -> { };

    /**
     * Returns when the write may be issued.
     *
     * @throws io.strata.api.StorageException (usually {@code DEVICE_UNAVAILABLE}) when this host
     *         may no longer write; the write is then not issued and fails with this exception
     */
    void check();
}
