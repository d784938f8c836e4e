package io.strata.core.internal;

import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The child JVM of {@link SharedKillTest}: a Strata host (a core over the shared directory)
 * that creates volume {@code ds/<volume>} when missing, opens it for writing and writes block
 * after block (block n holds the byte n+1), flushing each and printing {@code FLUSHED n} after
 * the flush returned. With {@code same} it rewrites block 0 forever instead. It prints
 * {@code REFUSED <code>} and exits when a write is refused (this host fenced itself). The
 * test kills it with SIGKILL or stops it with SIGSTOP.
 * Usage: SharedHostWorker &lt;root&gt; &lt;host&gt; &lt;volume&gt; &lt;blocks|same&gt;
 */
public final class SharedHostWorker {
    static final int BLOCK = 64 << 10;

    private SharedHostWorker() {
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        StrataCore core = SharedHosts.start(root, args[1], new FileConfigStore(root.resolve(args[1] + "-config.json")));
        VolumeRef v = VolumeRef.parse("ds/" + args[2]);
        boolean same = args[3].equals("same");
        if (core.list("ds").stream().noneMatch(i -> i.name().equals(v.volume()))) {
            core.create(v, 64L << 20, "vhd", Provisioning.THIN);
        }
        VirtualDisk d = core.open(v, false);
        System.out.println("OPEN");
        System.out.flush();
        ByteBuffer buf = ByteBuffer.allocate(BLOCK);
        try {
            for (int n = 0; ; n++) {
                int block = same ? 0 : n % 1000;
                buf.clear();
                while (buf.hasRemaining()) {
                    buf.put((byte) (same ? 'A' : block + 1));
                }
                buf.flip();
                d.write(buf, (long) block * BLOCK);
                d.flush();
                System.out.println("FLUSHED " + block);
                System.out.flush();
                Thread.sleep(5);
            }
        } catch (StorageException e) {
            System.out.println("REFUSED " + e.code() + " " + e.getMessage());
            System.out.flush();
        }
        Thread.sleep(600_000);
    }
}
