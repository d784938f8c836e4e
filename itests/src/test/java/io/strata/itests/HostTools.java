package io.strata.itests;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Host tools (tar, qemu-img, losetup) run from the tests, in the test JVM or in the container. */
final class HostTools {
    private HostTools() {
    }

    /** Runs a tool and returns its output (stdout and stderr); fails on a non-zero exit. */
    static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + command);
        }
        if (p.exitValue() != 0) {
            throw new IOException(command + " exited with " + p.exitValue() + ": " + out.trim());
        }
        return out;
    }

    /** A tool's exit status and output. */
    record Result(int exit, String out) {
    }

    /** Runs a tool and returns its exit status and output (stdout and stderr), whatever the status. */
    static Result result(List<String> command, java.time.Duration timeout) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + command);
        }
        return new Result(p.exitValue(), out);
    }

    /** Removes a directory and what is in it; nothing when it is not there. */
    static void deleteTree(java.nio.file.Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<java.nio.file.Path> walk = Files.walk(root)) {
            for (java.nio.file.Path p : (Iterable<java.nio.file.Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Whether a tool is on the PATH or in an sbin directory. */
    static boolean has(String name) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        return Stream.of((path + ":/usr/sbin:/sbin").split(File.pathSeparator))
                .anyMatch(dir -> Files.isExecutable(Paths.get(dir, name)));
    }
}
