package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
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
 * Random operations on the top of a chain (dynamic or fixed base, a middle
 * child, a top child) against a byte-array model: writes, reads, trims,
 * populate, reclaim, flush, reopen, and a final rebase to none after populate.
 * The checker must find no error at the end.
 */
class ChainModelPropertyTest {
    private static final long SIZE = (6L << 20) + 3 * 512;
    private static final long BLOCK = 2L << 20;

    enum Kind { WRITE, READ, TRIM, POPULATE, RECLAIM, FLUSH, REOPEN }

    record Op(Kind kind, long offset, int length, long seed) {
    }

    @Provide
    Arbitrary<Op> ops() {
        Arbitrary<Kind> kind = Arbitraries.frequency(Tuple.of(8, Kind.WRITE), Tuple.of(3, Kind.READ),
                Tuple.of(3, Kind.TRIM), Tuple.of(1, Kind.POPULATE), Tuple.of(1, Kind.RECLAIM), Tuple.of(1, Kind.FLUSH),
                Tuple.of(1, Kind.REOPEN));
        Arbitrary<Long> anywhere = Arbitraries.longs().between(0, SIZE - 1);
        Arbitrary<Long> nearBoundary = Combinators.combine(Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(-2000, 2000)).as((b, d) -> Math.max(0, Math.min(SIZE - 1, b * BLOCK + d)));
        Arbitrary<Integer> length = Arbitraries.oneOf(Arbitraries.integers().between(1, 3000),
                Arbitraries.integers().between(1, (int) (2 * BLOCK + 5000)));
        return Combinators.combine(kind, Arbitraries.oneOf(anywhere, nearBoundary), length, Arbitraries.longs())
                .as((k, o, l, s) -> new Op(k, o, (int) Math.min(l, SIZE - o), s));
    }

    @Property(tries = 30)
    void chainTopBehavesLikeAByteArray(@ForAll boolean fixedBase, @ForAll @Size(max = 25) List<@From("ops") Op> ops) {
        VhdFormat format = new VhdFormat();
        MemoryStore store = new MemoryStore();
        byte[] model = new byte[(int) SIZE];
        try (VirtualDisk base = format.create(store.create("a.vhd"),
                new DiskSpec(SIZE, fixedBase ? Provisioning.THICK : Provisioning.THIN))) {
            byte[] d = DifferencingTest.pattern((int) (BLOCK + 700), 1);
            base.write(ByteBuffer.wrap(d), 1000);
            System.arraycopy(d, 0, model, 1000, d.length);
        }
        try (VirtualDisk mid = format.createChild(store.create("b.vhd"), "a.vhd", store)) {
            byte[] d = DifferencingTest.pattern(5000, 2);
            mid.write(ByteBuffer.wrap(d), 2 * BLOCK - 2500);
            System.arraycopy(d, 0, model, (int) (2 * BLOCK - 2500), d.length);
        }
        VirtualDisk top = format.createChild(store.create("c.vhd"), "b.vhd", store);
        try {
            for (Op op : ops) {
                switch (op.kind()) {
                    case WRITE -> {
                        byte[] data = new byte[op.length()];
                        Random r = new Random(op.seed());
                        if (r.nextInt(5) != 0) {
                            r.nextBytes(data);
                        }
                        top.write(ByteBuffer.wrap(data), op.offset());
                        System.arraycopy(data, 0, model, (int) op.offset(), data.length);
                    }
                    case READ -> {
                        ByteBuffer b = ByteBuffer.allocate(op.length());
                        top.read(b, op.offset());
                        assertArrayEquals(Arrays.copyOfRange(model, (int) op.offset(), (int) op.offset() + op.length()),
                                b.array(), "read at " + op.offset());
                    }
                    case TRIM -> {
                        top.trim(op.offset(), op.length());
                        Arrays.fill(model, (int) op.offset(), (int) op.offset() + op.length(), (byte) 0);
                    }
                    case POPULATE -> top.populate(op.offset(), op.length());
                    case RECLAIM -> top.reclaim();
                    case FLUSH -> top.flush();
                    case REOPEN -> {
                        top.close();
                        top = format.open(store.get("c.vhd"), false, store);
                    }
                }
            }
            ByteBuffer all = ByteBuffer.allocate((int) SIZE);
            top.read(all, 0);
            assertArrayEquals(model, all.array());
            top.populate(0, SIZE);
            top.rebase(null, store);
            all.clear();
            top.read(all, 0);
            assertArrayEquals(model, all.array());
        } finally {
            top.close();
        }
        CheckReport r = format.check(store.get("c.vhd"), store, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        try (VirtualDisk d = format.open(store.get("c.vhd"), true)) {
            ByteBuffer all = ByteBuffer.allocate((int) SIZE);
            d.read(all, 0);
            assertArrayEquals(model, all.array());
        }
    }
}
