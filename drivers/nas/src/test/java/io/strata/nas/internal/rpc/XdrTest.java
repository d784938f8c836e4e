package io.strata.nas.internal.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class XdrTest {
    @Test
    void valuesRoundTripBigEndianAndOpaqueDataIsPaddedToFourBytes() {
        Xdr.Out out = new Xdr.Out(4);
        out.int32(-2).uint64(0x0102030405060708L).bool(true).opaque(new byte[] {9, 8, 7}).string("vm.vhd");
        ByteBuffer b = out.toBuffer();
        // 4 + 8 + 4 + (4 + 3 + 1 pad) + (4 + 6 + 2 pad)
        assertEquals(36, b.remaining());
        assertEquals(0x01, b.get(4));
        assertEquals(0, b.get(23)); // the pad after the 3 opaque bytes
        Xdr.In in = new Xdr.In(b);
        assertEquals(-2, in.int32());
        assertEquals(0x0102030405060708L, in.uint64());
        assertTrue(in.bool());
        assertArrayEquals(new byte[] {9, 8, 7}, in.opaque(16));
        assertEquals("vm.vhd", in.string(255));
        assertEquals(0, in.remaining());
    }

    @Test
    void theBufferGrowsPastItsFirstCapacity() {
        Xdr.Out out = new Xdr.Out(1);
        byte[] big = new byte[10_001];
        big[10_000] = 42;
        out.opaque(big);
        Xdr.In in = new Xdr.In(out.toBuffer());
        assertEquals(42, in.opaque(20_000)[10_000]);
    }

    @Test
    void aCutShortReplyOrAnAbsurdLengthIsAnXdrErrorNotAnOverread() {
        Xdr.In shortOne = new Xdr.In(ByteBuffer.wrap(new byte[] {0, 0, 0}));
        assertThrows(Xdr.XdrException.class, shortOne::int32);
        Xdr.In tooLong = new Xdr.In(new Xdr.Out(8).int32(1 << 30).toBuffer());
        Xdr.XdrException e = assertThrows(Xdr.XdrException.class, () -> tooLong.opaque(64));
        assertTrue(e.getMessage().contains("at most 64"), e.getMessage());
        Xdr.In lies = new Xdr.In(new Xdr.Out(8).int32(12).int32(0).toBuffer());
        assertThrows(Xdr.XdrException.class, () -> lies.opaque(64));
        Xdr.In notBool = new Xdr.In(new Xdr.Out(4).int32(7).toBuffer());
        assertThrows(Xdr.XdrException.class, notBool::bool);
    }

    @Test
    void opaqueIntoCopiesStraightIntoTheCallersBufferAndRefusesMoreThanAskedFor() {
        Xdr.Out out = new Xdr.Out(16).opaque(new byte[] {1, 2, 3, 4, 5});
        ByteBuffer dst = ByteBuffer.allocate(5);
        Xdr.In in = new Xdr.In(out.toBuffer());
        assertEquals(5, in.opaqueInto(dst, 5));
        assertFalse(dst.hasRemaining());
        assertEquals(5, dst.get(4));
        assertEquals(0, in.remaining());
        Xdr.In again = new Xdr.In(out.toBuffer());
        assertThrows(Xdr.XdrException.class, () -> again.opaqueInto(ByteBuffer.allocate(4), 5));
    }
}
