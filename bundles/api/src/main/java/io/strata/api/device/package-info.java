/**
 * The lowest layer: storage drivers, the resources they attach (an array, a
 * NAS server, the host's local disks) and the devices a resource offers
 * (block devices such as LUNs and local disks, file shares such as NAS
 * exports and local directories).
 *
 * <p>Version 1.1 adds, all source and binary compatible with 1.0: the identity
 * of a block device ({@link io.strata.api.device.BlockDevice#identity()},
 * {@link io.strata.api.device.DeviceInfo#identity()}), optional compare-and-write
 * and {@link io.strata.api.device.PersistentReservations persistent reservations},
 * and the {@link io.strata.api.device.DeviceState state} of a device with its
 * listeners ({@link io.strata.api.device.Subscription}). Version 1.2 adds
 * {@link io.strata.api.device.BlockDevice#readAsync readAsync} and
 * {@link io.strata.api.device.BlockDevice#writeAsync writeAsync}; 1.3 adds
 * {@link io.strata.api.device.BlockDevice#writeThrough writeThrough} (a write durable on
 * its own, without a flush of the whole device); 1.4 adds writes behind a
 * {@link io.strata.api.device.WriteFence WriteFence} checked when the driver issues them
 * ({@link io.strata.api.device.BlockDevice#write(java.nio.ByteBuffer, long, WriteFence)}).
 * All are default methods.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.4.0")
package io.strata.api.device;
