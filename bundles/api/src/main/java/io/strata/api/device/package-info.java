/**
 * The lowest layer: storage drivers, the resources they attach (an array, a
 * NAS server, the host's local disks) and the devices a resource offers
 * (block devices such as LUNs and local disks, file shares such as NAS
 * exports and local directories).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package io.strata.api.device;
