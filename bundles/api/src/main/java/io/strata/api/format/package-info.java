/**
 * Disk formats (raw, VHD, qcow2) and the virtual disks they open: read, write,
 * flush, trim and block status at virtual offsets, over a datastore file.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.6.0")
package io.strata.api.format;
