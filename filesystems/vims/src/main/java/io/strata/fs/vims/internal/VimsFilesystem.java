package io.strata.fs.vims.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Sizes;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.lease.ClusteredFilesystem;
import io.strata.lease.LeaseParticipant;
import io.strata.lease.Lockspaces;
import io.strata.lease.SectorStore;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.osgi.service.component.annotations.Component;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VIMS: a clustered filesystem that many hosts mount at once on one shared LUN (or file LUN).
 * See the module README for the on-disk format.
 *
 * <p>Formatting a device that already holds a VIMS, without force, leaves it as it is: that is
 * how a second host adds the datastore (datastore-create with the same device). A device
 * holding anything else is refused unless forced.
 */
@Component(service = DatastoreFilesystem.class, property = DatastoreFilesystem.TYPE_PROPERTY + "=" + VimsFilesystem.TYPE)
public final class VimsFilesystem implements DatastoreFilesystem, ClusteredFilesystem {
    static final String TYPE = "vims";
    private static final Logger LOG = LoggerFactory.getLogger(VimsFilesystem.class);
    static final Set<String> OPTIONS = Set.of("block-size", "max-hosts", "max-files", "journal-size", "cluster-size",
            "max-size", "label");

    /** Creates the layer. */
    public VimsFilesystem() {
        // no configuration
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "VIMS clustered filesystem on a shared LUN: many hosts mount it at once (1 MiB blocks, per-host "
                + "journals and resource clusters, on-disk locks)";
    }

    @Override
    public Set<Capability> capabilities() {
        return Collections.unmodifiableSet(EnumSet.of(Capability.FORMAT, Capability.SHARED, Capability.SPARSE_FILES,
                Capability.PREALLOCATE, Capability.PUNCH_HOLE, Capability.FILE_LOCKS));
    }

    @Override
    public DeviceKind deviceKind() {
        return DeviceKind.BLOCK;
    }

    private static BlockDevice block(StorageDevice device) {
        if (device instanceof BlockDevice b) {
            return b;
        }
        throw new StorageException(ErrorCode.INVALID_ARGUMENT, "VIMS needs a block device; " + device.info().ref()
                + " is not one");
    }

    @Override
    public void format(StorageDevice device, Map<String, String> options, boolean force) {
        BlockDevice dev = block(device);
        Superblock.Parameters p = parameters(options, dev.size());
        Disk disk = new Disk(dev);
        String found = whatIsThere(disk);
        if (found != null && !force) {
            if (found.equals(TYPE)) {
                LOG.info("device {} already holds a VIMS: not formatting, it will be mounted as it is", dev.info().ref());
                return;
            }
            throw new StorageException(ErrorCode.DEVICE_HAS_FILESYSTEM, "device " + dev.info().ref() + " holds " + found
                    + "; use --force to format it as VIMS (everything on it is lost)");
        }
        if (TYPE.equals(found)) {
            refuseIfInUse(disk);
        }
        format(disk, p);
    }

    /** How long a forced format watches the heartbeats of a VIMS before erasing it. */
    static volatile java.time.Duration heartbeatWatch = java.time.Duration.ofSeconds(7);

    /**
     * A forced format of a VIMS that hosts still use would pull the filesystem from under them:
     * refused when any host slot's heartbeat moves while it is watched (a little more than two
     * renewals with the default timings).
     */
    static void refuseIfInUse(Disk disk) {
        Superblock sb = Vims.readSuperblock(disk);
        int ss = sb.sectorSize();
        int slots = sb.maxHosts();
        ByteBuffer before = ByteBuffer.allocate(slots * ss);
        disk.read(before, sb.lockspaceOffset() + ss);
        try {
            Thread.sleep(heartbeatWatch.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.IO_ERROR, "interrupted while checking the VIMS is not in use");
        }
        ByteBuffer after = ByteBuffer.allocate(slots * ss);
        disk.read(after, sb.lockspaceOffset() + ss);
        for (int s = 0; s < slots; s++) {
            // a slot record is 512 bytes; its renewal counter is at byte 48 (strata-lease README)
            if (before.getLong(s * ss + 48) != after.getLong(s * ss + 48)) {
                throw new StorageException(ErrorCode.RESOURCE_IN_USE, "device " + disk.device.info().ref()
                        + " holds a VIMS that hosts are using (the heartbeat in slot " + s + " moves); unmount it "
                        + "everywhere before formatting it again");
            }
        }
    }

    /** @return null for a blank device, "vims" for a VIMS, else a description of what is there */
    static String whatIsThere(Disk disk) {
        try {
            Vims.readSuperblock(disk);
            return TYPE;
        } catch (StorageException e) {
            if (e.code() == ErrorCode.UNSUPPORTED) {
                return "a VIMS of a newer format";
            }
        }
        int len = (int) Math.min(disk.size(), 64 * 1024);
        ByteBuffer head = ByteBuffer.allocate(len);
        disk.read(head, 0);
        if (len > 1081 && head.get(1080) == (byte) 0x53 && head.get(1081) == (byte) 0xEF) {
            return "an ext2/3/4 filesystem";
        }
        if (len > 512 && head.get(510) == (byte) 0x55 && head.get(511) == (byte) 0xAA) {
            return "a partition table";
        }
        for (int i = 0; i < len; i++) {
            if (head.get(i) != 0) {
                return "data (its first 64 KiB are not blank)";
            }
        }
        return null;
    }

    static Superblock.Parameters parameters(Map<String, String> options, long deviceSize) {
        for (String k : options.keySet()) {
            if (!OPTIONS.contains(k)) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "unknown VIMS option '" + k + "' (known: "
                        + new java.util.TreeSet<>(OPTIONS) + ")");
            }
        }
        long bs = size(options, "block-size", 1024 * 1024);
        if (Long.bitCount(bs) != 1 || bs < 64 * 1024 || bs > 64 * 1024 * 1024) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "block-size must be a power of two from 64K to 64M, got "
                    + bs);
        }
        int hosts = integer(options, "max-hosts", 32, 1, 256);
        int files = integer(options, "max-files", 2048, 16, 1 << 18);
        long journal = size(options, "journal-size", 1024 * 1024);
        if (journal % 4096 != 0 || journal < 256 * 1024 || journal > 256L * 1024 * 1024) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "journal-size must be a multiple of 4K from 256K to "
                    + "256M, got " + journal);
        }
        long cluster = size(options, "cluster-size", 512 * bs);
        if (cluster % bs != 0 || cluster / bs < 8 || cluster / bs > Bitmaps.MAX_BITS) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "cluster-size must be 8 to " + Bitmaps.MAX_BITS
                    + " blocks, got " + cluster + " bytes");
        }
        long maxSize = size(options, "max-size", Math.max(64 * deviceSize, 1L << 40));
        if (maxSize < deviceSize) {
            maxSize = deviceSize;
        }
        String label = options.getOrDefault("label", "").trim();
        if (label.length() > Superblock.MAX_LABEL || label.chars().anyMatch(Character::isISOControl)) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "label must be at most " + Superblock.MAX_LABEL
                    + " printable characters");
        }
        return new Superblock.Parameters((int) bs, hosts, files, (int) (journal / 4096), (int) (cluster / bs), maxSize,
                label);
    }

    private static long size(Map<String, String> options, String key, long dflt) {
        String v = options.get(key);
        if (v == null || v.isBlank()) {
            return dflt;
        }
        try {
            return Sizes.parse(v.trim());
        } catch (RuntimeException e) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, key + " must be a size such as 1M, got '" + v + "'");
        }
    }

    private static int integer(Map<String, String> options, String key, int dflt, int min, int max) {
        String v = options.get(key);
        if (v == null || v.isBlank()) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new StorageException(ErrorCode.INVALID_ARGUMENT, key + " must be a number from " + min + " to " + max
                + ", got '" + v + "'");
    }

    /** Writes a new, empty VIMS; the primary superblock last, so an interrupted format leaves no VIMS. */
    static Superblock format(Disk disk, Superblock.Parameters p) {
        BlockDevice dev = disk.device;
        if (dev.sectorSize() > Pages.SIZE || Pages.SIZE % dev.sectorSize() != 0) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "device " + dev.info().ref() + " has " + dev.sectorSize()
                    + "-byte sectors; VIMS needs sectors that divide 4096");
        }
        Superblock sb = Superblock.layout(UUID.randomUUID(), p.label(), dev.identity().orElse(""),
                System.currentTimeMillis(), dev.size(), dev.sectorSize(), p);
        int tag = sb.tag();
        // no VIMS while formatting: both superblock copies go first
        disk.writePages(Superblock.PRIMARY_PAGE, Pages.allocate());
        disk.writePages(Superblock.BACKUP_PAGE, Pages.allocate());
        disk.flush();
        // the lockspace: all of it blank (what a LUN held before would read as damaged lease
        // records), then formatted for this filesystem
        ByteBuffer blank = ByteBuffer.allocateDirect(1024 * 1024);
        long lsBytes = sb.lockspaceSectors() * sb.sectorSize();
        for (long done = 0; done < lsBytes; ) {
            int n = (int) Math.min(blank.capacity(), lsBytes - done);
            disk.write(blank.clear().limit(n), sb.lockspaceOffset() + done);
            done += n;
        }
        SectorStore store = Lockspaces.blockStore(dev, sb.lockspaceOffset(), sb.lockspaceSectors());
        Lockspaces.format(store, sb.lockspaceName(), sb.lockspaceLayout());
        store.close();
        for (int s = 0; s < sb.maxHosts(); s++) {
            disk.writePages(sb.journalPage(s), Journal.header(sb, s, 1));
        }
        disk.writePages(sb.namespacePage(), Pages.seal(Pages.allocate(), Pages.NAMESPACE, sb.namespacePage(), 1, tag));
        writeRun(disk, sb.directoryStart(), sb.directoryPages(),
                i -> Pages.seal(Pages.allocate(), Pages.DIRECTORY, sb.directoryStart() + i, 1, tag));
        writeRun(disk, sb.descriptorStart(), sb.maxFiles(),
                i -> Pages.seal(Pages.allocate(), Pages.DESCRIPTOR, sb.descriptorStart() + i, 1, tag));
        writeRun(disk, sb.bitmapStart(), (int) sb.clusters(), i -> Bitmaps.empty(sb, i, 1));
        disk.flush();
        disk.writePages(Superblock.BACKUP_PAGE, sb.encode(Superblock.BACKUP_PAGE, 1));
        disk.flush();
        disk.writePages(Superblock.PRIMARY_PAGE, sb.encode(Superblock.PRIMARY_PAGE, 1));
        disk.flush();
        LOG.info("formatted VIMS {} on {}: {} blocks of {} bytes, {} hosts, {} files", sb.uuid(), dev.info().ref(),
                sb.blocks(), sb.blockSize(), sb.maxHosts(), sb.maxFiles());
        return sb;
    }

    private static void writeRun(Disk disk, long first, int count, java.util.function.IntFunction<ByteBuffer> page) {
        for (int i = 0; i < count; ) {
            int n = Math.min(256, count - i);
            ByteBuffer run = ByteBuffer.allocate(n * Pages.SIZE);
            for (int k = 0; k < n; k++) {
                run.put(k * Pages.SIZE, page.apply(i + k), 0, Pages.SIZE);
            }
            disk.writePages(first + i, run);
            i += n;
        }
    }

    @Override
    public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "VIMS is a clustered filesystem: it is mounted by the core "
                + "with this host's identity (ClusteredFilesystem), not on its own");
    }

    @Override
    public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options,
            LeaseParticipant participant) {
        return Vims.mount(datastoreName, block(device), participant);
    }
}
