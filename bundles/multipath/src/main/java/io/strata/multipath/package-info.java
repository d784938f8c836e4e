/**
 * Multipathing for block-device drivers (iSCSI, Fibre Channel): paths that reach the same
 * LUN (the same identity) are grouped into one {@link io.strata.api.device.BlockDevice}; a
 * path selector spreads I/O over the usable paths, a checker marks paths down and up, an
 * I/O that fails on one path is retried on the others, and when no path is left I/O queues
 * for a set time before it fails with {@code DEVICE_UNAVAILABLE}. Drivers supply one
 * {@link io.strata.multipath.PathTransport} per path.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.3.0")
package io.strata.multipath;
