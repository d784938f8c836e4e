package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.DatastoreFile;
import io.strata.lease.LeaseParticipant;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model-based random test: two hosts (two mounts over two devices on one LUN file) apply a
 * seeded random sequence of operations, and every answer is compared with an in-memory model
 * (file name to content). Each host writes mostly its own files, keeps some of them open for
 * writing (the other host must then get LOCKED), reads the other host's files, and hands files
 * over. The checker runs every {@link #CHECK_EVERY} operations and at the end, and everything
 * is verified again after both hosts remount.
 *
 * <p>{@code -Dstrata.vims.model.ops=N} (default {@value #DEFAULT_OPS}) sets the number of
 * operations, {@code -Dstrata.vims.model.seed=S} replays a seed.
 */
class VimsModelTest {
    static final int KIB = 1024;
    static final int MIB = 1024 * 1024;
    static final int BS = 64 * KIB;
    /** Where the indirect (pointer block) part of a file starts with 64 KiB blocks. */
    static final long INDIRECT_AT = (long) Descriptor.DIRECT * BS;
    static final int DEFAULT_OPS = 1000;
    static final int CHECK_EVERY = 250;
    static final int MAX_FILES = 20;

    @TempDir
    Path dir;

    private final TestDevice[] devs = new TestDevice[2];
    private final Vims[] fs = new Vims[2];
    private final LeaseParticipant[] hosts = new LeaseParticipant[2];
    @SuppressWarnings("unchecked")
    private final Map<String, DatastoreFile>[] handles = new Map[] {new HashMap<>(), new HashMap<>()};
    private final TreeMap<String, byte[]> model = new TreeMap<>();
    /** The host that writes each file (atomic files: none, -1). */
    private final Map<String, Integer> owner = new HashMap<>();
    private final ArrayDeque<String> recent = new ArrayDeque<>();
    private Random rnd;
    private int counter;

    @AfterEach
    void tearDown() {
        for (int h = 0; h < 2; h++) {
            for (DatastoreFile f : handles[h].values()) {
                f.close();
            }
            handles[h].clear();
            if (fs[h] != null) {
                fs[h].close();
            }
            if (devs[h] != null) {
                devs[h].close();
            }
        }
        Luns.cleanUp();
    }

    @Test
    void twoHostsAgreeWithTheModel() {
        long seed = Long.getLong("strata.vims.model.seed", System.nanoTime());
        int ops = Integer.getInteger("strata.vims.model.ops", DEFAULT_OPS);
        rnd = new Random(seed);
        int i = -1;
        try {
            Path lun = Luns.dir(dir).resolve("lun");
            devs[0] = new TestDevice(lun, 1024L * MIB, "uuid:model-lun");
            new VimsFilesystem().format(devs[0], Map.of("block-size", "64K", "max-files", "64", "max-hosts", "4",
                    "cluster-size", "2M", "max-size", "2G"), false);
            devs[1] = new TestDevice(lun, 1024L * MIB, "uuid:model-lun");
            hosts[0] = Hosts.steady("model-a");
            hosts[1] = Hosts.steady("model-b");
            mountBoth();
            for (i = 0; i < ops; i++) {
                step(i);
                if ((i + 1) % CHECK_EVERY == 0) {
                    checkClean(rnd.nextInt(2), "after op " + i);
                }
            }
            i = ops;
            note("final checks");
            for (int h = 0; h < 2; h++) {
                for (DatastoreFile f : handles[h].values()) {
                    f.close();
                }
                handles[h].clear();
            }
            checkClean(0, "at the end");
            checkClean(1, "at the end");
            verifyAll(0);
            note("remount");
            fs[0].close();
            fs[1].close();
            fs[0] = null;
            fs[1] = null;
            mountBoth();
            verifyAll(1);
            verifyAll(0);
            checkClean(1, "after the remount");
            StringBuilder sb = new StringBuilder("VimsModelTest seed " + seed + ", " + ops + " ops:");
            timing.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v[0]).append('/')
                    .append(v[1] / 1_000_000).append("ms"));
            System.out.println(sb);
        } catch (Throwable t) {
            throw new AssertionError("VimsModelTest failed with seed " + seed + " (replay: -Dstrata.vims.model.seed="
                    + seed + " -Dstrata.vims.model.ops=" + ops + ") at op " + i + ": " + t
                    + "\nlast operations:\n  " + String.join("\n  ", recent), t);
        }
    }

    private void mountBoth() {
        Thread other = new Thread(() -> fs[1] = Vims.mount("ds", devs[1], hosts[1]));
        Throwable[] failed = new Throwable[1];
        other.setUncaughtExceptionHandler((t, e) -> failed[0] = e);
        other.start();
        fs[0] = Vims.mount("ds", devs[0], hosts[0]);
        try {
            other.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        if (failed[0] != null) {
            throw new AssertionError("mount of host b failed", failed[0]);
        }
    }

    private void note(String s) {
        recent.addLast(s);
        if (recent.size() > 40) {
            recent.removeFirst();
        }
    }

    private static void check(boolean ok, String what) {
        org.junit.jupiter.api.Assertions.assertTrue(ok, what);
    }

    private void checkClean(int h, String when) {
        note("check on host " + h + " " + when);
        CheckReport r = fs[h].check(false);
        check(r.clean(), "checker on host " + h + " " + when + ": " + r);
    }

    private static void expectCode(ErrorCode code, Runnable r, String what) {
        try {
            r.run();
        } catch (StorageException e) {
            if (e.code() != code) {
                throw new AssertionError(what + ": expected " + code + " but got " + e.code() + ": " + e.getMessage(), e);
            }
            return;
        }
        org.junit.jupiter.api.Assertions.fail(what + ": expected " + code + " but it worked");
    }

    // ------------------------------------------------------------------ choosing

    private boolean isAtomic(String name) {
        return owner.get(name) == -1;
    }

    /** @return a file host h writes (not an atomic one), or null */
    private String ownFile(int h) {
        List<String> mine = new ArrayList<>();
        for (String n : model.keySet()) {
            if (owner.get(n) == h) {
                mine.add(n);
            }
        }
        return mine.isEmpty() ? null : mine.get(rnd.nextInt(mine.size()));
    }

    private String anyFile() {
        if (model.isEmpty()) {
            return null;
        }
        List<String> all = new ArrayList<>(model.keySet());
        return all.get(rnd.nextInt(all.size()));
    }

    /** @return a file open for writing on host h, or null */
    private String heldBy(int h) {
        if (handles[h].isEmpty()) {
            return null;
        }
        List<String> held = new ArrayList<>(handles[h].keySet());
        return held.get(rnd.nextInt(held.size()));
    }

    private DatastoreFile writable(int h, String name) {
        DatastoreFile f = handles[h].get(name);
        if (f == null) {
            f = fs[h].open(name, true);
            handles[h].put(name, f);
        }
        return f;
    }

    private void closeHandle(int h, String name) {
        DatastoreFile f = handles[h].remove(name);
        if (f != null) {
            f.close();
        }
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private long totalModelBytes() {
        long t = 0;
        for (byte[] b : model.values()) {
            t += b.length;
        }
        return t;
    }

    /** A position to write at: small, at 1 MiB and block boundaries, past EOF, or in the indirect range. */
    private long writeOffset(long size) {
        int r = rnd.nextInt(100);
        if (r < 35) {
            return rnd.nextInt((int) Math.min(size, 6 * MIB) + 256 * KIB);
        } else if (r < 55) {
            return (long) (1 + rnd.nextInt(6)) * MIB - rnd.nextInt(70 * KIB);
        } else if (r < 70) {
            return size + rnd.nextInt(3 * MIB);
        } else if (r < 85) {
            return (long) (1 + rnd.nextInt(90)) * BS - rnd.nextInt(300);
        } else if (r < 95 || totalModelBytes() > 200L * MIB) {
            return Math.max(0, size - rnd.nextInt(BS));
        } else {
            // past the 479 direct blocks: pointer blocks
            return INDIRECT_AT - 2 * MIB + rnd.nextInt(6 * MIB);
        }
    }

    private int writeLength() {
        int r = rnd.nextInt(100);
        if (r < 40) {
            return 1 + rnd.nextInt(4096);
        } else if (r < 90) {
            return 1 + rnd.nextInt(200 * KIB);
        } else {
            return 1 + rnd.nextInt(1200 * KIB);
        }
    }

    // ------------------------------------------------------------------ steps

    private final Map<String, long[]> timing = new TreeMap<>();

    private void step(int i) {
        long t0 = System.nanoTime();
        stepOnce(i);
        String last = recent.isEmpty() ? "?" : recent.getLast().split(" ")[0];
        long[] t = timing.computeIfAbsent(last, k -> new long[2]);
        t[0]++;
        t[1] += System.nanoTime() - t0;
    }

    private void stepOnce(int i) {
        int h = rnd.nextInt(2);
        int o = 1 - h;
        int r = rnd.nextInt(100);
        // cheap operations are frequent; those that free blocks in the other host's clusters
        // (it keeps their leases a moment after use) are rarer
        if (r < 6 || model.isEmpty()) {
            create(h);
        } else if (r < 28) {
            write(h);
        } else if (r < 48) {
            read(h);
        } else if (r < 52) {
            setSize(h);
        } else if (r < 56) {
            punchHole(h);
        } else if (r < 58) {
            allocate(h);
        } else if (r < 61) {
            rename(h);
        } else if (r < 64) {
            atomic(h);
        } else if (r < 68) {
            readAll(h);
        } else if (r < 71) {
            delete(h);
        } else if (r < 75) {
            list(h);
        } else if (r < 83) {
            stat(h);
        } else if (r < 89) {
            lockedElsewhere(h, o);
        } else if (r < 91) {
            handOver(h, o);
        } else if (r < 95) {
            String n = heldBy(h);
            if (n != null) {
                note("close " + n + " on " + h);
                closeHandle(h, n);
            }
        } else {
            misuse(h);
        }
    }

    private void create(int h) {
        if (model.size() >= MAX_FILES) {
            delete(h);
            return;
        }
        String name = "h" + h + "-f" + counter++;
        note("create " + name + " on " + h);
        DatastoreFile f = fs[h].create(name);
        check(f.size() == 0, "a new file has size 0");
        model.put(name, new byte[0]);
        owner.put(name, h);
        if (rnd.nextInt(10) < 7) {
            handles[h].put(name, f);
        } else {
            f.close();
        }
    }

    private void write(int h) {
        String name = ownFile(h);
        if (name == null) {
            create(h);
            return;
        }
        byte[] cur = model.get(name);
        long pos = writeOffset(cur.length);
        int len = writeLength();
        byte[] data = randomBytes(len);
        note("write " + name + " on " + h + " at " + pos + " len " + len + " (size " + cur.length + ")");
        DatastoreFile f = writable(h, name);
        ByteBuffer src = ByteBuffer.wrap(data);
        f.write(src, pos);
        check(!src.hasRemaining(), "write consumed its buffer");
        int end = (int) (pos + len);
        byte[] next = end > cur.length ? Arrays.copyOf(cur, end) : cur;
        System.arraycopy(data, 0, next, (int) pos, len);
        model.put(name, next);
        check(f.size() == next.length, "size after write: " + f.size() + " want " + next.length);
        if (rnd.nextInt(3) == 0) {
            f.flush();
        }
        if (rnd.nextInt(4) == 0) {
            // read back at once through the writing handle, a little wider than written
            long from = Math.max(0, pos - rnd.nextInt(2 * KIB));
            compareRange(f, name, from, (int) Math.min(len + 4 * KIB, 2 * MIB), "read-back on the writer");
        }
        if (rnd.nextInt(10) == 0) {
            closeHandle(h, name);
        }
    }

    private void compareRange(DatastoreFile f, String name, long pos, int len, String what) {
        byte[] want = model.get(name);
        ByteBuffer b = ByteBuffer.allocate(len);
        byte[] marker = new byte[len];
        Arrays.fill(marker, (byte) 0x5A);
        b.put(marker).clear();
        int n = f.read(b, pos);
        int expect = (int) Math.max(0, Math.min(len, want.length - pos));
        check(n == expect, what + ": read of " + name + " at " + pos + " len " + len + " returned " + n + " want "
                + expect + " (size " + want.length + ")");
        check(b.position() == n, what + ": buffer position " + b.position() + " after reading " + n);
        byte[] got = b.array();
        for (int k = 0; k < n; k++) {
            if (got[k] != want[(int) (pos + k)]) {
                throw new AssertionError(what + ": " + name + " byte " + (pos + k) + " is " + got[k] + " want "
                        + want[(int) (pos + k)] + " (read at " + pos + " len " + len + ", size " + want.length
                        + ", block " + (pos + k) / BS + ")");
            }
        }
        for (int k = n; k < len; k++) {
            if (got[k] != 0x5A) {
                throw new AssertionError(what + ": read of " + name + " wrote past what it returned, at " + k);
            }
        }
    }

    private void read(int h) {
        String name = anyFile();
        byte[] want = model.get(name);
        long pos;
        int r = rnd.nextInt(10);
        if (r < 6) {
            pos = rnd.nextInt(want.length + 64 * KIB);
        } else if (r < 8) {
            pos = Math.max(0, want.length - rnd.nextInt(BS));
        } else {
            pos = Math.max(0, (long) (1 + rnd.nextInt(6)) * MIB - rnd.nextInt(BS));
        }
        int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 * KIB : 1500 * KIB);
        DatastoreFile held = handles[h].get(name);
        if (held != null) {
            note("read " + name + " on " + h + " (writer) at " + pos + " len " + len);
            compareRange(held, name, pos, len, "read on the writing host");
        } else {
            note("read " + name + " on " + h + " (read-only open) at " + pos + " len " + len);
            try (DatastoreFile f = fs[h].open(name, false)) {
                check(f.size() == want.length, "size of " + name + " seen read-only on host " + h + ": " + f.size()
                        + " want " + want.length);
                compareRange(f, name, pos, len, "read-only open on host " + h);
                expectCode(ErrorCode.READ_ONLY, () -> f.write(ByteBuffer.allocate(1), 0), "write through a read-only handle");
            }
        }
    }

    private void setSize(int h) {
        String name = ownFile(h);
        if (name == null) {
            return;
        }
        byte[] cur = model.get(name);
        int size;
        if (rnd.nextBoolean() || cur.length > 34 * MIB) {
            size = rnd.nextInt(Math.max(1, cur.length + 1));
            if (rnd.nextInt(3) == 0) {
                size = (int) Math.min(cur.length, (long) (size / BS) * BS + (rnd.nextBoolean() ? 0 : 1));
            }
        } else {
            size = cur.length + rnd.nextInt(2 * MIB);
        }
        note("setSize " + name + " on " + h + " from " + cur.length + " to " + size);
        DatastoreFile f = writable(h, name);
        f.setSize(size);
        model.put(name, Arrays.copyOf(cur, size));
        check(f.size() == size, "size after setSize");
        if (size > 0 && rnd.nextBoolean()) {
            compareRange(f, name, Math.max(0, Math.min(cur.length, size) - 3 * KIB), 8 * KIB, "around the old end after setSize");
        }
    }

    private void punchHole(int h) {
        String name = ownFile(h);
        if (name == null) {
            return;
        }
        byte[] cur = model.get(name);
        long pos = rnd.nextInt(cur.length + BS);
        if (rnd.nextBoolean()) {
            pos = pos / BS * BS;
        }
        long len = rnd.nextInt(rnd.nextBoolean() ? 3 * BS : 1500 * KIB);
        note("punchHole " + name + " on " + h + " at " + pos + " len " + len + " (size " + cur.length + ")");
        DatastoreFile f = writable(h, name);
        long allocatedBefore = f.allocatedBytes();
        f.punchHole(pos, len);
        long end = Math.min(pos + len, cur.length);
        if (pos < end) {
            Arrays.fill(cur, (int) pos, (int) end, (byte) 0);
        }
        check(f.size() == cur.length, "punchHole keeps the size");
        check(f.allocatedBytes() <= allocatedBefore, "punchHole does not allocate");
        if (pos < end) {
            compareRange(f, name, Math.max(0, pos - KIB), (int) Math.min(end - pos + 2 * KIB, 2 * MIB), "after punchHole");
        }
    }

    private void allocate(int h) {
        String name = ownFile(h);
        if (name == null) {
            return;
        }
        byte[] cur = model.get(name);
        long pos = rnd.nextInt(cur.length + MIB);
        long len = 1 + rnd.nextInt(1500 * KIB);
        if (rnd.nextInt(20) == 0 && totalModelBytes() < 150L * MIB) {
            pos = INDIRECT_AT - MIB + rnd.nextInt(2 * MIB);
        }
        note("allocate " + name + " on " + h + " at " + pos + " len " + len + " (size " + cur.length + ")");
        DatastoreFile f = writable(h, name);
        f.allocate(pos, len);
        int size = (int) Math.max(cur.length, pos + len);
        byte[] next = Arrays.copyOf(cur, size);
        model.put(name, next);
        check(f.size() == size, "size after allocate: " + f.size() + " want " + size);
        long firstBlock = pos / BS;
        long lastBlock = (pos + len - 1) / BS;
        check(f.allocatedBytes() >= (lastBlock - firstBlock + 1) * BS, "allocate reserves the blocks: "
                + f.allocatedBytes());
        compareRange(f, name, pos, (int) Math.min(len, 2 * MIB), "after allocate");
    }

    private void rename(int h) {
        String from = ownFile(h);
        if (from == null) {
            return;
        }
        String to;
        boolean over = rnd.nextBoolean() && model.size() > 1;
        if (over) {
            boolean anyHost = rnd.nextInt(5) == 0;
            int tries = 0;
            do {
                to = anyHost || tries > 20 ? anyFile() : ownFile(h);
                tries++;
            } while (to.equals(from));
        } else {
            to = "h" + h + "-f" + counter++;
        }
        note("rename " + from + " to " + to + " on " + h + (over ? " (over an existing file)" : ""));
        if (over && handles[1 - h].containsKey(to)) {
            String target = to;
            expectCode(ErrorCode.LOCKED, () -> fs[h].rename(from, target), "rename over a file open for writing on the other host");
            check(model.containsKey(to) && model.containsKey(from), "model");
            return;
        }
        if (over && handles[h].containsKey(to)) {
            if (rnd.nextBoolean()) {
                String target = to;
                expectCode(ErrorCode.LOCKED, () -> fs[h].rename(from, target), "rename over a file open on this host");
                return;
            }
            closeHandle(h, to);
        }
        fs[h].rename(from, to);
        model.put(to, model.remove(from));
        owner.remove(to);
        owner.put(to, owner.remove(from));
        DatastoreFile f = handles[h].remove(from);
        if (f != null) {
            handles[h].put(to, f);
        }
        check(!fs[1 - h].exists(from), "the other host still sees " + from);
        check(fs[1 - h].exists(to), "the other host does not see " + to);
    }

    private void atomic(int h) {
        // mostly names this host replaces (replacing frees the old content's blocks, and freeing
        // blocks of the other host's clusters waits for it to let their lease go)
        String name = "atomic-" + (rnd.nextInt(8) == 0 ? 1 - h : h) + "-" + rnd.nextInt(2);
        byte[] content = randomBytes(rnd.nextInt(rnd.nextBoolean() ? 300 : 200 * KIB));
        Integer ow = owner.get(name);
        note("writeAtomically " + name + " on " + h + " (" + content.length + " bytes)");
        if (ow != null && ow != -1) {
            // a plain file got this name through a rename: it is replaced unless open for writing
            if (handles[0].containsKey(name) || handles[1].containsKey(name)) {
                expectCode(ErrorCode.LOCKED, () -> fs[h].writeAtomically(name, content), "writeAtomically over an open file");
                return;
            }
        }
        fs[h].writeAtomically(name, content);
        model.put(name, content);
        owner.put(name, -1);
        byte[] back = fs[1 - h].readAll(name);
        check(Arrays.equals(back, content), "the other host reads what writeAtomically wrote");
    }

    private void readAll(int h) {
        String name = anyFile();
        byte[] want = model.get(name);
        if (want.length > 8 * MIB && rnd.nextBoolean()) {
            return;
        }
        note("readAll " + name + " on " + h);
        byte[] got = fs[h].readAll(name);
        check(Arrays.equals(got, want), "readAll of " + name + " on host " + h + ": " + got.length + " bytes, want "
                + want.length + (got.length == want.length ? " (content differs at " + Arrays.mismatch(got, want) + ")" : ""));
    }

    private void delete(int h) {
        String name = rnd.nextInt(10) == 0 ? anyFile() : ownFile(h);
        if (name == null) {
            return;
        }
        note("delete " + name + " on " + h);
        if (handles[1 - h].containsKey(name)) {
            expectCode(ErrorCode.LOCKED, () -> fs[h].delete(name), "delete of a file open for writing on the other host");
            check(fs[h].exists(name), "a refused delete keeps the file");
            return;
        }
        if (handles[h].containsKey(name)) {
            if (rnd.nextInt(3) == 0) {
                expectCode(ErrorCode.LOCKED, () -> fs[h].delete(name), "delete of a file open on this host");
                return;
            }
            closeHandle(h, name);
        }
        long free = fs[h].space().free();
        long allocated = fs[h].stat(name).allocated();
        fs[h].delete(name);
        model.remove(name);
        owner.remove(name);
        check(!fs[h].exists(name), "deleted file still there on this host");
        check(!fs[1 - h].exists(name), "deleted file still there on the other host");
        expectCode(ErrorCode.FILE_NOT_FOUND, () -> fs[1 - h].open(name, false), "open of a deleted file");
        long freeAfter = fs[1 - h].space().free();
        check(freeAfter == free + allocated, "free space after the delete: " + freeAfter + " want " + free + " + "
                + allocated);
    }

    private void list(int h) {
        note("list on " + h);
        List<String> got = fs[h].list();
        check(got.equals(new ArrayList<>(model.keySet())), "list on host " + h + ": " + got + " want " + model.keySet());
    }

    private void stat(int h) {
        String name = anyFile();
        note("stat " + name + " on " + h);
        long size = fs[h].stat(name).size();
        check(size == model.get(name).length, "stat of " + name + " on host " + h + ": " + size + " want "
                + model.get(name).length);
        check(fs[h].exists(name), "exists");
    }

    /** A file open for writing on host o is LOCKED for writing on host h. */
    private void lockedElsewhere(int h, int o) {
        String name = heldBy(o);
        if (name == null) {
            name = ownFile(o);
            if (name == null) {
                return;
            }
            writable(o, name);
        }
        String n = name;
        note("open " + name + " for writing on " + h + " while " + o + " has it open");
        expectCode(ErrorCode.LOCKED, () -> fs[h].open(n, true), "open for writing of a file the other host writes");
        // still readable, with what the writer wrote
        try (DatastoreFile f = fs[h].open(n, false)) {
            byte[] want = model.get(n);
            compareRange(f, n, Math.max(0, want.length - 5 * KIB), 6 * KIB, "read-only next to a writer");
        }
    }

    /** Host h closes a file it writes, host o opens it for writing and takes it over. */
    private void handOver(int h, int o) {
        String name = ownFile(h);
        if (name == null) {
            return;
        }
        note("hand " + name + " over from " + h + " to " + o);
        closeHandle(h, name);
        DatastoreFile f = writable(o, name);
        owner.put(name, o);
        byte[] want = model.get(name);
        check(f.size() == want.length, "the new writer sees size " + f.size() + " want " + want.length);
        compareRange(f, name, Math.max(0, want.length - 3 * KIB), 4 * KIB, "the new writer");
        expectCode(ErrorCode.LOCKED, () -> fs[h].open(name, true), "the old writer now gets LOCKED");
    }

    private void misuse(int h) {
        int r = rnd.nextInt(4);
        if (r == 0) {
            String name = anyFile();
            note("create existing " + name + " on " + h);
            expectCode(ErrorCode.ALREADY_EXISTS, () -> fs[h].create(name), "create of an existing file");
        } else if (r == 1) {
            note("open missing on " + h);
            expectCode(ErrorCode.FILE_NOT_FOUND, () -> fs[h].open("missing-" + counter, false), "open of a missing file");
        } else if (r == 2) {
            note("delete missing on " + h);
            expectCode(ErrorCode.FILE_NOT_FOUND, () -> fs[h].delete("missing-" + counter), "delete of a missing file");
        } else {
            note("rename missing on " + h);
            expectCode(ErrorCode.FILE_NOT_FOUND, () -> fs[h].rename("missing-" + counter, "x" + counter),
                    "rename of a missing file");
        }
    }

    /** Reads every file whole on host h and compares it with the model; and the listing. */
    private void verifyAll(int h) {
        note("verify all on " + h);
        List<String> got = fs[h].list();
        check(got.equals(new ArrayList<>(model.keySet())), "list on host " + h + ": " + got + " want " + model.keySet());
        for (Map.Entry<String, byte[]> e : model.entrySet()) {
            try (DatastoreFile f = fs[h].open(e.getKey(), false)) {
                check(f.size() == e.getValue().length, "size of " + e.getKey() + " on host " + h + ": " + f.size()
                        + " want " + e.getValue().length);
                for (long pos = 0; pos < e.getValue().length; pos += 4 * MIB) {
                    compareRange(f, e.getKey(), pos, 4 * MIB, "verify on host " + h);
                }
            }
        }
    }
}
