package io.strata.itests;

import static io.strata.itests.KarafProcess.keyValues;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.After;
import org.junit.Assume;
import org.junit.Test;

/**
 * A real Linux guest on a Strata volume: QEMU (TCG) boots Debian's kernel with a busybox
 * initramfs ({@link Guest}) whose virtio disk is the volume's NBD export, attached through the
 * Unix domain socket as a hypervisor on the same host would. The guest makes an ext2
 * filesystem and writes files with known sums; a snapshot and a linked clone are made through
 * the shell; a second guest boots from the clone and checks every sum; the host checks the
 * images with qemu-img check and e2fsck on a copy. Then a guest writes and syncs file after file
 * while a snapshot under its disk is deleted (merged), runs on, and every file it wrote is
 * intact, in the guest and in a further boot.
 */
public class GuestIT {
    private KarafProcess karaf;

    @After
    public void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
    }

    /** Exports the volume and returns the URI of its export through the Unix domain socket. */
    private String export(String ref) {
        String uri = keyValues(karaf.ok("storage:export-add " + ref)).get("local-uri");
        assertTrue("no local-uri for " + ref, uri != null && uri.startsWith("nbd+unix:///"));
        return uri;
    }

    private Path image(String ref) {
        return Path.of(keyValues(karaf.ok("storage:volume-info " + ref)).get("path"));
    }

    private static void assertClean(String what, Path qcow2) throws Exception {
        HostTools.Result check = HostTools.result(List.of("qemu-img", "check", "-f", "qcow2", qcow2.toString()),
                java.time.Duration.ofMinutes(2));
        assertEquals(what + ": " + check.out(), 0, check.exit());
    }

    @Test
    public void aGuestMakesAFilesystemAndItsCloneBootsAndASnapshotIsDeletedUnderAWritingGuest() throws Exception {
        Assume.assumeTrue("qemu-system-x86_64, busybox-static, apt-get and dpkg-deb are needed", Guest.available());
        karaf = new KarafProcess("guest");
        Guest guest = Guest.prepare(karaf.home().resolve("guest"));
        Path work = karaf.home().resolve("guest");
        karaf.start();

        // 1. The first boot makes the filesystem and the files.
        karaf.ok("storage:volume-create --format qcow2 local vm 256M");
        String made = guest.boot(work, export("local/vm"), "make", "", line -> { });
        assertTrue(made, made.contains("STRATA-MADE") && !made.contains("STRATA-FAIL"));
        List<String> sums = Guest.sums(made);
        assertEquals(made, 8, sums.size());
        karaf.ok("storage:export-remove vm");

        // 2. A snapshot, a linked clone of it, and the clone boots and checks every sum.
        karaf.ok("storage:snapshot-create local/vm s1");
        karaf.ok("storage:volume-clone --linked local/vm@s1 local clone");
        String verified = guest.boot(work, export("local/clone"), "verify", "", line -> { });
        assertTrue(verified, verified.contains("STRATA-VERIFIED") && !verified.contains("STRATA-FAIL"));
        assertEquals(sums, Guest.sums(verified));
        karaf.ok("storage:export-remove clone");

        // 3. The host: qemu-img check on the images, e2fsck on a copy of the clone's disk.
        assertClean("the clone", image("local/clone"));
        assertClean("the volume", image("local/vm"));
        Path copy = work.resolve("clone-copy.raw");
        HostTools.run(List.of("qemu-img", "convert", "-O", "raw", "-f", "qcow2", image("local/clone").toString(),
                copy.toString()));
        HostTools.Result fsck = HostTools.result(List.of("e2fsck", "-fn", copy.toString()),
                java.time.Duration.ofMinutes(2));
        assertEquals(fsck.out(), 0, fsck.exit());

        // 4. Two more snapshots; while a guest writes and syncs file after file, the one right
        // under its disk is deleted (merged). The guest runs on; its files are all intact.
        karaf.ok("storage:snapshot-create local/vm s2");
        karaf.ok("storage:snapshot-create local/vm s3");
        String vm = export("local/vm");
        CountDownLatch writing = new CountDownLatch(1);
        AtomicInteger wrote = new AtomicInteger(-1);
        int[] wroteWhenDeleted = {-1};
        Thread deleter = new Thread(() -> {
            try {
                if (writing.await(5, TimeUnit.MINUTES)) {
                    karaf.ok("storage:snapshot-delete local/vm s3");
                    wroteWhenDeleted[0] = wrote.get();
                    guest.send("go"); // the guest writes three more files, then checks them all
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (java.io.IOException | RuntimeException | AssertionError e) {
                System.err.println("GuestIT: snapshot deletion: " + e);
            }
        }, "snapshot-deleter");
        deleter.start();
        String written = guest.boot(work, vm, "write", "", line -> {
            int n = Guest.number("WROTE", line);
            if (n >= 0) {
                wrote.set(n);
                if (n >= 2) {
                    writing.countDown();
                }
            }
        });
        writing.countDown();
        deleter.join(TimeUnit.MINUTES.toMillis(5));
        assertFalse("the snapshot deletion did not end", deleter.isAlive());
        assertTrue(written, written.contains("STRATA-WRITTEN") && !written.contains("STRATA-FAIL"));
        int files = Guest.last("WRITTEN", written); // the guest's own count
        System.out.println("GuestIT: the guest had written " + (wroteWhenDeleted[0] + 1)
                + " files when the snapshot's merge ended, and " + files + " in all");
        assertTrue("the deletion did not end while the guest wrote: " + wroteWhenDeleted[0] + " of " + files,
                wroteWhenDeleted[0] >= 2 && wroteWhenDeleted[0] + 3 <= files);
        String tree = karaf.ok("storage:snapshot-list local/vm");
        assertFalse(tree, tree.contains("s3"));
        karaf.ok("storage:export-remove vm");
        assertClean("the volume after the merge", image("local/vm"));

        // A further boot finds every file, the first eight and the ones written during the merge.
        String again = guest.boot(work, export("local/vm"), "verify", "", line -> { });
        assertTrue(again, again.contains("STRATA-VERIFIED") && !again.contains("STRATA-FAIL"));
        List<String> all = Guest.sums(again);
        assertEquals(again, 8 + files, all.size());
        assertTrue(all.containsAll(sums));
        karaf.ok("storage:export-remove vm");
        Map<String, String> info = keyValues(karaf.ok("storage:volume-info local/vm"));
        assertEquals("READY", info.get("state"));
    }
}
