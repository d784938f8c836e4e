package io.strata.iscsi.internal;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.PersistentReservations;
import io.strata.api.device.WriteFence;
import io.strata.multipath.PathFailedException;
import io.strata.multipath.PathTransport;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One path to one LUN: a LUN number on a {@link Session} (one target through one portal). Reads
 * and writes go out as READ(16)/WRITE(16) split by the LUN's maximum transfer length (writes at
 * {@link #MAX_WRITE_BYTES} at most), every
 * piece in flight at once, straight from and into the caller's direct buffer (a heap buffer is
 * staged through a per-thread direct one).
 *
 * <p>UNMAP and COMPARE AND WRITE are used only when probed: UNMAP when VPD 0xB2 sets LBPU and an
 * UNMAP without descriptors (which deallocates nothing) succeeds, else WRITE SAME(16) with the
 * UNMAP bit when LBPWS is set (decided at its first use, then remembered); COMPARE AND WRITE when
 * one of block 0 with its current content, as just read, succeeds or miscompares.
 *
 * <p>A {@link #writeThrough write-through} is a WRITE(16) with the FUA bit when the LUN's MODE
 * SENSE header sets DPOFUA, else a WRITE(16) followed by SYNCHRONIZE CACHE. (tgtd's file
 * backing store answers both with an {@code fdatasync} of its whole file; an array with a
 * write cache completes a FUA write when that write is stable, whatever else is cached.)
 */
final class IscsiPath implements PathTransport {
    private static final Logger LOG = LoggerFactory.getLogger(IscsiPath.class);

    /** The longest single READ/WRITE even when the target gives no limit. */
    static final int MAX_TRANSFER_BYTES = 4 << 20;
    /**
     * The longest single WRITE. Targets that keep a LUN in a file (tgtd's rdwr backing store,
     * LIO's fileio) write each command with one buffered write, and the host's page cache keeps
     * what one write brought in as one folio (up to 2 MiB): every later small write into it
     * walks all of its blocks (measured with fio on a file here: 4 KiB random writes into 2 MiB
     * folios ran at a third of the rate into 256 KiB ones; the local driver's README has the
     * figures). The pieces of a longer write are all in flight at once, so a large write loses
     * nothing by the split.
     */
    static final int MAX_WRITE_BYTES = 256 << 10;
    /** The most blocks one UNMAP descriptor or one WRITE SAME covers when the target gives no limit. */
    static final long DEFAULT_MAX_UNMAP_BLOCKS = 1L << 22;
    private static final int SCRATCH_LIMIT = 1 << 20;
    private static final ThreadLocal<ByteBuffer> SCRATCH = new ThreadLocal<>();

    /** How {@link #unmap} deallocates. */
    enum UnmapMode { UNMAP, WRITE_SAME, NONE }

    /**
     * What discovery learnt about a LUN.
     *
     * @param lun the LUN number
     * @param vendor INQUIRY vendor
     * @param product INQUIRY product
     * @param designator from VPD 0x83, e.g. {@code naa.6000…}
     * @param capacity READ CAPACITY(16)
     * @param limits VPD 0xB0
     * @param provisioning VPD 0xB2
     */
    record LunInfo(int lun, String vendor, String product, String designator, Inquiry.Capacity capacity,
            Inquiry.BlockLimits limits, Inquiry.Provisioning provisioning) {
        /** @return the identity, {@code wwid:<designator>} */
        String identity() {
            return "wwid:" + designator;
        }
    }

    private final LunChannel channel;
    private final String id;
    private final String transport;
    private final LunInfo info;
    private final int blockSize;
    private final int maxTransferBlocks;
    /** {@link #maxTransferBlocks}, at most {@link #MAX_WRITE_BYTES}. */
    private final int maxWriteBlocks;
    private volatile UnmapMode unmapMode;
    private final boolean compareAndWrite;
    /** DPOFUA: the LUN honours the FUA bit of WRITE(16). */
    private final boolean fua;
    private final Reservations reservations = new Reservations();

    private IscsiPath(LunChannel channel, LunInfo info) {
        this.channel = channel;
        this.info = info;
        Session.Config c = channel.session().config();
        this.id = c.portal() + "/" + c.target() + "/" + info.lun();
        this.transport = "iscsi " + c.portal() + " " + c.target() + " lun " + info.lun();
        this.blockSize = info.capacity().blockLength();
        long limit = MAX_TRANSFER_BYTES / blockSize;
        if (info.limits().maxTransferBlocks() > 0) {
            limit = Math.min(limit, info.limits().maxTransferBlocks());
        }
        this.maxTransferBlocks = (int) Math.max(1, limit);
        this.maxWriteBlocks = (int) Math.max(1, Math.min(limit, MAX_WRITE_BYTES / blockSize));
        this.unmapMode = probeUnmap();
        this.compareAndWrite = probeCompareAndWrite();
        this.fua = probeFua();
    }

    /**
     * Learns what a LUN is and makes a path to it.
     *
     * @param session a logged-in session
     * @param lun a LUN REPORT LUNS listed
     * @return the path, or empty when the LUN is not a disk or has no identity
     */
    static Optional<IscsiPath> probe(Session session, int lun) {
        Session.Config c = session.config();
        LunChannel ch = new LunChannel(session, lun, "iscsi " + c.portal() + " " + c.target() + " lun " + lun);
        Inquiry.Standard std = Inquiry.standard(ch.read("INQUIRY", Cdb.inquiry(false, 0, 96), 96));
        if (std.qualifier() != 0 || std.type() != Inquiry.TYPE_DISK) {
            LOG.debug("{}: peripheral type {} qualifier {}: not a disk, ignored", ch.label(), std.type(),
                    std.qualifier());
            return Optional.empty();
        }
        List<Integer> pages = List.of();
        try {
            pages = Inquiry.supportedPages(ch.read("INQUIRY VPD 0x00", Cdb.inquiry(true, 0, 255), 255));
        } catch (StorageException e) {
            LOG.debug("{}: no VPD page list: {}", ch.label(), e.getMessage());
        }
        Optional<String> designator = Optional.empty();
        if (pages.isEmpty() || pages.contains(Inquiry.VPD_DEVICE_IDENTIFICATION)) {
            designator = Inquiry.designator(ch.read("INQUIRY VPD 0x83",
                    Cdb.inquiry(true, Inquiry.VPD_DEVICE_IDENTIFICATION, 1024), 1024));
        }
        if (designator.isEmpty()) {
            LOG.warn("{}: the LUN reports no NAA, EUI-64 or T10 designator (VPD 0x83): ignored", ch.label());
            return Optional.empty();
        }
        Inquiry.BlockLimits limits = Inquiry.BlockLimits.NONE;
        if (pages.contains(Inquiry.VPD_BLOCK_LIMITS)) {
            limits = Inquiry.blockLimits(ch.read("INQUIRY VPD 0xB0", Cdb.inquiry(true, Inquiry.VPD_BLOCK_LIMITS, 64), 64));
        }
        Inquiry.Provisioning prov = Inquiry.Provisioning.NONE;
        if (pages.contains(Inquiry.VPD_LOGICAL_BLOCK_PROVISIONING)) {
            prov = Inquiry.provisioning(ch.read("INQUIRY VPD 0xB2",
                    Cdb.inquiry(true, Inquiry.VPD_LOGICAL_BLOCK_PROVISIONING, 64), 64));
        }
        Inquiry.Capacity cap = Inquiry.capacity(ch.read("READ CAPACITY(16)", Cdb.readCapacity16(32), 32));
        if (cap.blockLength() < 512 || Integer.bitCount(cap.blockLength()) != 1) {
            LOG.warn("{}: logical block length {} is not supported: ignored", ch.label(), cap.blockLength());
            return Optional.empty();
        }
        LunInfo info = new LunInfo(lun, std.vendor(), std.product(), designator.get(), cap, limits, prov);
        return Optional.of(new IscsiPath(ch, info));
    }

    private UnmapMode probeUnmap() {
        if (info.provisioning().lbpu()) {
            try {
                channel.run("UNMAP (probe, no descriptors)", Cdb.unmap(0), LibIscsi.XFER_NONE, 0, 0, null);
                return UnmapMode.UNMAP;
            } catch (StorageException e) {
                LOG.info("{}: VPD 0xB2 advertises UNMAP but it fails: {}", id, e.getMessage());
            }
        }
        return info.provisioning().lbpws() ? UnmapMode.WRITE_SAME : UnmapMode.NONE;
    }

    private boolean probeCompareAndWrite() {
        ByteBuffer both = ByteBuffer.allocateDirect(2 * blockSize);
        long addr = address(both);
        try {
            channel.run("READ(16) of block 0 (COMPARE AND WRITE probe)", Cdb.read16(0, 1), LibIscsi.XFER_READ,
                    blockSize, addr, both);
            Native.getDirectBufferPointer(both).write(blockSize, readBack(both), 0, blockSize);
            CompletableFuture<ScsiResult> first = channel.send(Cdb.compareAndWrite(0, 1), LibIscsi.XFER_WRITE,
                    2 * blockSize, addr, both);
            channel.finish("COMPARE AND WRITE (probe)", first, () -> channel.send(Cdb.compareAndWrite(0, 1),
                    LibIscsi.XFER_WRITE, 2 * blockSize, addr, both), true);
            return true;
        } catch (StorageException e) {
            LOG.info("{}: no COMPARE AND WRITE: {}", id, e.getMessage());
            return false;
        }
    }

    private boolean probeFua() {
        try {
            // the caching page (08h): the header's device-specific byte carries DPOFUA
            byte[] h = channel.read("MODE SENSE(10) of the caching page", Cdb.modeSense10(0x08, 64), 64);
            return (h[3] & 0x10) != 0;
        } catch (StorageException e) {
            LOG.info("{}: MODE SENSE(10) failed ({}): write-through is a WRITE followed by SYNCHRONIZE CACHE",
                    id, e.getMessage());
            return false;
        }
    }

    /** @return whether a write-through is one WRITE(16) with FUA (the LUN reports DPOFUA) */
    boolean fua() {
        return fua;
    }

    private byte[] readBack(ByteBuffer both) {
        byte[] b = new byte[blockSize];
        both.duplicate().get(b);
        return b;
    }

    LunInfo info() {
        return info;
    }

    Session session() {
        return channel.session();
    }

    UnmapMode unmapMode() {
        return unmapMode;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String transport() {
        return transport;
    }

    @Override
    public String identity() {
        return info.identity();
    }

    @Override
    public long size() {
        return info.capacity().bytes();
    }

    @Override
    public int sectorSize() {
        return blockSize;
    }

    private void checkRange(long offset, long length) {
        if (offset % blockSize != 0 || length % blockSize != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, id + ": offset " + offset + " and length "
                    + length + " must be multiples of the sector size " + blockSize);
        }
        if (offset < 0 || length < 0 || offset + length > size()) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, id + ": " + length + " bytes at " + offset
                    + " lie beyond the end of the LUN (" + size() + " bytes)");
        }
    }

    private static long address(ByteBuffer direct) {
        return Pointer.nativeValue(Native.getDirectBufferPointer(direct));
    }

    private static ByteBuffer scratch(int length) {
        if (length > SCRATCH_LIMIT) {
            return ByteBuffer.allocateDirect(length);
        }
        ByteBuffer b = SCRATCH.get();
        if (b == null || b.capacity() < length) {
            b = ByteBuffer.allocateDirect(SCRATCH_LIMIT);
            SCRATCH.set(b);
        }
        return b;
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        int length = dst.remaining();
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        ByteBuffer buf = dst.isDirect() ? dst : scratch(length);
        long addr = address(buf) + (dst.isDirect() ? dst.position() : 0);
        transfer(true, false, null, buf, addr, offset, length);
        if (!dst.isDirect()) {
            ByteBuffer src = buf.duplicate();
            src.clear().limit(length);
            dst.put(src);
        } else {
            dst.position(dst.limit());
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        write(src, offset, false, null);
    }

    /**
     * Each WRITE(16) checks {@code fence} on the session's loop thread right before libiscsi gets
     * it (the first time and at each retry) and while libiscsi still has PDUs of it to send.
     */
    @Override
    public void write(ByteBuffer src, long offset, WriteFence fence) {
        write(src, offset, false, java.util.Objects.requireNonNull(fence, "fence"));
    }

    /** A WRITE(16) with FUA when the LUN has it: durable on return, with no flush of the LUN's cache. */
    @Override
    public void writeThrough(ByteBuffer src, long offset) {
        if (!fua) {
            PathTransport.super.writeThrough(src, offset);
            return;
        }
        write(src, offset, true, null);
    }

    private void write(ByteBuffer src, long offset, boolean forceUnitAccess, WriteFence fence) {
        int length = src.remaining();
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        ByteBuffer buf;
        long addr;
        if (src.isDirect()) {
            buf = src;
            addr = address(src) + src.position();
        } else {
            buf = scratch(length);
            ByteBuffer stage = buf.duplicate();
            stage.clear();
            stage.put(src.duplicate());
            addr = address(buf);
        }
        transfer(false, forceUnitAccess, fence, buf, addr, offset, length);
        src.position(src.limit());
    }

    /** Sends every piece of a read or write, then waits for all (retrying pieces as needed). */
    private void transfer(boolean read, boolean forceUnitAccess, WriteFence fence, ByteBuffer owner, long addr,
            long offset, int length) {
        channel.session().await(transferAsync(read, forceUnitAccess, fence, owner, addr, offset, length),
                channel.backstopSeconds());
    }

    /**
     * Sends every piece of a read or write at once; the future completes when all have
     * completed (each retried as needed), with the first failure if any failed.
     */
    private CompletableFuture<Void> transferAsync(boolean read, boolean forceUnitAccess, WriteFence fence,
            ByteBuffer owner, long addr, long offset, int length) {
        long lba = offset / blockSize;
        int blocks = length / blockSize;
        int most = read ? maxTransferBlocks : maxWriteBlocks;
        int pieces = (blocks + most - 1) / most;
        if (pieces == 1) {
            return piece(read, forceUnitAccess, fence, owner, addr, lba, blocks);
        }
        CompletableFuture<?>[] sent = new CompletableFuture<?>[pieces];
        for (int i = 0; i < pieces; i++) {
            int first = i * most;
            int n = Math.min(most, blocks - first);
            sent[i] = piece(read, forceUnitAccess, fence, owner, addr + (long) first * blockSize, lba + first, n);
        }
        return CompletableFuture.allOf(sent);
    }

    /** @return the most bytes one READ(16) ({@code read}) or WRITE(16) carries on this path */
    int largestCommand(boolean read) {
        return (read ? maxTransferBlocks : maxWriteBlocks) * blockSize;
    }

    /**
     * Sends one READ(16) or WRITE(16) and follows it with the channel's retries. A write with a
     * {@code fence} is sent (and resent) through the session, which checks the fence on its loop
     * thread right before libiscsi gets the command and while libiscsi still has PDUs of it to
     * send; once the fence refuses, the write fails with what it threw.
     */
    private CompletableFuture<Void> piece(boolean read, boolean forceUnitAccess, WriteFence fence, Object owner,
            long addr, long lba, int blocks) {
        byte[] cdb = read ? Cdb.read16(lba, blocks)
                : forceUnitAccess ? Cdb.write16Fua(lba, blocks) : Cdb.write16(lba, blocks);
        int dir = read ? LibIscsi.XFER_READ : LibIscsi.XFER_WRITE;
        int length = blocks * blockSize;
        Supplier<CompletableFuture<ScsiResult>> send = () -> channel.send(cdb, dir, length, addr, owner, fence);
        Supplier<String> what = () -> (read ? "READ(16)" : forceUnitAccess ? "WRITE(16) FUA" : "WRITE(16)")
                + " at LBA " + lba;
        return channel.finishAsync(what, send.get(), send, false).thenApply(r -> {
            if (read && r.residual() > 0) {
                throw new StorageException(ErrorCode.IO_ERROR, id + ": " + what.get() + " returned " + r.residual()
                        + " bytes too few");
            }
            return null;
        });
    }

    /**
     * A read from a direct buffer goes out without waiting, straight into the buffer; a heap
     * buffer is read as {@link #read} does it, through a staging buffer.
     */
    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        if (!dst.isDirect()) {
            return PathTransport.super.readAsync(dst, offset);
        }
        int length = dst.remaining();
        checkRange(offset, length);
        if (length == 0) {
            return CompletableFuture.completedFuture(null);
        }
        return transferAsync(true, false, null, dst, address(dst) + dst.position(), offset, length)
                .thenRun(() -> dst.position(dst.limit()));
    }

    /** As {@link #readAsync}, for a write. */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        return startWrite(src, offset, null);
    }

    /** As {@link #writeAsync(ByteBuffer, long)}, fenced as {@link #write(ByteBuffer, long, WriteFence)} is. */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset, WriteFence fence) {
        return startWrite(src, offset, java.util.Objects.requireNonNull(fence, "fence"));
    }

    /** A direct buffer goes out without waiting; a heap buffer is written as {@link #write} does it. */
    private CompletableFuture<Void> startWrite(ByteBuffer src, long offset, WriteFence fence) {
        if (!src.isDirect()) {
            try {
                write(src, offset, false, fence);
                return CompletableFuture.completedFuture(null);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        int length = src.remaining();
        checkRange(offset, length);
        if (length == 0) {
            return CompletableFuture.completedFuture(null);
        }
        return transferAsync(false, false, fence, src, address(src) + src.position(), offset, length)
                .thenRun(() -> src.position(src.limit()));
    }

    @Override
    public void flush() {
        channel.run("SYNCHRONIZE CACHE(10)", Cdb.synchronizeCache10(), LibIscsi.XFER_NONE, 0, 0, null);
    }

    @Override
    public boolean canUnmap() {
        return unmapMode != UnmapMode.NONE;
    }

    @Override
    public void unmap(long offset, long length) {
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        long lba = offset / blockSize;
        long blocks = length / blockSize;
        switch (unmapMode) {
            case UNMAP -> unmapWithUnmap(lba, blocks);
            case WRITE_SAME -> unmapWithWriteSame(lba, blocks);
            default -> throw new StorageException(ErrorCode.UNSUPPORTED, id
                    + ": the LUN does not support UNMAP or WRITE SAME with unmap (not thin provisioned)");
        }
    }

    private void unmapWithUnmap(long lba, long blocks) {
        long perDescriptor = info.limits().maxUnmapBlocks() > 0
                ? Math.min(info.limits().maxUnmapBlocks(), 0xffffffffL) : DEFAULT_MAX_UNMAP_BLOCKS;
        int descriptors = (int) Math.max(1, Math.min(info.limits().maxUnmapDescriptors(), 64));
        long at = lba;
        long end = lba + blocks;
        while (at < end) {
            List<long[]> list = new ArrayList<>();
            while (at < end && list.size() < descriptors) {
                long n = Math.min(perDescriptor, end - at);
                list.add(new long[] {at, n});
                at += n;
            }
            byte[] param = new byte[8 + 16 * list.size()];
            Cdb.putShort(param, 0, param.length - 2);
            Cdb.putShort(param, 2, 16 * list.size());
            for (int i = 0; i < list.size(); i++) {
                Cdb.putLong(param, 8 + 16 * i, list.get(i)[0]);
                Cdb.putInt(param, 16 + 16 * i, (int) list.get(i)[1]);
            }
            channel.runBytes("UNMAP at LBA " + list.get(0)[0], Cdb.unmap(param.length), LibIscsi.XFER_WRITE, param);
        }
    }

    private void unmapWithWriteSame(long lba, long blocks) {
        long max = info.limits().maxWriteSameBlocks() > 0
                ? Math.min(info.limits().maxWriteSameBlocks(), 0xffffffffL) : DEFAULT_MAX_UNMAP_BLOCKS;
        byte[] zeros = new byte[blockSize];
        for (long at = lba; at < lba + blocks;) {
            long n = Math.min(max, lba + blocks - at);
            try {
                channel.runBytes("WRITE SAME(16) with unmap at LBA " + at, Cdb.writeSameUnmap16(at, (int) n),
                        LibIscsi.XFER_WRITE, zeros);
            } catch (StorageException e) {
                if (e.code() == ErrorCode.UNSUPPORTED || e.code() == ErrorCode.INVALID_ARGUMENT) {
                    unmapMode = UnmapMode.NONE;
                    throw new StorageException(ErrorCode.UNSUPPORTED, id
                            + ": the LUN advertises WRITE SAME with unmap but refuses it: " + e.getMessage());
                }
                throw e;
            }
            at += n;
        }
    }

    @Override
    public boolean canCompareAndWrite() {
        return compareAndWrite;
    }

    @Override
    public boolean compareAndWrite(ByteBuffer expected, ByteBuffer src, long offset) {
        if (!compareAndWrite) {
            throw new StorageException(ErrorCode.UNSUPPORTED, id + ": the LUN does not support COMPARE AND WRITE");
        }
        int length = src.remaining();
        if (expected.remaining() != length) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, id
                    + ": compare-and-write needs as many expected bytes as new ones");
        }
        checkRange(offset, length);
        int blocks = length / blockSize;
        int max = info.limits().maxCompareAndWriteBlocks() > 0 ? info.limits().maxCompareAndWriteBlocks() : 1;
        if (blocks == 0 || blocks > max) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, id + ": compare-and-write covers 1 to " + max
                    + " sectors, not " + blocks);
        }
        ByteBuffer both = ByteBuffer.allocateDirect(2 * length);
        both.put(expected.duplicate()).put(src.duplicate()).flip();
        long addr = address(both);
        long lba = offset / blockSize;
        byte[] cdb = Cdb.compareAndWrite(lba, blocks);
        ScsiResult r = channel.finish("COMPARE AND WRITE at LBA " + lba,
                channel.send(cdb, LibIscsi.XFER_WRITE, 2 * length, addr, both),
                () -> channel.send(cdb, LibIscsi.XFER_WRITE, 2 * length, addr, both), true);
        if (!r.good()) {
            return false;
        }
        expected.position(expected.limit());
        src.position(src.limit());
        return true;
    }

    @Override
    public Optional<PersistentReservations> reservations() {
        return Optional.of(reservations);
    }

    @Override
    public void check() {
        if (channel.session().state() == Session.State.CONNECTING) {
            // another LUN's path is logging the shared session in again: wait for it
            reconnect();
            return;
        }
        if (!channel.session().loggedIn()) {
            throw new PathFailedException(id + ": not logged in: " + channel.session().failure());
        }
        channel.run("TEST UNIT READY", Cdb.testUnitReady(), LibIscsi.XFER_NONE, 0, 0, null);
    }

    @Override
    public void reconnect() {
        try {
            channel.session().connect();
        } catch (StorageException e) {
            throw new PathFailedException(id + ": " + e.getMessage(), e);
        }
        check();
    }

    /** The session is shared by every LUN of the target on the portal: the resource closes it. */
    @Override
    public void close() {
        // nothing of its own to release
    }

    @Override
    public String toString() {
        return "IscsiPath[" + id + ", " + info.identity() + "]";
    }

    /** SCSI-3 persistent reservations sent through this path (PERSISTENT RESERVE IN/OUT). */
    private final class Reservations implements PersistentReservations {
        private static final int SA_REGISTER = 0x00;
        private static final int SA_RESERVE = 0x01;
        private static final int SA_RELEASE = 0x02;
        private static final int SA_CLEAR = 0x03;
        private static final int SA_PREEMPT = 0x04;
        private static final int SA_REGISTER_AND_IGNORE = 0x06;
        private static final int SA_READ_KEYS = 0x00;
        private static final int SA_READ_RESERVATION = 0x01;

        private void out(String what, int action, Type type, long key, long serviceActionKey) {
            byte[] param = new byte[24];
            Cdb.putLong(param, 0, key);
            Cdb.putLong(param, 8, serviceActionKey);
            channel.runBytes("PERSISTENT RESERVE OUT " + what,
                    Cdb.persistentReserveOut(action, type == null ? 0 : code(type)), LibIscsi.XFER_WRITE, param);
        }

        @Override
        public void register(long key) {
            if (key == 0) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, id + ": a reservation key must not be 0");
            }
            out("REGISTER AND IGNORE EXISTING KEY", SA_REGISTER_AND_IGNORE, null, 0, key);
        }

        @Override
        public void unregister(long key) {
            out("REGISTER (unregister)", SA_REGISTER, null, key, 0);
        }

        @Override
        public void reserve(long key, Type type) {
            out("RESERVE", SA_RESERVE, type, key, 0);
        }

        @Override
        public void release(long key, Type type) {
            out("RELEASE", SA_RELEASE, type, key, 0);
        }

        @Override
        public void preempt(long key, long victimKey, Type type) {
            out("PREEMPT", SA_PREEMPT, type, key, victimKey);
        }

        @Override
        public void clear(long key) {
            out("CLEAR", SA_CLEAR, null, key, 0);
        }

        @Override
        public List<Long> keys() {
            byte[] d = channel.read("PERSISTENT RESERVE IN READ KEYS", Cdb.persistentReserveIn(SA_READ_KEYS, 8192),
                    8192);
            long n = Math.min(Cdb.u32(d, 4), d.length - 8) / 8;
            List<Long> keys = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                keys.add(Cdb.u64(d, 8 + 8 * i));
            }
            return List.copyOf(keys);
        }

        @Override
        public Optional<Reservation> reservation() {
            byte[] d = channel.read("PERSISTENT RESERVE IN READ RESERVATION",
                    Cdb.persistentReserveIn(SA_READ_RESERVATION, 64), 64);
            if (Cdb.u32(d, 4) < 16) {
                return Optional.empty();
            }
            Type type = type(Cdb.u8(d, 21) & 0x0f);
            return type == null ? Optional.empty() : Optional.of(new Reservation(Cdb.u64(d, 8), type));
        }
    }

    static int code(PersistentReservations.Type type) {
        return switch (type) {
            case WRITE_EXCLUSIVE -> 1;
            case EXCLUSIVE_ACCESS -> 3;
            case WRITE_EXCLUSIVE_REGISTRANTS_ONLY -> 5;
            case EXCLUSIVE_ACCESS_REGISTRANTS_ONLY -> 6;
            case WRITE_EXCLUSIVE_ALL_REGISTRANTS -> 7;
            case EXCLUSIVE_ACCESS_ALL_REGISTRANTS -> 8;
        };
    }

    static PersistentReservations.Type type(int code) {
        return switch (code) {
            case 1 -> PersistentReservations.Type.WRITE_EXCLUSIVE;
            case 3 -> PersistentReservations.Type.EXCLUSIVE_ACCESS;
            case 5 -> PersistentReservations.Type.WRITE_EXCLUSIVE_REGISTRANTS_ONLY;
            case 6 -> PersistentReservations.Type.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY;
            case 7 -> PersistentReservations.Type.WRITE_EXCLUSIVE_ALL_REGISTRANTS;
            case 8 -> PersistentReservations.Type.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
            default -> null;
        };
    }
}
