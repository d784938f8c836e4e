package io.strata.nas.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.Subscription;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.ShareFiles;
import io.strata.api.device.FileShare;
import io.strata.api.device.StorageResource;
import io.strata.testing.Ganesha;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver against a real NFS server: a private nfs-ganesha (VFS FSAL) on ports of its own. */
class NasGaneshaTest {
    @TempDir
    static Path dir;
    static Ganesha ganesha;

    @BeforeAll
    static void start() {
        assumeTrue(Ganesha.unavailableReason().isEmpty(), () -> Ganesha.unavailableReason().get());
        ganesha = Ganesha.start(dir);
    }

    @AfterAll
    static void stop() {
        if (ganesha != null) {
            ganesha.close();
        }
    }

    private static Map<String, String> params(String... extra) {
        Map<String, String> p = new HashMap<>();
        p.put("server", "127.0.0.1");
        p.put("nfsport", Integer.toString(ganesha.nfsPort()));
        p.put("mountport", Integer.toString(ganesha.mountPort()));
        for (int i = 0; i < extra.length; i += 2) {
            p.put(extra[i], extra[i + 1]);
        }
        return p;
    }

    private static NfsMount mount(String... extra) {
        return NfsMount.mount(NasParams.parse("nas", params(extra)), ganesha.exportPath());
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void theServersExportsAreFileShareDevicesAndOpeningOneMountsIt() throws Exception {
        NasDriver driver = new NasDriver();
        try (StorageResource r = driver.attach("nas1", params())) {
            List<DeviceInfo> devices = r.devices();
            String id = NasResource.idOf(ganesha.exportPath());
            DeviceInfo d = devices.stream().filter(x -> x.id().equals(id)).findFirst().orElseThrow(
                    () -> new AssertionError("no " + id + " in " + devices));
            assertEquals(DeviceKind.FILE_SHARE, d.kind());
            assertEquals("nfs:127.0.0.1:" + ganesha.exportPath(), d.identity());
            // read-write, read-only, root-squashing; not the one this host may not mount
            assertEquals(3, devices.size(), devices.toString());
            assertTrue(devices.stream().noneMatch(x -> x.id().equals(NasResource.idOf(ganesha.deniedExportPath()))));
            try (FileShare share = (FileShare) r.openDevice(id)) {
                assertTrue(share.uri().startsWith("nfs://127.0.0.1" + ganesha.exportPath() + "?nfsport="), share.uri());
                assertTrue(share.localPath().isEmpty());
                assertEquals(DeviceState.ONLINE, ((NasExport) share).mount().state());
            }
        } finally {
            driver.deactivate();
        }
    }

    @Test
    void anExportDeviceOffersItsFilesAndItsStateToAFilesystemLayer() throws Exception {
        NasDriver driver = new NasDriver();
        try (StorageResource r = driver.attach("nas2", params());
                NasExport share = (NasExport) r.openDevice(NasResource.idOf(ganesha.exportPath()))) {
            ShareFiles files = share;
            files.mkdir("ds1");
            assertTrue(files.isDirectory("ds1"));
            assertFalse(files.isDirectory("ds1/none"));
            try (DatastoreFile f = files.create("ds1/b.vhd", true)) {
                f.write(ByteBuffer.wrap(random(8192, 1)), 0);
                f.flush();
            }
            files.create("ds1/a.raw", true).close();
            files.mkdir("ds1/sub");
            assertEquals(List.of("a.raw", "b.vhd"), files.list("ds1"), "regular files only, sorted");
            assertEquals(ErrorCode.ALREADY_EXISTS,
                    assertThrows(StorageException.class, () -> files.create("ds1/a.raw", true)).code());
            FileStat st = files.stat("ds1/b.vhd");
            assertEquals(8192, st.size());
            assertTrue(st.allocated() > 0, st.toString());
            files.rename("ds1/a.raw", "ds1/c.raw");
            files.delete("ds1/c.raw");
            assertEquals(List.of("b.vhd"), files.list("ds1"));
            assertEquals(ErrorCode.FILE_NOT_FOUND, assertThrows(StorageException.class, () -> files.stat("ds1/c.raw")).code());
            assertTrue(files.space().capacity() > 0);

            try (DatastoreFile f = files.open("ds1/b.vhd", true)) {
                assertTrue(f.concurrentIo());
                assertTrue(f.localPath().isEmpty());
                // the DatastoreFile contract: short at the end, -1 past it, readAsync refuses to stop short
                assertEquals(8192, f.read(ByteBuffer.allocate(10_000), 0));
                assertEquals(-1, f.read(ByteBuffer.allocate(10), 8192));
                CompletionException e = assertThrows(CompletionException.class,
                        () -> f.readAsync(ByteBuffer.allocate(4096), 6000).join());
                assertEquals(ErrorCode.IO_ERROR, ((StorageException) e.getCause()).code());
                assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class, () -> f.allocate(0, 4096)).code());
                assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class, () -> f.punchHole(0, 4096)).code());
                assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class, () -> f.lock(true)).code());
                // a write-through write is FILE_SYNC: nothing is kept for a later COMMIT
                f.writeThrough(ByteBuffer.wrap(random(512, 2)), 0);
                assertEquals(0, ((NfsFile) f).retainedBytes());
                f.write(ByteBuffer.wrap(random(512, 3)), 512);
                assertEquals(512, ((NfsFile) f).retainedBytes());
                f.flush();
            }

            java.util.concurrent.BlockingQueue<DeviceState> seen = new java.util.concurrent.LinkedBlockingQueue<>();
            try (Subscription sub = files.addStateListener(seen::add)) {
                assertEquals(DeviceState.ONLINE, files.state());
                ganesha.stop();
                try {
                    // within the limit (60 s here): not answering, requests wait
                    assertEquals(DeviceState.DEGRADED, seen.poll(30, TimeUnit.SECONDS));
                    assertEquals(DeviceState.DEGRADED, files.state());
                } finally {
                    ganesha.start();
                }
                // a request brings the connection back as soon as the server is
                assertEquals(List.of("b.vhd"), files.list("ds1"));
                assertEquals(DeviceState.ONLINE, seen.poll(30, TimeUnit.SECONDS));
                assertEquals(DeviceState.ONLINE, files.state());
            }
            files.delete("ds1/b.vhd");
        } finally {
            driver.deactivate();
        }
    }

    /**
     * What the core's shared datastores rely on: through a fenced view, every request is checked
     * right before it is sent, so once the host's lease has expired nothing it sends reaches the
     * server (a host frozen after the core's own check sends nothing when it wakes), while the
     * unfenced share (the lockspace's path) still works.
     */
    @Test
    void aFencedViewSendsNothingOnceItsFenceRefusesAndTheFilesOnTheServerStayAsTheyWere() throws Exception {
        NasDriver driver = new NasDriver();
        try (StorageResource r = driver.attach("nas3", params());
                NasExport share = (NasExport) r.openDevice(NasResource.idOf(ganesha.exportPath()))) {
            java.util.concurrent.atomic.AtomicBoolean valid = new java.util.concurrent.atomic.AtomicBoolean(true);
            StorageException expired = new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the lease expired");
            ShareFiles fenced = share.fenced(() -> {
                if (!valid.get()) {
                    throw expired;
                }
            });
            fenced.mkdir("fenced");
            byte[] before = random(3 << 20, 7); // several WRITEs (wtmax is 1 MiB)
            try (DatastoreFile f = fenced.create("fenced/v.raw", true)) {
                f.write(ByteBuffer.wrap(before), 0);
                f.flush();
                valid.set(false); // the lease runs out with the file open
                byte[] after = random(3 << 20, 8);
                assertTrue(expired == assertThrows(StorageException.class,
                        () -> f.write(ByteBuffer.wrap(after), 0)), "refused with what the fence threw");
                assertTrue(expired == assertThrows(StorageException.class,
                        () -> f.writeThrough(ByteBuffer.wrap(after), 4096)));
                CompletionException e = assertThrows(CompletionException.class,
                        () -> f.writeAsync(ByteBuffer.wrap(after), 0).join());
                assertTrue(expired == e.getCause(), e.toString());
                assertTrue(expired == assertThrows(StorageException.class, () -> f.setSize(0)));
            }
            assertTrue(expired == assertThrows(StorageException.class, () -> fenced.create("fenced/w.raw", true)));
            assertTrue(expired == assertThrows(StorageException.class,
                    () -> fenced.rename("fenced/v.raw", "fenced/x.raw")));
            assertTrue(expired == assertThrows(StorageException.class, () -> fenced.delete("fenced/v.raw")));

            Path onServer = ganesha.exportDir().resolve("fenced");
            assertArrayEquals(before, Files.readAllBytes(onServer.resolve("v.raw")), "not a byte changed");
            assertEquals(List.of("v.raw"), share.list("fenced"));
            // the share itself is not fenced: the lockspace writes through it
            try (DatastoreFile f = share.open("fenced/v.raw", true)) {
                f.writeThrough(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
            }
            assertEquals(1, Files.readAllBytes(onServer.resolve("v.raw"))[0]);
            share.delete("fenced/v.raw");
        } finally {
            driver.deactivate();
        }
    }

    @Test
    void filesWrittenThroughTheClientAreTheFilesOnTheServersDisk() throws Exception {
        try (NfsMount m = mount()) {
            m.mkdir("d1");
            m.create("d1/a.img", true);
            assertEquals(ErrorCode.ALREADY_EXISTS,
                    assertThrows(StorageException.class, () -> m.create("d1/a.img", true)).code());
            // 5 MiB + 3 bytes: split into several WRITEs and READs (ganesha's rtmax/wtmax is 1 MiB)
            byte[] data = random((5 << 20) + 3, 1);
            try (NfsFile f = m.open("d1/a.img", true)) {
                f.write(ByteBuffer.wrap(data), 4096);
                f.flush();
                assertEquals(0, f.retainedBytes());
                assertEquals(4096 + data.length, f.size());
                ByteBuffer back = ByteBuffer.allocate(data.length + 4096);
                int n = f.read(back, 0);
                assertEquals(data.length + 4096, n);
                assertArrayEquals(new byte[4096], java.util.Arrays.copyOf(back.array(), 4096));
                assertArrayEquals(data, java.util.Arrays.copyOfRange(back.array(), 4096, back.capacity()));
                // reading past the end is short, not an error
                ByteBuffer tail = ByteBuffer.allocate(10_000);
                assertEquals(3, f.read(tail, 4096L + data.length - 3));
                f.setSize(8192);
                assertEquals(8192, f.size());
            }
            byte[] onDisk = Files.readAllBytes(ganesha.exportDir().resolve("d1/a.img"));
            assertEquals(8192, onDisk.length);
            assertArrayEquals(java.util.Arrays.copyOf(data, 4096), java.util.Arrays.copyOfRange(onDisk, 4096, 8192));
            assertEquals(List.of("a.img"), m.list("d1"));
            m.rename("d1/a.img", "d1/b.img");
            assertEquals(List.of("b.img"), m.list("d1"));
            assertEquals(ErrorCode.FILE_NOT_FOUND, assertThrows(StorageException.class, () -> m.stat("d1/a.img")).code());
            m.remove("d1/b.img");
            m.rmdir("d1");
            assertFalse(Files.exists(ganesha.exportDir().resolve("d1")));
            Nfs3.FsStat s = m.space();
            assertTrue(s.totalBytes() > 0 && s.freeBytes() <= s.totalBytes(), s.toString());
        }
    }

    @Test
    void manyRequestsFromManyThreadsAreInFlightAtOnceAndLandWhereTheyWereSent() throws Exception {
        try (NfsMount m = mount()) {
            m.create("par.img", false);
            try (NfsFile f = m.open("par.img", true)) {
                int n = 256;
                List<CompletableFuture<Void>> writes = new java.util.ArrayList<>();
                for (int i = 0; i < n; i++) {
                    writes.add(f.writeAsync(ByteBuffer.wrap(random(4096, i)), i * 4096L, Nfs3.Stable.UNSTABLE));
                }
                CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
                f.flush();
                for (int i = 0; i < n; i++) {
                    ByteBuffer b = ByteBuffer.allocate(4096);
                    f.read(b, i * 4096L);
                    assertArrayEquals(random(4096, i), b.array(), "block " + i);
                }
            }
            m.remove("par.img");
        }
    }

    @Test
    void namesThatWouldLeaveTheExportAreRefused() {
        try (NfsMount m = mount()) {
            for (String bad : List.of("../etc/passwd", "a/../../b", "./x", "a//b", "", "x\u0001")) {
                assertEquals(ErrorCode.INVALID_NAME,
                        assertThrows(StorageException.class, () -> m.create(bad, false), bad).code(), bad);
            }
        }
    }

    @Test
    void aMissingADeniedAndAReadOnlyExportAndAnUnreachableServerGiveClearErrors() throws IOException {
        NasParams p = NasParams.parse("nas", params());
        StorageException missing = assertThrows(StorageException.class, () -> NfsMount.mount(p, "/no/such/export"));
        assertEquals(ErrorCode.DEVICE_NOT_FOUND, missing.code(), missing.getMessage());
        assertTrue(missing.getMessage().contains("no export 127.0.0.1:/no/such/export"), missing.getMessage());
        StorageException hidden = assertThrows(StorageException.class,
                () -> NfsMount.mount(p, ganesha.deniedExportPath()));
        assertEquals(ErrorCode.DEVICE_NOT_FOUND, hidden.code(), hidden.getMessage());
        assertTrue(hidden.getMessage().contains("may mount"), hidden.getMessage());
        try (NfsMount squashed = NfsMount.mount(p, ganesha.squashedExportPath())) {
            StorageException denied = assertThrows(StorageException.class, () -> squashed.create("x.img", false));
            assertEquals(ErrorCode.PERMISSION_DENIED, denied.code(), denied.getMessage());
            assertTrue(denied.getMessage().contains("NFS3ERR_ACCES"), denied.getMessage());
        }
        try (NfsMount ro = NfsMount.mount(p, ganesha.readOnlyExportPath())) {
            assertEquals(ErrorCode.READ_ONLY,
                    assertThrows(StorageException.class, () -> ro.create("x.img", false)).code());
        }
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Map<String, String> gone = params("mountport", Integer.toString(closedPort), "nfsport",
                Integer.toString(closedPort));
        StorageException unreachable = assertThrows(StorageException.class,
                () -> new NasDriver().attach("gone", gone));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, unreachable.code(), unreachable.getMessage());
        assertTrue(unreachable.getMessage().contains("unreachable"), unreachable.getMessage());
        assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class,
                () -> NasParams.parse("nas", params("version", "4"))).code());
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(StorageException.class,
                () -> NasParams.parse("nas", params("timeout", "0"))).code());
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(StorageException.class,
                () -> NasParams.parse("nas", params("colour", "red"))).code());
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(StorageException.class,
                () -> NasParams.parse("nas", Map.of())).code());
    }

    @Test
    void aServerRestartBetweenWritesAndTheirFlushLosesNothingAndRequestsWaitForItsReturn() throws Exception {
        try (NfsMount m = mount()) {
            m.create("restart.img", false);
            byte[] first = random(3 << 20, 7);
            try (NfsFile f = m.open("restart.img", true)) {
                f.write(ByteBuffer.wrap(first), 0);
                assertEquals(first.length, f.retainedBytes());
                // the server goes away with the writes not committed, and comes back with a new
                // write verifier: the flush must send them again
                ganesha.kill();
                CompletableFuture<Void> duringOutage = f.writeAsync(ByteBuffer.wrap(random(4096, 8)), first.length,
                        Nfs3.Stable.UNSTABLE);
                Thread.sleep(1500);
                assertFalse(duringOutage.isDone(), "a write while the server is down waits for it");
                ganesha.start();
                duringOutage.get(60, TimeUnit.SECONDS);
                f.flush();
                assertEquals(0, f.retainedBytes());
                assertTrue(f.resentBytes() >= first.length, "resent " + f.resentBytes());
                ByteBuffer back = ByteBuffer.allocate(first.length + 4096);
                f.read(back, 0);
                assertArrayEquals(first, java.util.Arrays.copyOf(back.array(), first.length));
                assertArrayEquals(random(4096, 8), java.util.Arrays.copyOfRange(back.array(), first.length,
                        back.capacity()));
            }
            m.remove("restart.img");
        } finally {
            ganesha.start();
        }
    }

    @Test
    void aServerGoneLongerThanTheTimeoutFailsRequestsAsUnavailableThenServesAgainWhenBack() throws Exception {
        try (NfsMount m = mount("timeout", "2")) {
            m.create("gone.img", false);
            try (NfsFile f = m.open("gone.img", true)) {
                ganesha.stop();
                long t0 = System.nanoTime();
                StorageException e = assertThrows(StorageException.class,
                        () -> f.write(ByteBuffer.wrap(random(4096, 3)), 0));
                assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
                assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) >= 1500,
                        "failed before the limit: " + e.getMessage());
                // past the limit: OFFLINE, and so is the export a datastore follows
                assertEquals(DeviceState.OFFLINE, m.state());
                ganesha.start();
                f.write(ByteBuffer.wrap(random(4096, 4)), 0);
                f.flush();
                assertEquals(DeviceState.ONLINE, m.state());
                ByteBuffer b = ByteBuffer.allocate(4096);
                f.read(b, 0);
                assertArrayEquals(random(4096, 4), b.array());
            }
            m.remove("gone.img");
        } finally {
            ganesha.start();
        }
    }

    @Test
    void anExportsStateGoesDegradedThenOfflineAtTheLimitAndOnlineWhenTheServerAnswersWithoutAnyIo()
            throws Exception {
        NasDriver driver = new NasDriver();
        try (StorageResource r = driver.attach("nas3", params("timeout", "3"));
                NasExport share = (NasExport) r.openDevice(NasResource.idOf(ganesha.exportPath()))) {
            java.util.concurrent.BlockingQueue<DeviceState> seen = new java.util.concurrent.LinkedBlockingQueue<>();
            try (Subscription sub = share.addStateListener(seen::add)) {
                ganesha.stop();
                try {
                    assertEquals(DeviceState.DEGRADED, seen.poll(30, TimeUnit.SECONDS));
                    assertEquals(DeviceState.OFFLINE, seen.poll(30, TimeUnit.SECONDS));
                    assertEquals(DeviceState.OFFLINE, share.state());
                    StorageException e = assertThrows(StorageException.class, () -> share.stat(""));
                    assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
                } finally {
                    ganesha.start();
                }
                // nobody does I/O: the client's probe finds the server back
                assertEquals(DeviceState.ONLINE, seen.poll(30, TimeUnit.SECONDS));
                assertEquals(DeviceState.ONLINE, share.state());
                assertTrue(share.space().capacity() > 0);
            }
        } finally {
            driver.deactivate();
        }
    }

    @Test
    void aHandleTheServerNoLongerKnowsIsLookedUpAgainByPath() throws Exception {
        try (NfsMount m = mount()) {
            m.create("swap.img", false);
            try (NfsFile f = m.open("swap.img", true)) {
                f.write(ByteBuffer.wrap(random(4096, 5)), 0);
                f.flush();
                // on the server: the name now holds another file and the old one is gone; the
                // server restarts, so no open descriptor of its keeps the old file reachable
                Path other = ganesha.exportDir().resolve("swap.new");
                Files.write(other, random(4096, 6));
                Files.move(other, ganesha.exportDir().resolve("swap.img"), StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.ATOMIC_MOVE);
                ganesha.stop();
                ganesha.start();
                ByteBuffer b = ByteBuffer.allocate(4096);
                f.read(b, 0);
                assertArrayEquals(random(4096, 6), b.array());
            }
            m.remove("swap.img");
        }
    }
}
