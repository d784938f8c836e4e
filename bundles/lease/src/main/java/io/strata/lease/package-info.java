/**
 * Leases on shared storage for hosts that share a datastore: host liveness (delta
 * leases, one slot per host) and exclusive leases on named resources (Disk Paxos),
 * built on nothing but aligned sector reads and writes, so they work on a SAN LUN
 * without COMPARE AND WRITE and on a file of a shared filesystem without byte locks.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package io.strata.lease;
