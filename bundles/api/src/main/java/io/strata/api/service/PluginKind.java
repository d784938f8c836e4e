package io.strata.api.service;

/** The three kinds of pluggable bundles. */
public enum PluginKind {
    /** A {@link io.strata.api.device.StorageDriver}. */
    DRIVER,
    /** A {@link io.strata.api.fs.DatastoreFilesystem}. */
    FILESYSTEM,
    /** A {@link io.strata.api.format.DiskFormat}. */
    FORMAT
}
