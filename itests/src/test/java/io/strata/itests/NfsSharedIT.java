package io.strata.itests;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import io.strata.testing.Ganesha;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.After;
import org.junit.Test;

/**
 * Two Strata hosts (two copies of the real distribution, own directories, ports and host
 * names) sharing one NFS datastore on one export of a private nfs-ganesha, with the default
 * lease timing (renewal 3 s, dead after 16 s): a volume one host creates is listed on the
 * other; a volume one host holds through its NBD export is refused on the other, naming the
 * holder; after kill -9 of the holder the other host takes it over once the lease expired, with
 * every write the dead host had flushed.
 */
public class NfsSharedIT {
    private final List<KarafProcess> hosts = new ArrayList<>();
    private Ganesha ganesha;

    @After
    public void tearDown() {
        for (KarafProcess h : hosts) {
            h.close();
        }
        if (ganesha != null) {
            ganesha.close();
        }
    }

    private KarafProcess start(String name) throws Exception {
        KarafProcess k = new KarafProcess("nfs-" + name);
        hosts.add(k);
        k.configure("etc/io.strata.core.cfg", "host.name", name);
        k.start();
        k.ok("storage:resource-add nas nas server=127.0.0.1 nfsport=" + ganesha.nfsPort() + " mountport="
                + ganesha.mountPort());
        k.ok("storage:datastore-create -o path=shared ds nfs nas/" + ganesha.exportPath().substring(1).replace('/', ':'));
        return k;
    }

    private static String nbdUri(KarafProcess k, String export) {
        return "nbd://127.0.0.1:" + k.nbdPort + "/" + export;
    }

    private static void await(String what, Duration timeout, java.util.function.BooleanSupplier done)
            throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " waiting until " + what);
            }
            Thread.sleep(250);
        }
    }

    @Test
    public void twoHostsShareAnNfsDatastoreAndOneTakesOverTheVolumeOfTheOtherAfterItDied() throws Exception {
        assumeTrue(Ganesha.unavailableReason().orElse(""), Ganesha.unavailableReason().isEmpty());
        assumeTrue("qemu-io is needed", HostTools.has("qemu-io"));
        Path dir = Paths.get("target", "nfs-shared-it").toAbsolutePath();
        KarafProcess.deleteTree(dir);
        Files.createDirectories(dir);
        ganesha = Ganesha.start(dir);
        KarafProcess h1 = start("h1");
        KarafProcess h2 = start("h2");

        h1.ok("storage:volume-create ds vm 64M");
        await("h2 lists the volume h1 made", Duration.ofSeconds(30),
                () -> h2.ok("storage:volume-list --no-format ds").contains("vm"));

        h1.ok("storage:export-add ds/vm");
        HostTools.run(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "flush", nbdUri(h1, "vm")));
        String refused = h2.error("storage:volume-delete ds/vm");
        assertTrue(refused, refused.startsWith("VOLUME_IN_USE") && refused.contains("h1"));

        long killed = System.nanoTime();
        h1.kill9();
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (true) {
            KarafProcess.Result r = h2.exec("storage:export-add ds/vm");
            if (r.ok()) {
                break;
            }
            assertTrue(r.error(), r.error().startsWith("VOLUME_IN_USE"));
            if (System.nanoTime() > end) {
                throw new AssertionError("ds/vm still in use 2 minutes after h1 died: " + r.error());
            }
            Thread.sleep(200);
        }
        long takeoverMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        // never before the dead host's lease could have expired (its last renewal may be 3 s old)
        assertTrue("taken over after " + takeoverMillis + " ms", takeoverMillis >= 12_000);
        String read = HostTools.run(List.of("qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 1M",
                "-c", "write -P 0x6b 1M 1M", "-c", "flush", "-c", "read -P 0x6b 1M 1M", nbdUri(h2, "vm")));
        assertFalse(read, read.contains("Pattern verification failed") || read.contains("failed"));
        System.out.printf("NfsSharedIT: kill -9 of the holder to export-add on the other host: %d ms%n",
                takeoverMillis);
    }
}
