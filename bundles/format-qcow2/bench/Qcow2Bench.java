import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.posix.LocalFile;
import java.lang.reflect.Constructor;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Strata's side of bench/run.sh: the same request sequence qemu-img bench issues
 * (offset = i * step modulo the image size), with several threads standing in for
 * qemu's queue depth, through the local datastore's file class (io.strata.posix.LocalFile,
 * what a dir or EXT4 datastore hands the format).
 *
 * <p>Before the measured run the JVM is warmed on a scratch image beside the target (a
 * fresh image: allocating writes, then the same writes in place, then reads), so the figure
 * is the long-running container's, not the JIT's first minutes.
 *
 * <p>The time printed runs from the first request to the last answer, as qemu-img bench's
 * "Run completed in" does; the closing flush (fsync) of a write run is printed apart.
 *
 * <p>Usage: Qcow2Bench <image> <create|write|read> <size> <request> <count> <step> <threads>
 */
public class Qcow2Bench {
    public static void main(String[] a) throws Exception {
        Path image = Path.of(a[0]);
        String mode = a[1];
        long size = Long.parseLong(a[2]);
        int request = Integer.parseInt(a[3]);
        long count = Long.parseLong(a[4]);
        long step = Long.parseLong(a[5]);
        int threads = Integer.parseInt(a[6]);
        Class<?> c = Class.forName("io.strata.qcow2.internal.Qcow2Format");
        Constructor<?> k = c.getDeclaredConstructor();
        k.setAccessible(true);
        DiskFormat format = (DiskFormat) k.newInstance();
        if (mode.equals("create")) {
            create(format, image, size);
            return;
        }
        Path scratch = image.resolveSibling(image.getFileName() + ".warm");
        try {
            long warm = Math.min(count, 16384);
            create(format, scratch, size);
            run(format, scratch, true, size, request, warm, step, threads);
            run(format, scratch, true, size, request, warm, step, threads);
            run(format, scratch, false, size, request, warm, step, threads);
        } finally {
            Files.deleteIfExists(scratch);
        }
        boolean write = mode.equals("write");
        double[] t = run(format, image, write, size, request, count, step, threads);
        double s = t[0];
        System.out.printf("strata %-5s %8d x %7d B: %7.3f s, %8.1f MiB/s, %9.0f IOPS, flush %.3f s%n", mode, count,
                request, s, count * (double) request / s / (1 << 20), count / s, t[1]);
    }

    private static void create(DiskFormat format, Path image, long size) {
        format.create(LocalFile.open(image.getFileName().toString(), image, true, true, null),
                new DiskSpec(size, Provisioning.THIN)).close();
    }

    /** @return seconds from the first request to the last answer, and seconds of the closing flush (writes) */
    private static double[] run(DiskFormat format, Path image, boolean write, long size, int request, long count,
            long step, int threads) throws InterruptedException {
        try (VirtualDisk d = format.open(LocalFile.open(image.getFileName().toString(), image, write, false, null),
                !write)) {
            AtomicLong next = new AtomicLong();
            long t0 = System.nanoTime();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread th = new Thread(() -> {
                    ByteBuffer buf = ByteBuffer.allocateDirect(request);
                    while (true) {
                        long i = next.getAndIncrement();
                        if (i >= count) {
                            return;
                        }
                        long off = (i * step) % (size - request + 1) / 512 * 512;
                        buf.clear();
                        if (write) {
                            buf.putLong(0, i);
                            d.write(buf, off);
                        } else {
                            d.read(buf, off);
                        }
                    }
                });
                th.start();
                ts.add(th);
            }
            for (Thread th : ts) {
                th.join();
            }
            long t1 = System.nanoTime();
            if (write) {
                d.flush();
            }
            return new double[] {(t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9};
        }
    }
}
