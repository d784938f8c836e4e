package io.strata.fs.vims.internal;

import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Random;

/**
 * A device that loses power: write number {@link #cutAt} (counting the filesystem's writes, not
 * the lockspace's, so that the count follows the workload and not the lease timers) is dropped
 * or torn (only a prefix of its sectors reaches the disk), and from then on every write and
 * flush is silently dropped while reads go on. Flushes never reach the file underneath: this
 * process keeps the page cache, so what was written before the cut is exactly what a disk that
 * honoured every write would hold.
 */
final class CrashDevice implements BlockDevice {
    private final TestDevice d;
    private final long lockspaceStart;
    private final long lockspaceEnd;
    private final long cutAt;
    private final boolean tear;
    private final Random random;
    private final Object lock = new Object();
    private long writes;
    private volatile boolean cut;
    /** The operation the workload runs now (set by the test): the one a cut interrupts. */
    volatile int op = -1;
    volatile int cutOp = Integer.MIN_VALUE;
    volatile String cutWhat = "";

    /**
     * @param cutAt the filesystem write to cut at (1 is the first), or 0 for none
     * @param tear whether that write is torn rather than dropped (when it spans more than a sector)
     */
    CrashDevice(Path file, CrashWorkload.Template t, long cutAt, boolean tear, long seed) {
        this(file, t.lockspaceStart(), t.lockspaceEnd(), cutAt, tear, seed);
    }

    private CrashDevice(Path file, long lockspaceStart, long lockspaceEnd, long cutAt, boolean tear, long seed) {
        this.d = new TestDevice(file, CrashWorkload.LUN_SIZE, CrashWorkload.IDENTITY);
        this.lockspaceStart = lockspaceStart;
        this.lockspaceEnd = lockspaceEnd;
        this.cutAt = cutAt;
        this.tear = tear;
        this.random = new Random(seed);
    }

    /**
     * The LUN file as a device that never loses power and does not force the file to disk: for
     * a process that is killed (its writes stay in the page cache), without fsync latency
     * tripping the short lease timeouts of a loaded machine.
     */
    static CrashDevice plain(Path file) {
        return new CrashDevice(file, 0, 0, 0, false, 0);
    }

    boolean isCut() {
        return cut;
    }

    /** @return the filesystem writes that reached the device (all of them when no cut happened) */
    long writes() {
        synchronized (lock) {
            return writes;
        }
    }

    @Override
    public DeviceInfo info() {
        return d.info();
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    @Override
    public long size() {
        return d.size();
    }

    @Override
    public int sectorSize() {
        return d.sectorSize();
    }

    @Override
    public Optional<String> identity() {
        return d.identity();
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        synchronized (lock) { // a read never sees half of a write (a file's page cache does not promise that)
            d.read(dst, offset);
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        synchronized (lock) {
            if (cut) {
                src.position(src.limit());
                return;
            }
            boolean lockspace = offset >= lockspaceStart && offset < lockspaceEnd;
            if (!lockspace && ++writes == cutAt) {
                cut = true;
                cutOp = op;
                int sectors = src.remaining() / sectorSize();
                if (tear && sectors > 1) {
                    int keep = 1 + random.nextInt(sectors - 1);
                    ByteBuffer part = src.duplicate();
                    part.limit(part.position() + keep * sectorSize());
                    d.write(part, offset);
                    cutWhat = "write " + writes + " torn: " + keep + " of " + sectors + " sectors at " + offset;
                } else {
                    cutWhat = "write " + writes + " dropped: " + sectors + " sectors at " + offset;
                }
                src.position(src.limit());
                return;
            }
            d.write(src, offset);
        }
    }

    @Override
    public void flush() {
        // the page cache of this process is the disk: nothing to force
    }

    @Override
    public void unmap(long offset, long length) {
        d.unmap(offset, length);
    }

    @Override
    public void close() {
        d.close();
    }
}
