package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.lease.LockspaceLayout;
import io.strata.lease.Lockspaces;
import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * The superblock: what a VIMS is (UUID, label, the device it was made on) and where each of
 * its regions lies. Kept twice, at page {@value #PRIMARY_PAGE} and page {@value #BACKUP_PAGE};
 * both copies change together, through the journal, only when the filesystem grows.
 *
 * <p>Regions, in device order: superblocks (first 64 KiB), the lockspace, one journal per host
 * slot, the namespace header, the directory, one descriptor page per file, one bitmap page per
 * resource cluster (reserved up to {@link #maxClusters}, so the filesystem can grow), then the
 * file blocks from {@link #dataStart}, aligned to the block size.
 */
record Superblock(int formatVersion, UUID uuid, String label, String deviceIdentity, long createdMillis,
        int blockSize, int sectorSize, int maxHosts, int maxFiles, int journalPages, int clusterBlocks,
        int coreAreas, long blocks, long maxClusters, long lockspaceOffset, long lockspaceSectors,
        long journalStart, long namespacePage, long directoryStart, long descriptorStart, long bitmapStart,
        long dataStart) {

    static final int FORMAT_VERSION = 1;
    static final long PRIMARY_PAGE = 0;
    static final long BACKUP_PAGE = 8;
    /** Where the lockspace starts: after the superblocks' 64 KiB. */
    static final long LOCKSPACE_OFFSET = 64 * 1024;
    /** Directory entries per directory page. */
    static final int ENTRIES_PER_PAGE = 15;
    static final int ENTRY_SIZE = 256;
    /** Lease areas for resource clusters: cluster c uses area {@code 1 + c % CLUSTER_AREAS}. */
    static final int CLUSTER_AREAS = 64;
    static final int NAMESPACE_AREA = 0;
    static final int FIRST_CLUSTER_AREA = 1;
    static final int MAX_LABEL = 64;
    static final int MAX_IDENTITY = 256;

    /** The parameters of a new filesystem, from the format options. */
    record Parameters(int blockSize, int maxHosts, int maxFiles, int journalPages, int clusterBlocks,
            long maxSize, String label) {
    }

    static Superblock layout(UUID uuid, String label, String identity, long created, long deviceSize,
            int sectorSize, Parameters p) {
        int coreAreas = p.maxFiles();
        int areas = FIRST_CLUSTER_AREA + CLUSTER_AREAS + p.maxHosts() + p.maxFiles() + coreAreas;
        long lsSectors = Lockspaces.sectorsNeeded(new LockspaceLayout(p.maxHosts(), areas), sectorSize);
        long lsEnd = roundUp(LOCKSPACE_OFFSET + lsSectors * sectorSize, Pages.SIZE);
        long journalStart = lsEnd / Pages.SIZE;
        long ns = journalStart + (long) p.maxHosts() * p.journalPages();
        long dir = ns + 1;
        long desc = dir + (p.maxFiles() + ENTRIES_PER_PAGE - 1) / ENTRIES_PER_PAGE;
        long bitmap = desc + p.maxFiles();
        long maxBlocks = Math.max(p.maxSize(), deviceSize) / p.blockSize();
        long maxClusters = (maxBlocks + p.clusterBlocks() - 1) / p.clusterBlocks();
        long dataStart = roundUp((bitmap + maxClusters) * Pages.SIZE, p.blockSize());
        long blocks = deviceSize > dataStart ? (deviceSize - dataStart) / p.blockSize() : 0;
        if (blocks < 8) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "the device (" + deviceSize + " bytes) is too small "
                    + "for this VIMS: its metadata needs " + dataStart + " bytes before the first of at least 8 "
                    + p.blockSize() + "-byte blocks (lower max-files, max-hosts or block-size)");
        }
        return new Superblock(FORMAT_VERSION, uuid, label, identity, created, p.blockSize(), sectorSize, p.maxHosts(),
                p.maxFiles(), p.journalPages(), p.clusterBlocks(), coreAreas, blocks, maxClusters, LOCKSPACE_OFFSET,
                lsSectors, journalStart, ns, dir, desc, bitmap, dataStart);
    }

    static long roundUp(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }

    int tag() {
        return Pages.tag(uuid);
    }

    int areas() {
        return FIRST_CLUSTER_AREA + CLUSTER_AREAS + maxHosts + maxFiles + coreAreas;
    }

    int journalArea(int slot) {
        return FIRST_CLUSTER_AREA + CLUSTER_AREAS + slot;
    }

    int fileArea(int file) {
        return FIRST_CLUSTER_AREA + CLUSTER_AREAS + maxHosts + file;
    }

    int firstCoreArea() {
        return FIRST_CLUSTER_AREA + CLUSTER_AREAS + maxHosts + maxFiles;
    }

    static int clusterArea(long cluster) {
        return FIRST_CLUSTER_AREA + (int) (cluster % CLUSTER_AREAS);
    }

    LockspaceLayout lockspaceLayout() {
        return new LockspaceLayout(maxHosts, areas());
    }

    String lockspaceName() {
        return "vims-" + uuid;
    }

    long clusters() {
        return (blocks + clusterBlocks - 1) / clusterBlocks;
    }

    int directoryPages() {
        return (maxFiles + ENTRIES_PER_PAGE - 1) / ENTRIES_PER_PAGE;
    }

    long journalPage(int slot) {
        return journalStart + (long) slot * journalPages;
    }

    long directoryPageOf(int file) {
        return directoryStart + file / ENTRIES_PER_PAGE;
    }

    long descriptorPage(int file) {
        return descriptorStart + file;
    }

    long bitmapPage(long cluster) {
        return bitmapStart + cluster;
    }

    /** @return the byte offset of a file block on the device */
    long blockOffset(long block) {
        return dataStart + block * blockSize;
    }

    long pagesPerBlock() {
        return blockSize / Pages.SIZE;
    }

    /** @return the device page number of page {@code k} of block {@code block} */
    long blockPage(long block, long k) {
        return dataStart / Pages.SIZE + block * pagesPerBlock() + k;
    }

    long capacity() {
        return blocks * blockSize;
    }

    long maxBlocks() {
        return maxClusters * clusterBlocks;
    }

    Superblock withBlocks(long newBlocks) {
        return new Superblock(formatVersion, uuid, label, deviceIdentity, createdMillis, blockSize, sectorSize,
                maxHosts, maxFiles, journalPages, clusterBlocks, coreAreas, newBlocks, maxClusters, lockspaceOffset,
                lockspaceSectors, journalStart, namespacePage, directoryStart, descriptorStart, bitmapStart,
                dataStart);
    }

    ByteBuffer encode(long pageNo, long version) {
        ByteBuffer b = Pages.allocate();
        b.putInt(32, formatVersion);
        b.putInt(36, blockSize);
        b.putInt(40, sectorSize);
        b.putInt(44, maxHosts);
        b.putInt(48, maxFiles);
        b.putInt(52, journalPages);
        b.putInt(56, clusterBlocks);
        b.putInt(60, coreAreas);
        b.putLong(64, uuid.getMostSignificantBits());
        b.putLong(72, uuid.getLeastSignificantBits());
        b.putLong(80, createdMillis);
        b.putLong(88, blocks);
        b.putLong(96, maxClusters);
        b.putLong(104, lockspaceOffset);
        b.putLong(112, lockspaceSectors);
        b.putLong(120, journalStart);
        b.putLong(128, namespacePage);
        b.putLong(136, directoryStart);
        b.putLong(144, descriptorStart);
        b.putLong(152, bitmapStart);
        b.putLong(160, dataStart);
        Pages.putString(b, 168, MAX_LABEL, label);
        Pages.putString(b, 240, MAX_IDENTITY, deviceIdentity);
        return Pages.seal(b, Pages.SUPER, pageNo, version, tag());
    }

    /**
     * Decodes a superblock page read from {@code pageNo}.
     *
     * @return the superblock, or null when the page is not a sound VIMS superblock
     * @throws StorageException {@code UNSUPPORTED} for a sound superblock of a newer format version
     */
    static Superblock decode(ByteBuffer b, long pageNo) {
        if (Pages.isZero(b) || b.getInt(0) != Pages.MAGIC || Pages.type(b) != Pages.SUPER || b.getLong(8) != pageNo
                || b.getInt(Pages.CRC_AT) != Pages.crc(b)) {
            return null;
        }
        UUID uuid = new UUID(b.getLong(64), b.getLong(72));
        if (b.getInt(24) != Pages.tag(uuid)) {
            return null;
        }
        int version = b.getInt(32);
        if (version != FORMAT_VERSION) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "this VIMS has on-disk format version " + version
                    + "; this Strata reads version " + FORMAT_VERSION);
        }
        String label = Pages.string(b, 168, MAX_LABEL);
        String identity = Pages.string(b, 240, MAX_IDENTITY);
        if (label == null || identity == null) {
            return null;
        }
        Superblock s = new Superblock(version, uuid, label, identity, b.getLong(80), b.getInt(36), b.getInt(40),
                b.getInt(44), b.getInt(48), b.getInt(52), b.getInt(56), b.getInt(60), b.getLong(88), b.getLong(96),
                b.getLong(104), b.getLong(112), b.getLong(120), b.getLong(128), b.getLong(136), b.getLong(144),
                b.getLong(152), b.getLong(160));
        return s.sane() ? s : null;
    }

    /** @return whether the fields agree with each other (a CRC can be right on nonsense written by a bug) */
    boolean sane() {
        if (Integer.bitCount(blockSize) != 1 || blockSize < 64 * 1024 || blockSize > 64 * 1024 * 1024
                || (sectorSize != 512 && sectorSize != 4096) || maxHosts < 1 || maxHosts > 256 || maxFiles < 1
                || maxFiles > 1 << 20 || journalPages < 16 || clusterBlocks < 8 || clusterBlocks > Bitmaps.MAX_BITS
                || blocks < 0 || maxClusters < 1 || blocks > maxBlocks() || coreAreas < 0) {
            return false;
        }
        try {
            Superblock expect = layout(uuid, label, deviceIdentity, createdMillis, dataStart + blocks * blockSize,
                    sectorSize, new Parameters(blockSize, maxHosts, maxFiles, journalPages, clusterBlocks,
                            maxClusters * clusterBlocks * (long) blockSize, label));
            return expect.journalStart == journalStart && expect.namespacePage == namespacePage
                    && expect.directoryStart == directoryStart && expect.descriptorStart == descriptorStart
                    && expect.bitmapStart == bitmapStart && expect.dataStart == dataStart
                    && expect.lockspaceSectors == lockspaceSectors && lockspaceOffset == LOCKSPACE_OFFSET
                    && expect.maxClusters == maxClusters;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
