import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import java.lang.reflect.Constructor;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Strata's side of bench/run.sh: the same request sequence qemu-img bench issues
 * (offset = i * step modulo the image size), with several threads standing in for
 * qemu's queue depth. Usage: Qcow2Bench <image> <create|write|read> <size> <request> <count> <step> <threads>
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
        io.strata.api.format.DiskFormat format = (io.strata.api.format.DiskFormat) k.newInstance();
        if (mode.equals("create")) {
            format.create(LocalFile.open(image, true), new DiskSpec(size, Provisioning.THIN)).close();
            return;
        }
        boolean write = mode.equals("write");
        try (VirtualDisk d = format.open(LocalFile.open(image, write), !write)) {
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
            if (write) {
                d.flush();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("strata %-5s %8d x %7d B: %7.3f s, %8.1f MiB/s, %9.0f IOPS%n", mode, count, request, s,
                    count * (double) request / s / (1 << 20), count / s);
        }
    }
}
