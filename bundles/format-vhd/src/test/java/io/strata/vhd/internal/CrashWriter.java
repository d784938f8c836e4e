package io.strata.vhd.internal;

import io.strata.api.format.BackingResolver;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/**
 * The victim of {@link CrashKillTest}, run in its own JVM: opens an image (with
 * its chain) and writes a deterministic sequence of writes, flushing every
 * {@code flushEvery} writes and printing {@code FLUSHED i} after each flush, until
 * it is killed.
 */
public final class CrashWriter {
    /** One write (or, with {@code trim} set, a trim of data.length bytes) of the sequence. */
    record Write(long offset, byte[] data, boolean trim) {
    }

    private CrashWriter() {
    }

    static Write write(long seed, int i, long size) {
        Random rnd = new Random(seed * 1_000_003L + i);
        boolean trim = rnd.nextInt(8) == 0; // frees blocks, so later writes allocate again
        int len = 1 + (trim || rnd.nextInt(4) == 0 ? rnd.nextInt(5 << 20) : rnd.nextInt(9000));
        long off = (long) (rnd.nextDouble() * (size - len));
        byte[] data = new byte[len];
        if (!trim) {
            rnd.nextBytes(data);
        }
        return new Write(off, data, trim);
    }

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        int flushEvery = Integer.parseInt(args[2]);
        BackingResolver resolver = name -> LocalFile.open(image.resolveSibling(name), false);
        // Also recorded in a side file: a kill never loses what reached the page cache, whatever the pipe does.
        try (java.io.RandomAccessFile progress = new java.io.RandomAccessFile(args[0] + ".flushed", "rw");
                VirtualDisk d = new VhdFormat().open(LocalFile.open(image, true), false, resolver)) {
            progress.seek(0);
            progress.writeInt(-1);
            long size = d.virtualSize();
            System.out.println("READY");
            System.out.flush();
            for (int i = 0; i < 1_000_000; i++) {
                Write w = write(seed, i, size);
                if (w.trim()) {
                    d.trim(w.offset(), w.data().length);
                } else {
                    d.write(ByteBuffer.wrap(w.data()), w.offset());
                }
                if ((i + 1) % flushEvery == 0) {
                    d.flush();
                    progress.seek(0);
                    progress.writeInt(i);
                    System.out.println("FLUSHED " + i);
                    System.out.flush();
                }
            }
        }
    }
}
