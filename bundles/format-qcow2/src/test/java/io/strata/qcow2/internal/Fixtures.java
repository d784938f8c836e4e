package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import io.strata.testing.MemoryFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Shared helpers: in-memory and directory resolvers, tools, reading a whole disk. */
final class Fixtures {
    private Fixtures() {
    }

    /** A flat in-memory "datastore": parents are handed out as read-only copies. */
    static final class MemoryStore implements BackingResolver {
        final Map<String, MemoryFile> files = new HashMap<>();

        MemoryFile file(String name) {
            return files.computeIfAbsent(name, MemoryFile::new);
        }

        @Override
        public io.strata.api.fs.DatastoreFile openBacking(String fileName) {
            MemoryFile f = files.get(fileName);
            if (f == null) {
                throw new StorageException(ErrorCode.CHAIN_BROKEN, "no file '" + fileName + "'");
            }
            return f.readOnlyCopy();
        }
    }

    /** Resolves names in one local directory, read-only. */
    static BackingResolver dir(Path dir) {
        return name -> {
            Path p = dir.resolve(name);
            if (!Files.exists(p)) {
                throw new StorageException(ErrorCode.CHAIN_BROKEN, "no file '" + name + "'");
            }
            return LocalFile.open(p, false);
        };
    }

    static byte[] readAll(VirtualDisk d) {
        byte[] out = new byte[Math.toIntExact(d.virtualSize())];
        d.read(ByteBuffer.wrap(out), 0);
        return out;
    }

    static boolean haveQemu() {
        return Files.isExecutable(Path.of("/usr/bin/qemu-img")) && Files.isExecutable(Path.of("/usr/bin/qemu-io"));
    }

    /** Runs a tool; returns exit status and output. */
    static Result exec(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "timeout: " + String.join(" ", cmd));
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    record Result(int status, String output) {
    }

    static String run(String... cmd) {
        Result r = exec(cmd);
        assertEquals(0, r.status(), String.join(" ", cmd) + " failed:\n" + r.output());
        return r.output();
    }

    /** qemu-img check must report neither corruptions nor leaks. */
    static void assertQemuCheckClean(Path image) {
        Result r = exec("qemu-img", "check", "-f", "qcow2", image.toString());
        assertEquals(0, r.status(), "qemu-img check " + image + ":\n" + r.output());
        assertTrue(r.output().contains("No errors were found"), r.output());
    }
}
