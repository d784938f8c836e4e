package io.strata.core.internal;

import io.strata.api.format.Provisioning;
import java.nio.ByteBuffer;

final class TestImages {
    private TestImages() {
    }

    /** A valid "tst" image of that virtual size, with a few data bytes. */
    static byte[] tst(int virtualSize) {
        ByteBuffer b = ByteBuffer.allocate(TestFormat.HEADER + virtualSize);
        b.put(TestFormat.MAGIC).putLong(virtualSize).put((byte) Provisioning.THIN.ordinal());
        b.put(TestFormat.HEADER + 100, (byte) 42);
        b.put(TestFormat.HEADER + virtualSize - 1, (byte) 7);
        return b.array();
    }
}
