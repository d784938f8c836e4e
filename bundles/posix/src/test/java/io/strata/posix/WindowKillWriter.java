package io.strata.posix;

import io.strata.api.fs.FileWindow;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/**
 * The child JVM of {@link WindowKillTest}: writes 1 MiB slots of a file through windows, as
 * the NBD server does (the first part with {@link FileWindow#write}, the rest by the kernel
 * reading into the mapping), flushes after each and records the index of the last flushed
 * write in a side file, until it is killed.
 */
public final class WindowKillWriter {
    static final int SLOT = 1 << 20;
    static final int SLOTS = 16;
    static final int HEAD = 100_000;

    private WindowKillWriter() {
    }

    static byte[] pattern(int i) {
        byte[] b = new byte[SLOT];
        new Random(i).nextBytes(b);
        return b;
    }

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        Path source = Path.of(args[1]);
        try (LocalFile f = LocalFile.open("image", image, true, false, null);
                RandomAccessFile progress = new RandomAccessFile(args[2], "rw");
                FileChannel src = FileChannel.open(source, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int i = 0; ; i++) {
                byte[] data = pattern(i);
                src.write(ByteBuffer.wrap(data), 0);
                try (FileWindow w = f.window((long) (i % SLOTS) * SLOT, SLOT).orElseThrow()) {
                    w.write(ByteBuffer.wrap(data, 0, HEAD));
                    ByteBuffer dst = w.buffer();
                    while (dst.hasRemaining()) {
                        src.read(dst, dst.position()); // a kernel copy into the mapping, as from a socket
                    }
                }
                f.flush();
                progress.seek(0);
                progress.writeInt(i);
            }
        }
    }
}
