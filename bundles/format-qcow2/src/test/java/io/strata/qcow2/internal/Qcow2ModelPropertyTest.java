package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.Size;

/**
 * Random writes, reads, zeroing, trims, flushes, populates and reopens against an
 * in-memory byte-array model: for a standalone image of each provisioning type, and for
 * the top of a 3-deep chain (parents' data visible through the children, writes only
 * ever reaching the top). Offsets cluster around 64 KiB cluster and 512 MiB L2 boundaries.
 */
class Qcow2ModelPropertyTest {
    private static final long SIZE = (512L << 20) + (3L << 20) + 5 * 512; // crosses an L2 table boundary
    private static final long CS = 65536;

    enum Kind { WRITE, DIRECT_WRITE, READ, ZERO, TRIM, FLUSH, REOPEN, POPULATE }

    record Op(Kind kind, long offset, int length, long seed) {
    }

    @Provide
    Arbitrary<Provisioning> provisionings() {
        return Arbitraries.of(Provisioning.THIN, Provisioning.THICK_LAZY);
    }

    @Provide
    Arbitrary<Op> ops() {
        Arbitrary<Kind> kind = Arbitraries.frequency(Tuple.of(8, Kind.WRITE), Tuple.of(2, Kind.DIRECT_WRITE),
                Tuple.of(4, Kind.READ), Tuple.of(2, Kind.ZERO), Tuple.of(2, Kind.TRIM), Tuple.of(1, Kind.FLUSH),
                Tuple.of(1, Kind.REOPEN), Tuple.of(1, Kind.POPULATE));
        Arbitrary<Long> boundary = Combinators.combine(
                Arbitraries.of(0L, CS, 2 * CS, 3 * CS, 512L << 20, (512L << 20) + CS, SIZE - CS),
                Arbitraries.integers().between(-3000, 3000)).as((b, d) -> Math.max(0, Math.min(SIZE - 1, b + d)));
        Arbitrary<Long> early = Arbitraries.longs().between(0, 4 * CS);
        Arbitrary<Long> offset = Arbitraries.oneOf(boundary, early);
        Arbitrary<Integer> length = Arbitraries.oneOf(Arbitraries.integers().between(1, 5000),
                Arbitraries.integers().between(1, (int) (3 * CS)));
        return Combinators.combine(kind, offset, length, Arbitraries.longs())
                .as((k, o, l, s) -> new Op(k, o, (int) Math.min(l, SIZE - o), s));
    }

    /** The model: a sparse map of 64 KiB pages of the virtual disk. */
    static final class Model {
        final java.util.Map<Long, byte[]> pages = new java.util.HashMap<>();

        void write(long off, byte[] data) {
            for (int i = 0; i < data.length; ) {
                long p = (off + i) / CS;
                int in = (int) ((off + i) % CS);
                int n = (int) Math.min(data.length - i, CS - in);
                System.arraycopy(data, i, pages.computeIfAbsent(p, k -> new byte[(int) CS]), in, n);
                i += n;
            }
        }

        byte[] read(long off, int len) {
            byte[] out = new byte[len];
            for (int i = 0; i < len; ) {
                long p = (off + i) / CS;
                int in = (int) ((off + i) % CS);
                int n = (int) Math.min(len - i, CS - in);
                byte[] page = pages.get(p);
                if (page != null) {
                    System.arraycopy(page, in, out, i, n);
                }
                i += n;
            }
            return out;
        }

        Model copy() {
            Model m = new Model();
            pages.forEach((k, v) -> m.pages.put(k, v.clone()));
            return m;
        }
    }

    private static void apply(VirtualDisk disk, Model model, Op op) {
        switch (op.kind()) {
            case WRITE, DIRECT_WRITE -> {
                byte[] data = new byte[op.length()];
                new Random(op.seed()).nextBytes(data);
                ByteBuffer src = ByteBuffer.wrap(data);
                if (op.kind() == Kind.DIRECT_WRITE) {
                    src = ByteBuffer.allocateDirect(data.length + 3).position(3);
                    src.put(data).position(3);
                }
                disk.write(src, op.offset());
                assertEquals(0, src.remaining());
                model.write(op.offset(), data);
            }
            case ZERO, TRIM -> {
                if (op.kind() == Kind.ZERO) {
                    disk.writeZeroes(op.offset(), op.length());
                } else {
                    disk.trim(op.offset(), op.length());
                }
                model.write(op.offset(), new byte[op.length()]);
            }
            case READ -> {
                ByteBuffer dst = (op.seed() & 1) == 0 ? ByteBuffer.allocate(op.length())
                        : ByteBuffer.allocateDirect(op.length());
                disk.read(dst, op.offset());
                assertEquals(0, dst.remaining());
                byte[] got = new byte[op.length()];
                dst.flip().get(got);
                assertArrayEquals(model.read(op.offset(), op.length()), got, "read at " + op.offset());
            }
            case POPULATE -> disk.populate(op.offset(), op.length());
            case FLUSH -> disk.flush();
            default -> { }
        }
    }

    private static void assertSame(VirtualDisk disk, Model model) {
        // compare every page either side has touched, plus the tail
        java.util.Set<Long> pages = new java.util.TreeSet<>(model.pages.keySet());
        pages.add((SIZE - 1) / CS);
        for (long p : pages) {
            long off = p * CS;
            int len = (int) Math.min(CS, SIZE - off);
            byte[] got = new byte[len];
            disk.read(ByteBuffer.wrap(got), off);
            assertArrayEquals(model.read(off, len), got, "page at " + off);
        }
        for (var e : disk.blockStatus(0, SIZE)) {
            if (e.zero()) {
                long probe = e.offset() + e.length() / 2;
                assertArrayEquals(new byte[16], model.read(probe, (int) Math.min(16, SIZE - probe)),
                        "extent reported zero at " + probe);
            }
        }
    }

    @Property(tries = 30)
    void standaloneDiskBehavesLikeTheModel(@ForAll("provisionings") Provisioning provisioning,
            @ForAll @Size(max = 30) List<@From("ops") Op> ops) {
        Qcow2Format format = new Qcow2Format();
        MemoryFile file = new MemoryFile("p.qcow2");
        Model model = new Model();
        VirtualDisk disk = format.create(file, new DiskSpec(SIZE, provisioning));
        try {
            for (Op op : ops) {
                if (op.kind() == Kind.REOPEN) {
                    disk.close();
                    disk = format.open(file, false);
                    assertEquals(SIZE, disk.virtualSize());
                } else {
                    apply(disk, model, op);
                }
            }
            assertSame(disk, model);
        } finally {
            disk.close();
        }
        CheckReport r = format.check(file, null, false);
        assertTrue(r.clean(), r.toString());
    }

    @Property(tries = 20)
    void chainTopBehavesLikeTheModel(@ForAll @Size(max = 8) List<@From("ops") Op> baseOps,
            @ForAll @Size(max = 8) List<@From("ops") Op> midOps,
            @ForAll @Size(max = 25) List<@From("ops") Op> topOps) {
        Qcow2Format format = new Qcow2Format();
        Fixtures.MemoryStore store = new Fixtures.MemoryStore();
        Model model = new Model();
        try (VirtualDisk base = format.create(store.file("base.qcow2"), new DiskSpec(SIZE, Provisioning.THIN))) {
            baseOps.stream().filter(o -> o.kind() != Kind.REOPEN && o.kind() != Kind.POPULATE)
                    .forEach(o -> apply(base, model, o));
        }
        Model baseModel = model.copy();
        byte[] baseBytes = store.file("base.qcow2").bytes();
        try (VirtualDisk mid = format.createChild(store.file("mid.qcow2"), "base.qcow2", store)) {
            assertSame(mid, model);
            midOps.stream().filter(o -> o.kind() != Kind.REOPEN).forEach(o -> apply(mid, model, o));
        }
        Model midModel = model.copy();
        byte[] midBytes = store.file("mid.qcow2").bytes();
        MemoryFile topFile = store.file("top.qcow2");
        VirtualDisk top = format.createChild(topFile, "mid.qcow2", store);
        try {
            assertEquals(3, top.chainLength());
            for (Op op : topOps) {
                if (op.kind() == Kind.REOPEN) {
                    top.close();
                    top = format.open(topFile, false, store);
                } else {
                    apply(top, model, op);
                }
            }
            assertSame(top, model);
        } finally {
            top.close();
        }
        assertArrayEquals(baseBytes, store.file("base.qcow2").bytes(), "base never written");
        assertArrayEquals(midBytes, store.file("mid.qcow2").bytes(), "mid never written");
        try (VirtualDisk mid = format.open(store.file("mid.qcow2"), true, store);
                VirtualDisk base = format.open(store.file("base.qcow2"), true)) {
            assertSame(mid, midModel);
            assertSame(base, baseModel);
        }
        for (String n : List.of("base.qcow2", "mid.qcow2", "top.qcow2")) {
            CheckReport r = format.check(store.file(n), store, false);
            assertTrue(r.clean(), n + ": " + r);
        }
    }
}
