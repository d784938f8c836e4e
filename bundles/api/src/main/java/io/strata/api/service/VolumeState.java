package io.strata.api.service;

/** The life cycle of a volume. */
public enum VolumeState {
    /** Being created; not usable. A crash leaves it for cleanup at the next mount, never as READY. */
    CREATING,
    /** Usable, and not open. */
    READY,
    /** Open by a user (an export, a migration, a shell handle). */
    IN_USE,
    /** Being deleted. */
    DELETING,
    /** Its datastore is unavailable. */
    UNAVAILABLE
}
