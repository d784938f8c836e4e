package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import javax.inject.Inject;
import org.junit.After;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;

/**
 * Hostile input at the shell of the real distribution, as a user meets it: an image that
 * names a backing file reads nobody's data unless its parent is named, a parent cannot be
 * deleted under its child, images that fail their check or claim absurd sizes are refused,
 * links are never adopted, volume-check reports a missing parent instead of failing, sizes a
 * filesystem cannot hold are size errors, a full datastore can be freed, and the NBD server
 * refuses requests it must refuse and carries on.
 */
public class HardeningIT extends StrataTestSupport {

    @Inject
    protected VolumeService volumes;

    @Before
    public void localIsOnline() {
        awaitDatastore("local", "ONLINE");
    }

    private static void needQemu() {
        Assume.assumeTrue("qemu-img and qemu-io are needed", HostTools.has("qemu-img") && HostTools.has("qemu-io"));
    }

    /** Scratch directories this test made, removed after it. */
    private final List<Path> scratch = new ArrayList<>();

    @After
    public void removeScratch() throws Exception {
        for (Path d : scratch) {
            HostTools.deleteTree(d);
        }
        scratch.clear();
    }

    private Path dir() throws Exception {
        Path d = Files.createTempDirectory("import-hardening");
        scratch.add(d);
        return d;
    }

    private static String qemu(String... args) throws Exception {
        return HostTools.run(List.of(args));
    }

    /** A 64 MiB qcow2 made by qemu-img, with data written by qemu-io. */
    private static Path qcow2(Path dir, String name, String write) throws Exception {
        Path p = dir.resolve(name);
        qemu("qemu-img", "create", "-q", "-f", "qcow2", p.toString(), "64M");
        qemu("qemu-io", "-f", "qcow2", "-c", write, p.toString());
        return p;
    }

    private static Path child(Path dir, String name, String backing) throws Exception {
        Path s = dir.resolve(name);
        qemu("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "qcow2", s.toString(), "64M");
        return s;
    }

    private List<String> volumeNames() {
        return volumeNamesOf("local");
    }

    @Test
    public void aBackingFileReadsNoOtherVolumeUnlessItsParentIsNamed() throws Exception {
        needQemu();
        Path d = dir();
        Path v = qcow2(d, "v.qcow2", "write -P 0xcc 0 1M");
        ok("storage:volume-import local victim " + v);

        for (String backing : List.of("/any/dir/victim.qcow2", "/etc/passwd", "../../etc/passwd",
                "nbd://127.0.0.1:10809/victim")) {
            Path s = child(d, "s" + Math.abs(backing.hashCode()) + ".qcow2", backing);
            String err = error("storage:volume-import local steal " + s);
            assertTrue(err, err.startsWith("INVALID_ARGUMENT") && err.contains("--parent"));
        }
        assertFalse(volumeNames().contains("steal"));

        // Named explicitly, the chain is recorded, the parent protected and the image rewritten.
        Path s = child(d, "s.qcow2", "/any/dir/victim.qcow2");
        ok("storage:volume-import --parent victim local steal " + s);
        ok("storage:export-add local/steal");
        try {
            String read = qemu("qemu-io", "-r", "-f", "raw", "-c", "read -P 0xcc 0 1M", nbdUri("steal"));
            assertTrue(read, read.contains("read 1048576/1048576 bytes"));
        } finally {
            ok("storage:export-remove steal");
        }
        assertTrue(ok("storage:volume-usage local/victim").contains("local/steal"));
        String del = error("storage:volume-delete local/victim");
        assertTrue(del, del.startsWith("VOLUME_IN_USE"));
        String file = keyValues(ok("storage:volume-info local/steal")).get("file");
        String path = keyValues(ok("storage:datastore-info local")).get("path");
        String info = qemu("qemu-img", "info", "-U", "--output=json", new File(path, file).getPath());
        assertFalse(info, info.contains("/any/dir"));
        ok("storage:volume-delete local/steal");
        ok("storage:snapshot-delete local/victim steal");
        ok("storage:volume-delete local/victim");
    }

    @Test
    public void imagesThatFailTheirCheckOrClaimAbsurdSizesAreRefused() throws Exception {
        needQemu();
        Path d = dir();
        Path img = qcow2(d, "l2.qcow2", "write -P 0x5a 0 128k");
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long l1 = readLong(ch, 40);
            long l2 = readLong(ch, l1) & 0x00ff_ffff_ffff_fe00L;
            ch.write(ByteBuffer.allocate(8).putLong(0, l2 | (1L << 63)), l2 + 8);
        }
        String err = error("storage:volume-import local selfref " + img);
        assertTrue(err, err.startsWith("CORRUPT_IMAGE"));

        for (long size : new long[] {Long.MAX_VALUE, 2L << 50, 0, 1, 513}) {
            Path big = d.resolve("size-" + size + ".qcow2");
            qemu("qemu-img", "create", "-q", "-f", "qcow2", big.toString(), "64M");
            try (FileChannel ch = FileChannel.open(big, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(8).putLong(0, size), 24);
            }
            String e = error("storage:volume-import local big " + big);
            assertTrue(size + ": " + e, e.startsWith("CORRUPT_IMAGE") || e.startsWith("SIZE_TOO_LARGE"));
            assertFalse(size + ": " + e, e.matches("(?s).*[\\s(]-\\d.*"));
        }
        assertFalse(volumeNames().contains("selfref"));
        assertFalse(volumeNames().contains("big"));
        String list = ok("storage:datastore-list");
        assertFalse(list, list.matches("(?s).*\\s-\\d.*"));
    }

    @Test
    public void linksInTheDatastoreAreNeverAdopted() throws Exception {
        Path d = dir();
        Path outside = d.resolve("outside.raw");
        Files.write(outside, new byte[1 << 20]);
        Path ds = Path.of(keyValues(ok("storage:datastore-info local")).get("path"));
        Path link = ds.resolve("planted.raw");
        Files.createSymbolicLink(link, outside);
        try {
            String err = error("storage:volume-import local planted " + link);
            assertTrue(err, err.startsWith("INVALID_ARGUMENT") && err.contains("symbolic link"));
            assertFalse(volumeNames().contains("planted"));
        } finally {
            Files.delete(link);
        }
    }

    @Test
    public void checkingAVolumeWhoseParentIsMissingPrintsAReport() throws Exception {
        ok("storage:volume-create --format vhd local base 16M");
        String parent = keyValues(ok("storage:snapshot-create local/base s")).get("file");
        ok("storage:volume-clone --linked local/base@s local kid");
        Path ds = Path.of(keyValues(ok("storage:datastore-info local")).get("path"));
        Path moved = Files.move(ds.resolve(parent), ds.getParent().resolve(parent));
        try {
            Result r = run("storage:volume-check local/kid");
            String all = r.output + r.error;
            assertTrue(all, all.contains("missing"));
            assertFalse(all, all.startsWith("FILE_NOT_FOUND"));
        } finally {
            Files.move(moved, ds.resolve(parent));
        }
        ok("storage:volume-delete local/kid");
    }

    @Test
    public void aSizeTheFilesystemCannotHoldIsASizeError() {
        // The local datastore sits on ext4 here (files up to 16 TiB); raw allows 1 PiB.
        String err = error("storage:volume-create --format raw local huge 1P");
        assertTrue(err, err.startsWith("SIZE_TOO_LARGE"));
        assertFalse(volumeNames().contains("huge"));
    }

    @Test
    public void aFullDatastoreCanBeFreedFromTheShell() throws Exception {
        Assume.assumeTrue("mounting a tmpfs needs root", "root".equals(System.getProperty("user.name")));
        Path mnt = Files.createTempDirectory("full-ds");
        HostTools.run(List.of("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt.toString()));
        try {
            ok("storage:resource-add small local kind=directory path=" + mnt);
            ok("storage:datastore-create full dir small");
            ok("storage:volume-create --format raw full a 64M");
            ok("storage:volume-create --format raw full b 64M");
            for (String v : List.of("a", "b")) {
                fill("full/" + v);
            }
            // Full to the last page: not even a new catalog entry fits.
            String full = error("storage:volume-create --format raw full c 1M");
            assertTrue(full, full.startsWith("DATASTORE_FULL"));
            ok("storage:volume-delete full/b");
            ok("storage:volume-delete full/a");
            assertTrue(volumeNamesOf("full").isEmpty());
            ok("storage:volume-create --format raw full c 1M");
            ok("storage:volume-delete full/c");
        } finally {
            run("storage:datastore-remove full");
            run("storage:resource-remove small");
            HostTools.run(List.of("umount", "-l", mnt.toString()));
            Files.deleteIfExists(mnt);
        }
    }

    @Test
    public void nbdRefusesCachePastTheEndAndUnknownFlagsAndCarriesOn() throws Exception {
        ok("storage:volume-create --format raw local nbdh 1M");
        ok("storage:export-add local/nbdh");
        try (Socket s = nbdConnect("nbdh")) {
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            DataInputStream in = new DataInputStream(s.getInputStream());
            assertEquals("CACHE past the end", 22, request(out, in, 0, 5, 1, 1 << 20, 4096));
            assertEquals("CACHE at a wrapped offset", 22, request(out, in, 0, 5, 2, -512L, 1024));
            assertEquals("READ with an unknown flag", 22, request(out, in, 0x8000, 0, 3, 0, 4096));
            assertEquals("a plain READ afterwards", 0, request(out, in, 0, 0, 4, 0, 4096));
            in.readFully(new byte[4096]);
        } finally {
            ok("storage:export-remove nbdh");
        }
        ok("storage:volume-delete local/nbdh");
    }

    /** Sends one NBD request and returns the error of its simple reply. */
    private static int request(DataOutputStream out, DataInputStream in, int flags, int type, long cookie, long offset,
            int length) throws Exception {
        out.writeInt(0x25609513);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt(length);
        out.flush();
        assertEquals(0x67446698, in.readInt());
        int error = in.readInt();
        assertEquals(cookie, in.readLong());
        return error;
    }

    /** Writes 1 MiB blocks, then 4 KiB ones, until the filesystem under the volume refuses. */
    private void fill(String volume) {
        try (VirtualDisk d = volumes.open(VolumeRef.parse(volume), false)) {
            ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
            long at = 0;
            for (int size : new int[] {1 << 20, 4096}) {
                try {
                    for (; at + size <= d.virtualSize(); at += size) {
                        d.write(block.clear().limit(size), at);
                    }
                } catch (StorageException e) {
                    assertEquals(e.toString(), ErrorCode.DATASTORE_FULL, e.code());
                }
            }
        }
    }

    private List<String> volumeNamesOf(String datastore) {
        return rows(ok("storage:volume-list --no-format " + datastore)).stream()
                .map(r -> r[0].substring(r[0].indexOf('/') + 1)).toList();
    }

    private static long readLong(FileChannel ch, long at) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(8);
        ch.read(b, at);
        return b.getLong(0);
    }
}
