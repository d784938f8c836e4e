/**
 * Filesystem layers and the datastores they mount: a flat namespace of files
 * with byte-range I/O, sparse allocation, punch hole and locks, over a device.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.6.0")
package io.strata.api.fs;
