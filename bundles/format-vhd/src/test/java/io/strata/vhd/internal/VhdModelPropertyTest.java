package io.strata.vhd.internal;

import io.strata.testing.MemoryFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
import net.jqwik.api.constraints.Size;

/**
 * Random writes, reads, flushes and reopens against an in-memory byte-array
 * model, for fixed and dynamic disks. Offsets are unaligned and cluster around
 * 2 MiB block boundaries so that writes cross blocks.
 */
class VhdModelPropertyTest {
    private static final long SIZE = (6L << 20) + 5 * 512;
    private static final long BLOCK = 2L << 20;

    enum Kind { WRITE, READ, REOPEN, FLUSH, DIRECT_BUFFER_WRITE }

    record IoOp(Kind kind, long offset, int length, long seed) {
    }

    @Provide
    Arbitrary<Provisioning> provisionings() {
        return Arbitraries.of(Provisioning.THIN, Provisioning.THICK_LAZY, Provisioning.THICK);
    }

    @Provide
    Arbitrary<IoOp> ops() {
        Arbitrary<Kind> kind = Arbitraries.frequency(
                net.jqwik.api.Tuple.of(6, Kind.WRITE), net.jqwik.api.Tuple.of(3, Kind.READ),
                net.jqwik.api.Tuple.of(1, Kind.REOPEN), net.jqwik.api.Tuple.of(1, Kind.FLUSH),
                net.jqwik.api.Tuple.of(2, Kind.DIRECT_BUFFER_WRITE));
        Arbitrary<Long> anywhere = Arbitraries.longs().between(0, SIZE - 1);
        Arbitrary<Long> nearBoundary = Combinators.combine(Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(-5000, 5000)).as((b, d) -> Math.max(0, Math.min(SIZE - 1, b * BLOCK + d)));
        Arbitrary<Long> offset = Arbitraries.oneOf(anywhere, nearBoundary);
        Arbitrary<Integer> length = Arbitraries.oneOf(Arbitraries.integers().between(1, 9000),
                Arbitraries.integers().between(1, (int) (3 * BLOCK)));
        return Combinators.combine(kind, offset, length, Arbitraries.longs())
                .as((k, o, l, s) -> new IoOp(k, o, (int) Math.min(l, SIZE - o), s));
    }

    @Property(tries = 40)
    void diskBehavesLikeAByteArray(@ForAll("provisionings") Provisioning provisioning,
            @ForAll @Size(max = 30) List<@From("ops") IoOp> ops) {
        VhdFormat format = new VhdFormat();
        MemoryFile file = new MemoryFile("p.vhd");
        byte[] model = new byte[(int) SIZE];
        VirtualDisk disk = format.create(file, new DiskSpec(SIZE, provisioning));
        try {
            for (IoOp op : ops) {
                switch (op.kind()) {
                    case WRITE, DIRECT_BUFFER_WRITE -> {
                        byte[] data = new byte[op.length()];
                        new Random(op.seed()).nextBytes(data);
                        ByteBuffer src = op.kind() == Kind.WRITE ? ByteBuffer.wrap(data)
                                : ByteBuffer.allocateDirect(data.length + 3).position(3);
                        if (op.kind() == Kind.DIRECT_BUFFER_WRITE) {
                            src.put(data).position(3);
                        }
                        disk.write(src, op.offset());
                        assertEquals(0, src.remaining());
                        System.arraycopy(data, 0, model, (int) op.offset(), data.length);
                    }
                    case READ -> {
                        ByteBuffer dst = (op.seed() & 1) == 0 ? ByteBuffer.allocate(op.length())
                                : ByteBuffer.allocateDirect(op.length());
                        disk.read(dst, op.offset());
                        assertEquals(0, dst.remaining());
                        byte[] got = new byte[op.length()];
                        dst.flip().get(got);
                        assertArrayEquals(Arrays.copyOfRange(model, (int) op.offset(), (int) op.offset() + op.length()),
                                got, "read at " + op.offset());
                    }
                    case FLUSH -> disk.flush();
                    case REOPEN -> {
                        disk.close();
                        disk = format.open(file, false);
                        assertEquals(SIZE, disk.virtualSize());
                    }
                }
            }
            ByteBuffer all = ByteBuffer.allocate((int) SIZE);
            disk.read(all, 0);
            assertArrayEquals(model, all.array());
        } finally {
            disk.close();
        }
        format.probe(file);
    }
}
