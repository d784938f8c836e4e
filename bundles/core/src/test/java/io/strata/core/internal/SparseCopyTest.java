package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.fs.DatastoreFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SparseCopyTest {
    @TempDir
    Path tmp;

    /** Records writes into a byte array. */
    static final class Recorder implements DatastoreFile {
        final List<long[]> writes = new ArrayList<>();
        byte[] content = new byte[0];

        @Override public String name() { return "rec"; }
        @Override public boolean writable() { return true; }
        @Override public long size() { return content.length; }
        @Override public long allocatedBytes() { return 0; }
        @Override public int read(ByteBuffer dst, long position) { return 0; }
        @Override public void write(ByteBuffer src, long position) {
            int n = src.remaining();
            writes.add(new long[] {position, n});
            if (content.length < position + n) {
                content = java.util.Arrays.copyOf(content, (int) position + n);
            }
            src.get(content, (int) position, n);
        }
        @Override public void setSize(long size) { content = java.util.Arrays.copyOf(content, (int) size); }
        @Override public void allocate(long position, long length) { }
        @Override public void punchHole(long position, long length) { }
        @Override public void flush() { }
        @Override public AutoCloseable lock(boolean exclusive) { return () -> { }; }
        @Override public Optional<Path> localPath() { return Optional.empty(); }
        @Override public void close() { }
    }

    @Test
    void zeroChunksAreLeftAsHoles() throws IOException {
        int chunk = SparseCopy.CHUNK;
        byte[] image = new byte[chunk * 5 + 1000];
        image[10] = 1;                  // chunk 0
        image[chunk * 3 + 5] = 2;       // chunk 3
        image[image.length - 1] = 3;    // the short last chunk
        Path src = tmp.resolve("img");
        Files.write(src, image, StandardOpenOption.CREATE_NEW);
        Recorder r = new Recorder();
        long written = SparseCopy.copy(src, r);
        assertEquals(3, r.writes.size());
        assertEquals(0, r.writes.get(0)[0]);
        assertEquals(chunk * 3L, r.writes.get(1)[0]);
        assertEquals(chunk * 5L, r.writes.get(2)[0]);
        assertEquals(chunk * 2L + 1000, written);
        assertArrayEquals(image, r.content);
    }

    @Test
    void anAllZeroImageWritesNothingButKeepsItsSize() throws IOException {
        Path src = tmp.resolve("zeros");
        Files.write(src, new byte[SparseCopy.CHUNK * 3]);
        Recorder r = new Recorder();
        assertEquals(0, SparseCopy.copy(src, r));
        assertEquals(0, r.writes.size());
        assertEquals(SparseCopy.CHUNK * 3, r.content.length);
    }
}
