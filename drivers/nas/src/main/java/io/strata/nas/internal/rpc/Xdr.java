package io.strata.nas.internal.rpc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * XDR (RFC 4506) encoding and decoding: big-endian 4-byte units, variable-length data padded to
 * a multiple of four. {@link Out} builds the arguments of a call; {@link In} reads a reply and
 * throws {@link XdrException} instead of reading past its end or accepting an absurd length.
 */
public final class Xdr {
    private Xdr() {
    }

    /** @return the padding after {@code length} bytes of opaque data */
    public static int pad(int length) {
        return (4 - (length & 3)) & 3;
    }

    /** A reply that does not decode: cut short, a length beyond what was asked or allowed. */
    public static final class XdrException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        XdrException(String message) {
            super(message);
        }
    }

    /** An encoder into a heap buffer that grows as needed. */
    public static final class Out {
        private ByteBuffer buf;

        public Out(int initialCapacity) {
            buf = ByteBuffer.allocate(Math.max(64, initialCapacity));
        }

        private void room(int n) {
            if (buf.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n + 64));
                buf.flip();
                bigger.put(buf);
                buf = bigger;
            }
        }

        public Out int32(int v) {
            room(4);
            buf.putInt(v);
            return this;
        }

        public Out uint64(long v) {
            room(8);
            buf.putLong(v);
            return this;
        }

        public Out bool(boolean v) {
            return int32(v ? 1 : 0);
        }

        /** Fixed-length opaque data: the bytes and their padding, no length. */
        public Out fixed(byte[] v) {
            room(v.length + 3);
            buf.put(v);
            buf.put(new byte[pad(v.length)]);
            return this;
        }

        /** Variable-length opaque data: the length, the bytes, their padding. */
        public Out opaque(byte[] v) {
            int32(v.length);
            return fixed(v);
        }

        public Out string(String v) {
            return opaque(v.getBytes(StandardCharsets.UTF_8));
        }

        /** @return the bytes written so far, as a buffer to read (position 0) */
        public ByteBuffer toBuffer() {
            ByteBuffer b = buf.duplicate();
            b.flip();
            return b;
        }

        public int length() {
            return buf.position();
        }

        /** Overwrites a 4-byte unit written before, at byte {@code offset}. */
        public void setInt32(int offset, int v) {
            buf.putInt(offset, v);
        }
    }

    /** A decoder over a buffer holding one whole reply. */
    public static final class In {
        private final ByteBuffer buf;
        /**
         * The length of a variable-length opaque whose bytes the client read from the connection
         * straight into the caller's buffer ({@link RpcClient.Bulk}); -1 when there is none.
         */
        private int sunk = -1;

        public In(ByteBuffer buf) {
            this.buf = buf.slice().order(ByteOrder.BIG_ENDIAN);
        }

        /** A reply whose last item's bytes, {@code sunk} of them, are already in the caller's buffer. */
        In(ByteBuffer buf, int sunk) {
            this(buf);
            this.sunk = sunk;
        }

        /** @return how many bytes were decoded so far */
        int position() {
            return buf.position();
        }

        private void need(int n, String what) {
            if (n < 0 || buf.remaining() < n) {
                throw new XdrException("reply ends inside " + what + " (" + buf.remaining() + " bytes left, "
                        + n + " needed)");
            }
        }

        public int int32() {
            need(4, "a 4-byte unit");
            return buf.getInt();
        }

        /** @return the next 4-byte unit without consuming it */
        public int peekInt32() {
            need(4, "a 4-byte unit");
            return buf.getInt(buf.position());
        }

        /** An unsigned 32-bit value. */
        public long uint32() {
            return int32() & 0xffffffffL;
        }

        public long uint64() {
            need(8, "an 8-byte unit");
            return buf.getLong();
        }

        public boolean bool() {
            int v = int32();
            if (v != 0 && v != 1) {
                throw new XdrException("a boolean of value " + v);
            }
            return v == 1;
        }

        public byte[] fixed(int n) {
            need(n + pad(n), n + " bytes of opaque data");
            byte[] v = new byte[n];
            buf.get(v);
            buf.position(buf.position() + pad(n));
            return v;
        }

        /** Variable-length opaque data of at most {@code max} bytes. */
        public byte[] opaque(int max) {
            return fixed(length(max, "opaque data"));
        }

        public String string(int max) {
            return new String(opaque(max), StandardCharsets.UTF_8);
        }

        /**
         * Variable-length opaque data of at most {@code max} bytes, copied into {@code dst} (which
         * must have room for it).
         *
         * @return the number of bytes copied
         */
        public int opaqueInto(ByteBuffer dst, int max) {
            int n = length(max, "data");
            if (sunk >= 0) { // read by the client straight into dst, which it advanced
                if (n != sunk) {
                    throw new XdrException(n + " bytes of data where " + sunk + " were read");
                }
                sunk = -1;
                return n;
            }
            need(n + pad(n), n + " bytes of data");
            if (n > dst.remaining()) {
                throw new XdrException(n + " bytes of data where " + dst.remaining() + " were asked for");
            }
            ByteBuffer src = buf.duplicate();
            src.limit(src.position() + n);
            dst.put(src);
            buf.position(buf.position() + n + pad(n));
            return n;
        }

        private int length(int max, String what) {
            long n = uint32();
            if (n > max) {
                throw new XdrException("a length of " + n + " for " + what + " (at most " + max + ")");
            }
            return (int) n;
        }

        public void skip(int n) {
            need(n, n + " bytes");
            buf.position(buf.position() + n);
        }

        public int remaining() {
            return buf.remaining();
        }

        @Override
        public String toString() {
            byte[] head = new byte[Math.min(32, buf.remaining())];
            buf.duplicate().get(head);
            return "XDR(" + buf.remaining() + " bytes left: " + Arrays.toString(head) + "...)";
        }
    }
}
