package io.strata.iscsi.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.PersistentReservations;
import io.strata.api.device.PersistentReservations.Type;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The path transport and discovery against a real tgtd, without the multipath layer. */
class IscsiPathTest {
    @TempDir
    Path tmp;
    TgtFixture tgt;
    Discovery discovery;
    Map<String, List<IscsiPath>> byIdentity;

    @BeforeEach
    void start() {
        tgt = TgtFixture.start(tmp);
        IscsiParams p = IscsiParams.parse("r", Map.of("portal", tgt.portals(), "timeout", "5"));
        discovery = new Discovery("r", p);
        List<IscsiPath> paths = discovery.refresh();
        byIdentity = paths.stream().collect(Collectors.groupingBy(IscsiPath::identity));
    }

    @AfterEach
    void stop() {
        if (discovery != null) {
            discovery.close();
        }
        if (tgt != null) {
            tgt.close();
        }
    }

    private IscsiPath path(long size, int which) {
        return byIdentity.values().stream().filter(l -> l.get(0).size() == size).findFirst().orElseThrow()
                .stream().sorted((a, b) -> a.id().compareTo(b.id())).toList().get(which);
    }

    @Test
    void discoversTwoLunsOverTwoPortalsGroupedByIdentity() throws Exception {
        assertEquals(2, byIdentity.size(), byIdentity.keySet().toString());
        for (List<IscsiPath> l : byIdentity.values()) {
            assertEquals(2, l.size());
            assertTrue(l.get(0).identity().startsWith("wwid:naa."), l.get(0).identity());
            assertEquals(512, l.get(0).sectorSize());
            assertFalse(l.get(0).id().equals(l.get(1).id()));
        }
        assertEquals(TgtFixture.THICK_SIZE, path(TgtFixture.THICK_SIZE, 0).size());
        assertEquals(TgtFixture.THIN_SIZE, path(TgtFixture.THIN_SIZE, 0).size());
        // the identity is the NAA designator iscsi-inq reads from VPD 0x83 (it prints binary designators as
        // text, so compare the T10 designator it prints and tgt's SCSI ID that both NAA and T10 carry)
        String show = tgt.tgt.tgtadm("--op", "show", "--mode", "target");
        for (int lun = 1; lun <= 2; lun++) {
            Process p = new ProcessBuilder("iscsi-inq", "-e", "1", "-c", "131",
                    "iscsi://" + tgt.tgt.portal1() + "/" + TgtFixture.IQN + "/" + lun).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            assertTrue(out.contains("Designator Type:(3) NAA"), out);
            String scsiId = String.format("%04x%04x", tgt.target.tid(), lun);
            assertTrue(out.contains(scsiId) && show.contains(scsiId), out);
            long size = lun == 1 ? TgtFixture.THICK_SIZE : TgtFixture.THIN_SIZE;
            String identity = path(size, 0).identity();
            assertTrue(identity.matches("wwid:naa\\.6[0-9a-f]{31}"), identity);
            assertTrue(identity.endsWith(scsiId), identity + " does not carry " + scsiId);
            assertEquals(identity, path(size, 1).identity());
        }
    }

    @Test
    void readWriteFlushRoundTripManyThreads() throws Exception {
        IscsiPath a = path(TgtFixture.THICK_SIZE, 0);
        IscsiPath b = path(TgtFixture.THICK_SIZE, 1);
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int thread = t;
                fs.add(pool.submit(() -> {
                    Random rnd = new Random(thread);
                    for (int i = 0; i < 40; i++) {
                        int len = 512 * (1 + rnd.nextInt(64));
                        long off = (thread * 4L << 20) + 512L * rnd.nextInt(4096);
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        IscsiPath w = i % 2 == 0 ? a : b;
                        ByteBuffer src = i % 3 == 0 ? ByteBuffer.wrap(data)
                                : ByteBuffer.allocateDirect(len).put(data).flip();
                        w.write(src, off);
                        assertEquals(0, src.remaining());
                        ByteBuffer dst = i % 3 == 1 ? ByteBuffer.allocate(len) : ByteBuffer.allocateDirect(len);
                        (w == a ? b : a).read(dst, off);
                        byte[] back = new byte[len];
                        dst.flip().get(back);
                        assertArrayEquals(data, back);
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        a.flush();
        // writes go out in commands of 256 KiB at most (tgtd writes each with one buffered write
        // into its file), reads in commands as long as the target allows
        assertEquals(256 << 10, a.largestCommand(false));
        assertTrue(a.largestCommand(true) > 256 << 10, "reads are not cut to the write size: " + a.largestCommand(true));
        // a read and a write split into many pieces (above the transfer limits)
        byte[] big = new byte[9 << 20];
        new Random(7).nextBytes(big);
        a.write(ByteBuffer.wrap(big), 0);
        ByteBuffer back = ByteBuffer.allocateDirect(big.length);
        b.read(back, 0);
        byte[] got = new byte[big.length];
        back.flip().get(got);
        assertArrayEquals(big, got);
    }

    /**
     * A fenced write is checked on the session's loop thread: right before libiscsi gets the
     * command, and again before libiscsi may send what it holds of it. Refused at the first, the
     * command never reaches libiscsi. Refused at the second (the host froze after the command
     * was queued and woke after its lease expired), the connection is dropped before any of it
     * goes out. Either way the LUN keeps its data, and the path writes again (after a reconnect
     * for the second).
     */
    @Test
    void aFencedWriteIsCheckedRightBeforeLibiscsiGetsItAndAgainBeforeItIsSent() throws Exception {
        IscsiPath a = path(TgtFixture.THICK_SIZE, 0);
        IscsiPath b = path(TgtFixture.THICK_SIZE, 1);
        StorageException lost = new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "this host's lease expired");
        byte[] data = new byte[256 << 10]; // one WRITE(16)
        new Random(11).nextBytes(data);
        long at = TgtFixture.THICK_SIZE - (1 << 20);
        a.write(ByteBuffer.allocateDirect(data.length), at); // zeros
        for (int passes : new int[] {0, 1}) {
            java.util.concurrent.atomic.AtomicInteger checks = new java.util.concurrent.atomic.AtomicInteger();
            int allowed = passes;
            io.strata.api.device.WriteFence fence = () -> {
                if (checks.incrementAndGet() > allowed) {
                    throw lost;
                }
            };
            Throwable refused;
            if (passes == 0) {
                ByteBuffer direct = ByteBuffer.allocateDirect(data.length).put(data).flip();
                java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                        () -> a.writeAsync(direct, at, fence).get(60, TimeUnit.SECONDS));
                refused = e.getCause();
            } else {
                refused = assertThrows(StorageException.class, () -> a.write(ByteBuffer.wrap(data), at, fence));
            }
            assertTrue(refused instanceof StorageException && refused.getMessage().contains("lease expired"),
                    String.valueOf(refused));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, ((StorageException) refused).code());
            assertEquals(passes + 1, checks.get(), passes == 0 ? "refused before libiscsi had it"
                    : "handed to libiscsi, then refused before libiscsi sent it");
            ByteBuffer back = ByteBuffer.allocateDirect(data.length);
            b.read(back, at);
            byte[] got = new byte[data.length];
            back.flip().get(got);
            assertArrayEquals(new byte[data.length], got, "nothing of it reached the LUN");
            if (passes == 1) {
                a.reconnect(); // the connection was dropped with the write in it
            }
        }
        a.write(ByteBuffer.wrap(data), at, io.strata.api.device.WriteFence.NONE);
        ByteBuffer back = ByteBuffer.allocateDirect(data.length);
        b.read(back, at);
        byte[] got = new byte[data.length];
        back.flip().get(got);
        assertArrayEquals(data, got, "the path still writes");
    }

    /**
     * tgtd reports DPOFUA, so a write-through is WRITE(16) with FUA (each piece of a long one);
     * the bytes are there through the other portal.
     */
    @Test
    void writeThroughIsAFuaWriteOnALunThatReportsDpoFua() {
        IscsiPath a = path(TgtFixture.THICK_SIZE, 0);
        IscsiPath b = path(TgtFixture.THICK_SIZE, 1);
        assertTrue(a.fua(), "tgtd sets DPOFUA in its MODE SENSE header");
        byte[] record = new byte[512];
        new Random(11).nextBytes(record);
        a.writeThrough(ByteBuffer.wrap(record), 7 * 512);
        byte[] long_ = new byte[(600 << 10)];
        new Random(12).nextBytes(long_);
        ByteBuffer direct = ByteBuffer.allocateDirect(long_.length).put(long_).flip();
        a.writeThrough(direct, 1 << 20);
        assertEquals(0, direct.remaining());
        ByteBuffer back = ByteBuffer.allocate(512);
        b.read(back, 7 * 512);
        assertArrayEquals(record, back.array());
        ByteBuffer backLong = ByteBuffer.allocate(long_.length);
        b.read(backLong, 1 << 20);
        assertArrayEquals(long_, backLong.array());
    }

    /**
     * One thread starts many reads and writes at once without waiting; they complete on the
     * session's event loop thread, a large one split into several commands, and the bytes
     * written are the bytes read back.
     */
    @Test
    void asyncIoFromOneThreadCompletesOnTheSessionsThread() throws Exception {
        IscsiPath p = path(TgtFixture.THICK_SIZE, 0);
        Random rnd = new Random(11);
        int n = 64;
        Set<String> threads = ConcurrentHashMap.newKeySet();
        byte[][] data = new byte[n][4096];
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            rnd.nextBytes(data[i]);
            ByteBuffer b = ByteBuffer.allocateDirect(4096).put(data[i]).flip();
            writes.add(p.writeAsync(b, i * 8192L).whenComplete((v, e) -> threads.add(Thread.currentThread().getName())));
        }
        byte[] big = new byte[9 << 20]; // more than one command carries (4 MiB at most)
        rnd.nextBytes(big);
        ByteBuffer bigSrc = ByteBuffer.allocateDirect(big.length).put(big).flip();
        writes.add(p.writeAsync(bigSrc, 16L << 20));
        CompletableFuture.allOf(writes.toArray(new CompletableFuture<?>[0])).get(60, TimeUnit.SECONDS);
        assertEquals(0, bigSrc.remaining(), "the write consumed its buffer");

        List<ByteBuffer> dsts = new ArrayList<>();
        List<CompletableFuture<Void>> reads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ByteBuffer d = ByteBuffer.allocateDirect(4096);
            dsts.add(d);
            reads.add(p.readAsync(d, i * 8192L).whenComplete((v, e) -> threads.add(Thread.currentThread().getName())));
        }
        ByteBuffer bigDst = ByteBuffer.allocateDirect(big.length);
        reads.add(p.readAsync(bigDst, 16L << 20));
        CompletableFuture.allOf(reads.toArray(new CompletableFuture<?>[0])).get(60, TimeUnit.SECONDS);
        for (int i = 0; i < n; i++) {
            byte[] got = new byte[4096];
            dsts.get(i).flip().get(got);
            assertArrayEquals(data[i], got, "block " + i);
        }
        byte[] gotBig = new byte[big.length];
        bigDst.flip().get(gotBig);
        assertArrayEquals(big, gotBig);
        // a completion runs on the session's thread, unless the I/O was done before the test
        // attached to it (then on the test's own thread)
        String me = Thread.currentThread().getName();
        assertTrue(threads.stream().anyMatch(t -> t.startsWith("iscsi ")), threads.toString());
        assertTrue(threads.stream().allMatch(t -> t.startsWith("iscsi ") || t.equals(me)), threads.toString());
    }

    @Test
    void outOfRangeAndUnaligned() {
        IscsiPath a = path(TgtFixture.THICK_SIZE, 0);
        StorageException e = assertThrows(StorageException.class,
                () -> a.read(ByteBuffer.allocateDirect(4096), TgtFixture.THICK_SIZE));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        e = assertThrows(StorageException.class, () -> a.read(ByteBuffer.allocateDirect(100), 0));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        // past the end at the target: LBA out of range mapped from the sense data
        ScsiResult r = a.session().await(a.session().execute(1, Cdb.read16(TgtFixture.THICK_SIZE / 512, 1),
                LibIscsi.XFER_READ, 512, 0, null), 10);
        assertEquals(ErrorCode.OUT_OF_RANGE, ((StorageException) LunChannel.error("p", "READ", r)).code());
    }

    @Test
    void unmapOnThinLunOnlyAndNoCompareAndWrite() {
        IscsiPath thin = path(TgtFixture.THIN_SIZE, 0);
        IscsiPath thick = path(TgtFixture.THICK_SIZE, 0);
        assertTrue(thin.canUnmap());
        assertFalse(thick.canUnmap());
        byte[] ones = new byte[1 << 20];
        java.util.Arrays.fill(ones, (byte) 0x5a);
        thin.write(ByteBuffer.wrap(ones), 1 << 20);
        thin.unmap(1 << 20, 1 << 20);
        ByteBuffer back = ByteBuffer.allocate(1 << 20);
        path(TgtFixture.THIN_SIZE, 1).read(back, 1 << 20);
        assertArrayEquals(new byte[1 << 20], back.array());
        StorageException e = assertThrows(StorageException.class, () -> thick.unmap(0, 4096));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertFalse(thin.canCompareAndWrite());
        e = assertThrows(StorageException.class, () -> thick.compareAndWrite(ByteBuffer.allocate(512),
                ByteBuffer.allocate(512), 0));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
    }

    @Test
    void persistentReservations() {
        IscsiPath a = path(TgtFixture.THICK_SIZE, 0);
        IscsiPath b = path(TgtFixture.THICK_SIZE, 1);
        PersistentReservations ra = a.reservations().orElseThrow();
        PersistentReservations rb = b.reservations().orElseThrow();
        ra.register(0x1111);
        rb.register(0x2222);
        assertEquals(List.of(0x1111L, 0x2222L), ra.keys().stream().sorted().toList());
        assertTrue(ra.reservation().isEmpty());
        ra.reserve(0x1111, Type.WRITE_EXCLUSIVE);
        assertEquals(new PersistentReservations.Reservation(0x1111, Type.WRITE_EXCLUSIVE), rb.reservation().get());
        // the other I_T nexus may not write, nor take the reservation
        StorageException e = assertThrows(StorageException.class,
                () -> b.write(ByteBuffer.allocateDirect(512), 0));
        assertEquals(ErrorCode.LOCKED, e.code());
        e = assertThrows(StorageException.class, () -> rb.reserve(0x2222, Type.WRITE_EXCLUSIVE));
        assertEquals(ErrorCode.LOCKED, e.code());
        a.write(ByteBuffer.allocateDirect(512), 0);
        ra.release(0x1111, Type.WRITE_EXCLUSIVE);
        assertTrue(ra.reservation().isEmpty());
        b.write(ByteBuffer.allocateDirect(512), 0);
        rb.reserve(0x2222, Type.EXCLUSIVE_ACCESS);
        ra.preempt(0x1111, 0x2222, Type.WRITE_EXCLUSIVE);
        assertEquals(new PersistentReservations.Reservation(0x1111, Type.WRITE_EXCLUSIVE), ra.reservation().get());
        assertEquals(List.of(0x1111L), ra.keys());
        ra.clear(0x1111);
        assertEquals(List.of(), ra.keys());
        assertThrows(StorageException.class, () -> ra.register(0));
    }

    @Test
    void droppedSessionFailsThePathAndReconnectRestoresIt() throws Exception {
        IscsiPath a = path(TgtFixture.THICK_SIZE, 0);
        a.check();
        List<Integer> sids = tgt.tgt.sessions(tgt.target);
        assertEquals(2, sids.size());
        for (int sid : sids) {
            tgt.tgt.dropSession(tgt.target, sid);
        }
        long end = System.nanoTime() + 5_000_000_000L;
        boolean failed = false;
        while (System.nanoTime() < end && !failed) {
            try {
                a.check();
                Thread.sleep(20);
            } catch (io.strata.multipath.PathFailedException e) {
                failed = true;
            }
        }
        assertTrue(failed, "the path did not notice the dropped session");
        a.reconnect();
        a.check();
        ByteBuffer b = ByteBuffer.allocateDirect(4096);
        a.read(b, 0);
    }
}
