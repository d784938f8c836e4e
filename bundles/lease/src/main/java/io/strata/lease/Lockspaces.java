package io.strata.lease;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.fs.DatastoreFile;
import io.strata.lease.internal.Geometry;
import io.strata.lease.internal.LockspaceImpl;
import io.strata.lease.internal.Records;
import io.strata.lease.internal.Records.Decoded;
import io.strata.lease.internal.Records.Header;
import io.strata.lease.internal.Stores;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Formatting, joining and the sector stores of lockspaces.
 *
 * <p>A lockspace is laid out on its store as one header sector, one sector per host slot,
 * then for each resource area one leader sector and one Disk Paxos block per host slot; the
 * module README gives the byte layout. Every host that shares the lockspace must use the same
 * {@link LeaseSettings}.
 */
public final class Lockspaces {
    private Lockspaces() {
    }

    /**
     * @param layout the layout
     * @param sectorSize the store's sector size (a power of two, 512 to 65536)
     * @return how many sectors a lockspace of that layout occupies:
     *         {@code 1 + maxHosts + areas * (1 + maxHosts)}
     * @throws StorageException INVALID_ARGUMENT for an unsupported sector size
     */
    public static long sectorsNeeded(LockspaceLayout layout, int sectorSize) {
        requireNonNull(layout, "layout");
        Geometry.checkSectorSize(sectorSize);
        return Geometry.sectorsNeeded(layout.maxHosts(), layout.areas());
    }

    /**
     * @param store a store
     * @return true when its first sector holds a sound lockspace header; false when it is blank
     *         or holds anything else ({@link #format} tells those apart)
     * @throws StorageException the store's I/O errors
     */
    public static boolean formatted(SectorStore store) {
        requireNonNull(store, "store");
        return Records.decodeHeader(readHeader(store)).valid();
    }

    private static byte[] readHeader(SectorStore store) {
        Geometry.checkSectorSize(store.sectorSize());
        ByteBuffer b = ByteBuffer.allocate(store.sectorSize());
        store.read(0, b);
        return b.array();
    }

    /**
     * Writes the lockspace header, and only it. The header depends on nothing but the name, the
     * layout and the sector size, so formatting is idempotent: hosts racing to format a fresh
     * store with the same arguments write the same bytes, and formatting a lockspace that hosts
     * already use with its own arguments changes nothing (slots and areas are never touched). Two
     * hosts racing with different arguments on a blank store cannot be told apart by plain
     * writes: the last header written wins, and joining always follows the header on the store.
     *
     * @param store the store, blank (zeros) or already holding this very lockspace
     * @param name the lockspace name ({@link Names#check} rules)
     * @param layout host slots and resource areas
     * @throws StorageException ALREADY_EXISTS when the store holds another lockspace (another
     *         name or layout), CORRUPT_IMAGE when its first sector holds other data,
     *         SIZE_TOO_LARGE when the layout needs more sectors than the store has,
     *         INVALID_NAME, INVALID_ARGUMENT (sector size), the store's I/O errors
     */
    public static void format(SectorStore store, String name, LockspaceLayout layout) {
        requireNonNull(store, "store");
        requireNonNull(layout, "layout");
        Names.check("lockspace", name);
        int ss = store.sectorSize();
        Geometry.checkSectorSize(ss);
        Header want = new Header(name, ss, layout.maxHosts(), layout.areas());
        Geometry g = want.geometry();
        if (store.sectors() < g.totalSectors()) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, g + " needs " + g.totalSectors() + " sectors ("
                    + mib(g.totalSectors() * ss) + ") but the store " + store + " has only " + store.sectors()
                    + " (" + mib(store.sectors() * ss) + ")");
        }
        byte[] bytes = Records.encodeHeader(want, g.tag());
        Decoded<Header> cur = Records.decodeHeader(readHeader(store));
        switch (cur.status()) {
            case VALID -> {
                if (!cur.value().equals(want)) {
                    throw alreadyExists(cur.value().geometry(), g);
                }
                return;
            }
            case ZERO -> {
                store.write(0, ByteBuffer.wrap(bytes));
                // another host may have formatted it differently at the same time: look again
                Decoded<Header> now = Records.decodeHeader(readHeader(store));
                if (now.valid() && !now.value().equals(want)) {
                    throw alreadyExists(now.value().geometry(), g);
                }
                if (!now.valid()) {
                    throw new StorageException(ErrorCode.IO_ERROR, "the lockspace header written to " + store
                            + " does not read back");
                }
            }
            default -> throw new StorageException(ErrorCode.CORRUPT_IMAGE, "the first sector of " + store
                    + " holds data that is not a lockspace header (" + cur.why() + "); refusing to format "
                    + "over it: clear the sector if the store is really free");
        }
    }

    private static StorageException alreadyExists(Geometry found, Geometry wanted) {
        return new StorageException(ErrorCode.ALREADY_EXISTS, "the store already holds " + found
                + "; refusing to format it as " + wanted);
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / 1048576.0);
    }

    /**
     * Joins a formatted lockspace: takes a host slot and starts renewing it on a daemon thread
     * named {@code strata-lease-<lockspace name>}; returns once the slot is held.
     *
     * <p>The slot: the one already carrying this host's UUID (a restart), else a never-used or
     * released one, else one observed dead. A slot this host did not release cleanly (a crash) is
     * reused only after it was seen unchanged for the whole expiry, so that a previous process
     * of this host that might still run has fenced itself first; joining then takes at least
     * the expiry. Each claim is confirmed by writing, waiting two I/O timeouts (plus half a
     * renewal) and reading again, so two hosts never keep the same slot.
     *
     * @param store the lockspace's store (the caller closes it after the lockspace)
     * @param me this host
     * @param settings the timing; the same on every host
     * @param clock the clock ({@link LeaseClock#SYSTEM})
     * @param onFence run once, on its own thread, if this host fences itself; may be null
     * @return the membership
     * @throws StorageException INVALID_ARGUMENT when the store holds no lockspace or another
     *         sector size, CORRUPT_IMAGE for a damaged header or a store smaller than the
     *         lockspace, RESOURCE_IN_USE when every slot is held by a live host or this host's
     *         identity is live in a slot (another process), IO_ERROR, CANCELLED when interrupted
     */
    public static Lockspace join(SectorStore store, HostIdentity me, LeaseSettings settings, LeaseClock clock,
            Runnable onFence) {
        requireNonNull(store, "store");
        requireNonNull(me, "me");
        requireNonNull(settings, "settings");
        requireNonNull(clock, "clock");
        Decoded<Header> h = Records.decodeHeader(readHeader(store));
        if (h.status() == Records.Status.ZERO) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "the store " + store
                    + " holds no lockspace: format it first");
        }
        if (!h.valid()) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "the store " + store
                    + " holds no usable lockspace: " + h.why());
        }
        Geometry g = h.value().geometry();
        if (g.sectorSize() != store.sectorSize()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, g + " was formatted with " + g.sectorSize()
                    + "-byte sectors but the store " + store + " has " + store.sectorSize() + "-byte sectors");
        }
        if (store.sectors() < g.totalSectors()) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, g + " needs " + g.totalSectors()
                    + " sectors but the store " + store + " has only " + store.sectors() + ": it was truncated");
        }
        return LockspaceImpl.join(store, g, me, settings, clock, onFence == null ? () -> { } : onFence);
    }

    /**
     * A store over a datastore file: each write is a {@link DatastoreFile#writeThrough
     * write-through} (durable on return; a FILE_SYNC write on NFS, a write and a flush where the
     * file has nothing better), reads past the end of the file return zeros. Closing the store
     * closes the file.
     *
     * @param file the open, writable file
     * @param sectorSize the sector size to use (512 or 4096 as the datastore's device has)
     * @param sectors the region's length in sectors
     */
    public static SectorStore fileStore(DatastoreFile file, int sectorSize, long sectors) {
        return Stores.file(file, sectorSize, sectors);
    }

    /**
     * A store over a local file, opened with DSYNC writes and created or extended (sparse) to
     * {@code sectors} sectors; for tests and benchmarks. Closing the store closes the file.
     */
    public static SectorStore pathStore(Path file, int sectorSize, long sectors) {
        return Stores.path(file, sectorSize, sectors);
    }

    /**
     * A store over a region of a block device; each write is a {@link BlockDevice#writeThrough
     * write-through}, durable on return without a flush of the rest of the device.
     * Closing the store leaves the device open.
     *
     * @param device the device
     * @param offsetBytes where the region starts, a multiple of the device's sector size
     * @param sectors the region's length in the device's sectors
     */
    public static SectorStore blockStore(BlockDevice device, long offsetBytes, long sectors) {
        return Stores.block(device, offsetBytes, sectors);
    }
}
