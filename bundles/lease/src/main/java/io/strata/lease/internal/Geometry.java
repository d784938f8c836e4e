package io.strata.lease.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.lease.LockspaceLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Where everything of one lockspace lies, in sectors from the start of its store:
 *
 * <pre>
 * sector 0                      header
 * sectors 1 .. H                host slots 0 .. H-1 (delta leases)
 * then, for each area a:        1 + H sectors: the leader, then the dblocks of slots 0 .. H-1
 * </pre>
 *
 * The tag is a checksum of the header's identity (name, sector size, layout); every record
 * carries it, so that sectors left over from another lockspace on recycled storage read as
 * blank instead of as data of this one.
 */
public final class Geometry {
    /** Largest supported sector size. */
    public static final int MAX_SECTOR_SIZE = 64 * 1024;

    private final String name;
    private final int sectorSize;
    private final int maxHosts;
    private final int areas;
    private final int tag;

    /**
     * @param name the lockspace name (already checked)
     * @param sectorSize the sector size in bytes
     * @param maxHosts number of host slots
     * @param areas number of resource areas
     */
    public Geometry(String name, int sectorSize, int maxHosts, int areas) {
        checkSectorSize(sectorSize);
        new LockspaceLayout(maxHosts, areas); // checks the ranges
        this.name = name;
        this.sectorSize = sectorSize;
        this.maxHosts = maxHosts;
        this.areas = areas;
        this.tag = tagOf(name, sectorSize, maxHosts, areas);
    }

    /** @throws StorageException INVALID_ARGUMENT unless a power of two from 512 to 64 KiB */
    public static void checkSectorSize(int sectorSize) {
        if (sectorSize < Records.RECORD_BYTES || sectorSize > MAX_SECTOR_SIZE || Integer.bitCount(sectorSize) != 1) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "sector size " + sectorSize
                    + " is not supported by leases: it must be a power of two from 512 to 65536 bytes");
        }
    }

    /** @return sectors a lockspace of this layout occupies */
    public static long sectorsNeeded(int maxHosts, int areas) {
        return 1L + maxHosts + (long) areas * (1L + maxHosts);
    }

    static int tagOf(String name, int sectorSize, int maxHosts, int areas) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(n.length + 12);
        b.put(n).putInt(sectorSize).putInt(maxHosts).putInt(areas);
        CRC32C crc = new CRC32C();
        crc.update(b.array());
        int t = (int) crc.getValue();
        return t == 0 ? 1 : t;
    }

    /** @return the lockspace name */
    public String name() {
        return name;
    }

    /** @return the sector size in bytes */
    public int sectorSize() {
        return sectorSize;
    }

    /** @return number of host slots */
    public int maxHosts() {
        return maxHosts;
    }

    /** @return number of resource areas */
    public int areas() {
        return areas;
    }

    /** @return the identity tag carried by every record */
    public int tag() {
        return tag;
    }

    /** @return the first slot sector */
    public long slotsStart() {
        return 1;
    }

    /** @return the sector of slot {@code slot} */
    public long slotSector(int slot) {
        return 1L + slot;
    }

    /** @return the first sector of the areas */
    public long areasStart() {
        return 1L + maxHosts;
    }

    /** @return sectors per area: the leader and one dblock per slot */
    public int areaSectors() {
        return 1 + maxHosts;
    }

    /** @return the leader sector of area {@code area}; its dblocks follow */
    public long areaSector(int area) {
        return areasStart() + (long) area * areaSectors();
    }

    /** @return sectors the whole lockspace occupies */
    public long totalSectors() {
        return sectorsNeeded(maxHosts, areas);
    }

    @Override
    public String toString() {
        return "lockspace '" + name + "' (" + maxHosts + " hosts, " + areas + " areas, " + sectorSize
                + "-byte sectors)";
    }
}
