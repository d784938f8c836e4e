package io.strata.fs.vims.internal;

import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.lease.HostIdentity;
import io.strata.lease.LeaseClock;
import io.strata.lease.LeaseParticipant;
import io.strata.lease.LeaseSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

/**
 * The crash tests' shared parts: the LUN they format, a deterministic metadata-heavy workload
 * planned from a seed together with the state the filesystem must show after each operation
 * (its model), running it on a datastore, and checking a datastore against the model.
 *
 * <p>File contents are patterns made of (file uid, operation, position), so a block of one
 * file showing up in another, or stale bytes of an earlier write, never pass for the
 * expected content.
 */
final class CrashWorkload {
    static final int KIB = 1024;
    static final int MIB = 1024 * 1024;
    static final long LUN_SIZE = 96L * MIB;
    static final String IDENTITY = "uuid:crash-lun";
    /** 64K blocks: many blocks per MiB of data, and pointer blocks in reach of a small LUN. */
    static final int FS_BLOCK = 64 * KIB;
    static final Map<String, String> FORMAT = Map.of("max-files", "32", "max-hosts", "4", "cluster-size", "8M",
            "block-size", "64K", "max-size", "1G");
    /** Where a file's blocks go through its first pointer block. */
    static final long FAR = (long) Descriptor.DIRECT * FS_BLOCK;
    /** Short lease timings (joining takes 2 * 200 + 100 / 2 ms); every host of one LUN uses them. */
    static final LeaseSettings LEASES = new LeaseSettings(Duration.ofMillis(100), Duration.ofMillis(1000),
            Duration.ofMillis(200));
    /** The model's granule (any size works; the filesystem's block size is the natural one). */
    private static final int MB = 64 * KIB;
    private static final String[] NAMES = {"f0", "f1", "f2", "f3", "f4", "f5"};

    private CrashWorkload() {
    }

    static LeaseParticipant host(String name, Runnable onFence) {
        return new LeaseParticipant(new HostIdentity(UUID.randomUUID(), name), LEASES, LeaseClock.SYSTEM, onFence);
    }

    /**
     * Mounts as a new host; tries again (three times at most) when joining failed only because a
     * lockspace I/O outlived the short timeout on a loaded machine: that is no crash damage.
     */
    static Vims mount(io.strata.api.device.BlockDevice dev, String host, Runnable onFence) {
        for (int attempt = 1; ; attempt++) {
            try {
                return Vims.mount("ds", dev, host(host, onFence));
            } catch (io.strata.api.StorageException e) {
                if (attempt >= 3 || e.getMessage() == null || !e.getMessage().contains("I/O timeout")) {
                    throw e;
                }
            }
        }
    }

    // ---------------------------------------------------------------- the LUN

    /** A freshly formatted LUN: its non-zero 64K chunks, to be laid down again quickly on sparse files. */
    record Template(long size, TreeMap<Long, byte[]> chunks, long lockspaceStart, long lockspaceEnd) {
        static Template format(Path file) {
            TestDevice dev = new TestDevice(file, LUN_SIZE, IDENTITY);
            try {
                new VimsFilesystem().format(dev, FORMAT, false);
                Superblock sb = Vims.readSuperblock(new Disk(dev));
                TreeMap<Long, byte[]> chunks = new TreeMap<>();
                byte[] zero = new byte[MB];
                for (long at = 0; at < LUN_SIZE; at += MB) {
                    ByteBuffer b = ByteBuffer.allocate(MB);
                    dev.read(b, at);
                    if (!Arrays.equals(b.array(), zero)) {
                        chunks.put(at, b.array());
                    }
                }
                return new Template(LUN_SIZE, chunks, sb.lockspaceOffset(),
                        sb.lockspaceOffset() + sb.lockspaceSectors() * dev.sectorSize());
            } finally {
                dev.close();
            }
        }

        /** Makes {@code file} a copy of the formatted LUN (sparse: only its non-zero chunks are written). */
        void copyTo(Path file) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (Map.Entry<Long, byte[]> e : chunks.entrySet()) {
                    ByteBuffer b = ByteBuffer.wrap(e.getValue());
                    long at = e.getKey();
                    while (b.hasRemaining()) {
                        at += ch.write(b, at);
                    }
                }
                if (ch.size() < size) {
                    ch.write(ByteBuffer.allocate(1), size - 1);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    // ---------------------------------------------------------------- the workload and its model

    enum Kind { CREATE, WRITE, ALLOCATE, PUNCH, SET_SIZE, RENAME, ATOMIC, DELETE }

    /** One operation; {@code uid} is the file's (a new one for CREATE and ATOMIC). */
    record Op(int seq, Kind kind, String name, String to, long off, long len, long uid) {
        @Override
        public String toString() {
            return switch (kind) {
                case CREATE -> "#" + seq + " create " + name;
                case RENAME -> "#" + seq + " rename " + name + " -> " + to;
                case DELETE -> "#" + seq + " delete " + name;
                case ATOMIC -> "#" + seq + " writeAtomically " + name + " (" + len + " bytes)";
                case SET_SIZE -> "#" + seq + " setSize " + name + " " + len;
                default -> "#" + seq + " " + kind.name().toLowerCase() + " " + name + " [" + off + ", +" + len + ")";
            };
        }
    }

    /** What a file holds: its size and its non-zero content by 64K granule (shared between states, never changed). */
    record FileModel(long uid, long size, TreeMap<Long, byte[]> granules) {
        static FileModel empty(long uid) {
            return new FileModel(uid, 0, new TreeMap<>());
        }

        byte at(long pos) {
            byte[] g = granules.get(pos / MB);
            return g == null ? 0 : g[(int) (pos % MB)];
        }

        /** Copies {@code [pos, pos + dst.length)} of the content (zeros where nothing was written). */
        void fill(byte[] dst, long pos) {
            Arrays.fill(dst, (byte) 0);
            for (int i = 0; i < dst.length; ) {
                long p = pos + i;
                int n = (int) Math.min(dst.length - i, MB - p % MB);
                byte[] g = granules.get(p / MB);
                if (g != null) {
                    System.arraycopy(g, (int) (p % MB), dst, i, n);
                }
                i += n;
            }
        }

        private FileModel change(long from, long to, long newSize, java.util.function.LongUnaryOperator value) {
            TreeMap<Long, byte[]> g = new TreeMap<>(granules);
            for (long p = from; p < to; ) {
                long k = p / MB;
                long end = Math.min(to, (k + 1) * MB);
                byte[] old = g.get(k);
                byte[] now = old == null ? new byte[MB] : old.clone();
                for (long q = p; q < end; q++) {
                    now[(int) (q % MB)] = (byte) value.applyAsLong(q);
                }
                g.put(k, now);
                p = end;
            }
            return new FileModel(uid, newSize, g);
        }

        FileModel write(long seq, long off, long len) {
            return change(off, off + len, Math.max(size, off + len), q -> pattern(uid, seq, q));
        }

        FileModel zero(long off, long len) {
            long end = Math.min(off + len, size);
            return off >= end ? this : change(off, end, size, q -> 0);
        }

        FileModel resize(long newSize) {
            if (newSize >= size) {
                return new FileModel(uid, newSize, granules);
            }
            FileModel z = zero(newSize, size - newSize);
            TreeMap<Long, byte[]> g = new TreeMap<>(z.granules);
            g.tailMap((newSize + MB - 1) / MB, true).clear();
            return new FileModel(uid, newSize, g);
        }
    }

    /** The files by name after some operation. */
    record State(TreeMap<String, FileModel> files) {
        State with(String name, FileModel f) {
            TreeMap<String, FileModel> m = new TreeMap<>(files);
            if (f == null) {
                m.remove(name);
            } else {
                m.put(name, f);
            }
            return new State(m);
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder("{");
            files.forEach((n, f) -> b.append(b.length() > 1 ? ", " : "").append(n).append(": uid ").append(f.uid())
                    .append(" size ").append(f.size()));
            return b.append('}').toString();
        }
    }

    /** A planned workload: {@code states.get(k)} is what the filesystem holds before op k, {@code states.get(k + 1)} after it. */
    record Plan(List<Op> ops, List<State> states) {
        State before(int op) {
            return states.get(Math.max(0, Math.min(op, ops.size())));
        }

        State after(int op) {
            return states.get(Math.max(0, Math.min(op + 1, ops.size())));
        }
    }

    static byte pattern(long uid, long seq, long pos) {
        long z = uid * 0x9E3779B97F4A7C15L + seq * 0xBF58476D1CE4E5B9L + (pos >>> 3) * 0x94D049BB133111EBL + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (byte) (z >>> ((pos & 7) * 8));
    }

    static byte[] data(long uid, long seq, long off, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = pattern(uid, seq, off + i);
        }
        return b;
    }

    /** Plans {@code count} operations from {@code seed}; the same arguments always give the same plan. */
    static Plan plan(long seed, int count) {
        Random r = new Random(seed);
        List<Op> ops = new ArrayList<>();
        List<State> states = new ArrayList<>();
        State s = new State(new TreeMap<>());
        states.add(s);
        for (int seq = 0; seq < count; seq++) {
            List<String> existing = new ArrayList<>(s.files().keySet());
            List<String> absent = new ArrayList<>();
            for (String n : NAMES) {
                if (!s.files().containsKey(n)) {
                    absent.add(n);
                }
            }
            long allocated = 0;
            for (FileModel f : s.files().values()) {
                allocated += f.granules().size() * (long) MB;
            }
            int dice = r.nextInt(100);
            Op op;
            if (existing.size() < 2 || (dice < 10 && !absent.isEmpty())) {
                op = new Op(seq, Kind.CREATE, pick(r, absent), null, 0, 0, seq + 1);
            } else {
                String name = pick(r, existing);
                FileModel f = s.files().get(name);
                if (dice < 40 && allocated < 40L * MIB) {
                    long off;
                    int where = r.nextInt(10);
                    if (where < 6) {
                        off = r.nextInt(2 * MIB);
                    } else if (where < 8) {
                        off = FAR + r.nextInt(MIB); // through the pointer block
                    } else {
                        off = Math.min(f.size(), FAR + MIB); // appending
                    }
                    long len = 1 + r.nextInt(r.nextBoolean() ? 4 * KIB : 200 * KIB);
                    op = new Op(seq, Kind.WRITE, name, null, off, len, f.uid());
                } else if (dice < 48) {
                    op = new Op(seq, Kind.ALLOCATE, name, null, r.nextInt(3 * MIB), 1 + r.nextInt(256 * KIB), f.uid());
                } else if (dice < 58) {
                    long size = Math.max(1, f.size());
                    long off = (long) (r.nextDouble() * size);
                    op = new Op(seq, Kind.PUNCH, name, null, off, 1 + r.nextInt(300 * KIB), f.uid());
                } else if (dice < 67) {
                    long size = f.size();
                    long to = r.nextBoolean() && size > 0 ? (long) (r.nextDouble() * size) : size + r.nextInt(512 * KIB);
                    op = new Op(seq, Kind.SET_SIZE, name, null, 0, to, f.uid());
                } else if (dice < 78) {
                    List<String> targets = new ArrayList<>(List.of(NAMES));
                    targets.remove(name);
                    op = new Op(seq, Kind.RENAME, name, pick(r, targets), 0, 0, f.uid());
                } else if (dice < 90) {
                    String target = r.nextBoolean() ? name : pick(r, List.of(NAMES));
                    op = new Op(seq, Kind.ATOMIC, target, null, 0, r.nextInt(100 * KIB), seq + 1);
                } else {
                    op = new Op(seq, Kind.DELETE, name, null, 0, 0, f.uid());
                }
            }
            s = apply(s, op);
            ops.add(op);
            states.add(s);
        }
        return new Plan(Collections.unmodifiableList(ops), Collections.unmodifiableList(states));
    }

    private static String pick(Random r, List<String> from) {
        return from.get(r.nextInt(from.size()));
    }

    private static State apply(State s, Op op) {
        FileModel f = s.files().get(op.name());
        return switch (op.kind()) {
            case CREATE -> s.with(op.name(), FileModel.empty(op.uid()));
            case WRITE -> s.with(op.name(), f.write(op.seq(), op.off(), op.len()));
            case ALLOCATE -> s.with(op.name(), f.resize(Math.max(f.size(), op.off() + op.len())));
            case PUNCH -> s.with(op.name(), f.zero(op.off(), op.len()));
            case SET_SIZE -> s.with(op.name(), f.resize(op.len()));
            case RENAME -> s.with(op.name(), null).with(op.to(), f);
            case ATOMIC -> s.with(op.name(), FileModel.empty(op.uid()).write(op.seq(), 0, op.len()));
            case DELETE -> s.with(op.name(), null);
        };
    }

    /** Runs one operation; it is durable when this returns (a flush ends every file change). */
    static void run(Datastore fs, Op op) {
        switch (op.kind()) {
            case CREATE -> {
                try (DatastoreFile f = fs.create(op.name())) {
                    f.flush();
                }
            }
            case WRITE -> {
                try (DatastoreFile f = fs.open(op.name(), true)) {
                    f.write(ByteBuffer.wrap(data(op.uid(), op.seq(), op.off(), (int) op.len())), op.off());
                    f.flush();
                }
            }
            case ALLOCATE -> {
                try (DatastoreFile f = fs.open(op.name(), true)) {
                    f.allocate(op.off(), op.len());
                    f.flush();
                }
            }
            case PUNCH -> {
                try (DatastoreFile f = fs.open(op.name(), true)) {
                    f.punchHole(op.off(), op.len());
                    f.flush();
                }
            }
            case SET_SIZE -> {
                try (DatastoreFile f = fs.open(op.name(), true)) {
                    f.setSize(op.len());
                    f.flush();
                }
            }
            case RENAME -> fs.rename(op.name(), op.to());
            case ATOMIC -> fs.writeAtomically(op.name(), data(op.uid(), op.seq(), 0, (int) op.len()));
            case DELETE -> fs.delete(op.name());
        }
    }

    // ---------------------------------------------------------------- checking a datastore against the model

    /**
     * Checks that {@code fs} shows the state before or after one operation that a crash
     * interrupted: the namespace of one of them; the files the operation left alone exactly as
     * they were; the file it changed in place (write, allocate, punch, set size) with every byte
     * either its old value, its new value or zero and one of the two sizes; a file it replaced
     * or created exactly as one of the two.
     *
     * @return a description of the first difference, or null when there is none
     */
    static String verify(Datastore fs, State before, State after) {
        TreeSet<String> names = new TreeSet<>(fs.list());
        boolean isBefore = names.equals(before.files().keySet());
        boolean isAfter = names.equals(after.files().keySet());
        if (!isBefore && !isAfter) {
            return "the files are " + names + "; expected " + before.files().keySet()
                    + (after.files().keySet().equals(before.files().keySet()) ? "" : " or " + after.files().keySet());
        }
        for (String n : names) {
            FileModel b = isBefore ? before.files().get(n) : null;
            FileModel a = isAfter ? after.files().get(n) : null;
            String problem;
            if (b != null && a != null && b.uid() == a.uid()) {
                problem = compare(fs, n, b, a, true);
            } else {
                FileModel first = b != null ? b : a;
                FileModel second = b != null ? a : null;
                problem = compare(fs, n, first, first, false);
                if (problem != null && second != null && second != first) {
                    String other = compare(fs, n, second, second, false);
                    problem = other == null ? null : problem + "; nor as the newer version: " + other;
                }
            }
            if (problem != null) {
                return "file " + n + ": " + problem;
            }
        }
        return null;
    }

    private static String compare(Datastore fs, String name, FileModel x, FileModel y, boolean mixed) {
        try (DatastoreFile f = fs.open(name, false)) {
            long size = f.size();
            if (size != x.size() && size != y.size()) {
                return "size " + size + ", expected " + x.size() + (y.size() == x.size() ? "" : " or " + y.size());
            }
            byte[] got = new byte[MIB];
            byte[] ex = new byte[MIB];
            byte[] ey = new byte[MIB];
            for (long pos = 0; pos < size; pos += MIB) {
                int n = (int) Math.min(MIB, size - pos);
                byte[] g = n == MIB ? got : new byte[n];
                byte[] gx = n == MIB ? ex : new byte[n];
                byte[] gy = n == MIB ? ey : new byte[n];
                ByteBuffer buf = ByteBuffer.wrap(g);
                while (buf.hasRemaining()) {
                    if (f.read(buf, pos + buf.position()) <= 0) {
                        return "short read at " + (pos + buf.position()) + " of " + size;
                    }
                }
                x.fill(gx, pos);
                y.fill(gy, pos);
                if (Arrays.equals(g, gx) || (mixed && Arrays.equals(g, gy))) {
                    continue;
                }
                for (int i = 0; i < n; i++) {
                    byte v = g[i];
                    if (v == gx[i] || (mixed && (v == gy[i] || v == 0))) {
                        continue;
                    }
                    int from = i - i % 16;
                    return "byte " + (pos + i) + " (uid " + x.uid() + ", size " + size + ") is " + hex(g, from)
                            + ", expected " + hex(gx, from) + (mixed ? " or " + hex(gy, from) + " or zeros" : "");
                }
            }
            return null;
        }
    }

    private static String hex(byte[] b, int from) {
        StringBuilder s = new StringBuilder();
        for (int i = from; i < Math.min(b.length, from + 16); i++) {
            s.append(String.format("%02x", b[i]));
        }
        return s.toString();
    }
    /**
     * After a crash: offline repair (which may find only journals to replay or a torn journal
     * header), a clean offline check, then another host finds every acknowledged operation.
     *
     * @return what went wrong, or null
     */
    static String repairAndVerify(io.strata.api.device.BlockDevice real, Plan plan, int op, String after) {
        io.strata.api.format.CheckReport repair = Checker.offline(real, true);
        java.util.List<String> unexpected = new java.util.ArrayList<>();
        for (String e : repair.errors()) {
            if (!CrashPowerCutTest.EXPECTED.matcher(e).matches()) {
                unexpected.add(e);
            }
        }
        if (!unexpected.isEmpty() || !repair.leaks().isEmpty()) {
            return "after the " + after + " the checker finds more than journals to replay: " + unexpected + " leaks "
                    + repair.leaks() + " (repaired " + repair.repaired() + ")";
        }
        io.strata.api.format.CheckReport check = Checker.offline(real, false);
        if (!check.clean()) {
            return "the checker is not clean after repair: " + check;
        }
        Vims b = mount(real, "b", () -> {
        });
        try {
            String problem = verify(b, plan.before(op), plan.after(op));
            return problem == null ? null : problem + " (before: " + plan.before(op) + ", after: " + plan.after(op) + ")";
        } finally {
            b.close();
        }
    }
}
