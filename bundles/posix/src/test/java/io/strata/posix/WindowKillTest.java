package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes through windows survive a kill -9 of their process: a child JVM
 * ({@link WindowKillWriter}) writes 1 MiB slots through windows, flushing after each, and is
 * killed at a moment that differs each round. Every slot then holds its last flushed write
 * (the one write that may have been under way is left out). A private mapping, whose pages
 * are the process's own copies, would lose them all.
 */
class WindowKillTest {
    @TempDir
    Path dir;

    @Test
    void flushedWindowWritesSurviveAKill() throws Exception {
        Path image = dir.resolve("image");
        Path source = dir.resolve("source");
        Path progress = dir.resolve("progress");
        try (FileChannel c = FileChannel.open(image, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.allocate(WindowKillWriter.SLOT * WindowKillWriter.SLOTS), 0); // allocated
        }
        Files.write(source, new byte[WindowKillWriter.SLOT]);
        for (int round = 0; round < 4; round++) {
            try (RandomAccessFile p = new RandomAccessFile(progress.toFile(), "rw")) {
                p.setLength(0);
            }
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process child = new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"),
                    WindowKillWriter.class.getName(), image.toString(), source.toString(), progress.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                // let it get well into its writes: at least 20 flushed, plus a round-dependent delay
                while (flushed(progress) < 20 + 10 * round) {
                    assertTrue(child.isAlive(), () -> "the writer ended: " + log());
                    assertTrue(System.nanoTime() < deadline, "the writer made no progress in 60 s: " + log());
                    Thread.sleep(5);
                }
                Thread.sleep(37L * round);
            } finally {
                child.destroyForcibly(); // SIGKILL
                child.waitFor(30, TimeUnit.SECONDS);
            }
            int last = flushed(progress);
            try (FileChannel c = FileChannel.open(image)) {
                for (int slot = 0; slot < WindowKillWriter.SLOTS; slot++) {
                    int latest = last - Math.floorMod(last - slot, WindowKillWriter.SLOTS);
                    if (latest < 0 || slot == (last + 1) % WindowKillWriter.SLOTS) {
                        continue; // never written this round, or the write that may have been under way
                    }
                    ByteBuffer b = ByteBuffer.allocate(WindowKillWriter.SLOT);
                    c.read(b, (long) slot * WindowKillWriter.SLOT);
                    assertArrayEquals(WindowKillWriter.pattern(latest), b.array(),
                            "round " + round + ": slot " + slot + " lost flushed write " + latest + " (last flushed " + last + ")");
                }
            }
        }
    }

    private static int flushed(Path progress) throws Exception {
        try (RandomAccessFile p = new RandomAccessFile(progress.toFile(), "r")) {
            return p.length() < 4 ? -1 : p.readInt();
        }
    }

    private String log() {
        try {
            return Files.readString(dir.resolve("child.log"));
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
