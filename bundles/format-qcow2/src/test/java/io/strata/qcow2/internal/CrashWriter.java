package io.strata.qcow2.internal;

import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/**
 * The child process of {@link CrashKillTest}: opens an image (with its chain) and writes a
 * deterministic stream of operations forever, flushing now and then and printing
 * {@code ACK <op index> <seed>} after each flush returns. The parent kills it with SIGKILL.
 */
public final class CrashWriter {
    enum Kind { WRITE, ZERO, TRIM }

    /** One operation of the stream: what the child does and the parent replays. */
    record Op(Kind kind, long offset, int length, long dataSeed, boolean flushAfter) {
        byte[] data() {
            byte[] b = new byte[length];
            if (kind == Kind.WRITE) {
                new Random(dataSeed).nextBytes(b);
            }
            return b;
        }
    }

    private CrashWriter() {
    }

    static Op op(long seed, int index, long size) {
        Random r = new Random(seed * 1_000_003L + index);
        int k = r.nextInt(100);
        Kind kind = k < 85 ? Kind.WRITE : k < 95 ? Kind.ZERO : Kind.TRIM;
        int len = r.nextInt(10) < 6 ? 1 + r.nextInt(8192) : 1 + r.nextInt(300_000);
        long offset = (long) (r.nextDouble() * (size - len));
        return new Op(kind, offset, len, r.nextLong(), r.nextInt(4) == 0);
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        String image = args[1];
        long seed = Long.parseLong(args[2]);
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk d = format.open(LocalFile.open(dir.resolve(image), true), false, Fixtures.dir(dir))) {
            long size = d.virtualSize();
            System.out.println("READY");
            System.out.flush();
            for (int i = 0; ; i++) {
                Op op = op(seed, i, size);
                switch (op.kind()) {
                    case WRITE -> d.write(ByteBuffer.wrap(op.data()), op.offset());
                    case ZERO -> d.writeZeroes(op.offset(), op.length());
                    default -> d.trim(op.offset(), op.length());
                }
                if (op.flushAfter()) {
                    d.flush();
                    System.out.println("ACK " + i + " " + op.dataSeed());
                    System.out.flush();
                }
            }
        }
    }
}
