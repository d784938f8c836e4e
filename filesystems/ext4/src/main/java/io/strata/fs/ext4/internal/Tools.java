package io.strata.fs.ext4.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs the e2fsprogs and util-linux tools. Karaf is often started without
 * /usr/sbin on its PATH, so the sbin directories are searched as well.
 */
class Tools {
    /** Which Debian package provides each tool, for the "install it" message. */
    static final Map<String, String> PACKAGES = Map.of("mkfs.ext4", "e2fsprogs", "debugfs", "e2fsprogs",
            "blkid", "util-linux", "losetup", "mount", "mount", "mount", "umount", "mount");

    /** The outcome of one run. */
    record Result(int exit, String out, String err) {
        /** @return stderr, or stdout when stderr is empty, on one line */
        String message() {
            String m = err.isBlank() ? out : err;
            return m.strip().replaceAll("\\s*\\n\\s*", "; ");
        }
    }

    private final List<Path> searchPath;

    Tools() {
        this(defaultSearchPath());
    }

    Tools(List<Path> searchPath) {
        this.searchPath = List.copyOf(searchPath);
    }

    private static List<Path> defaultSearchPath() {
        Set<Path> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(File.pathSeparator)) {
                if (!d.isEmpty()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        for (String d : List.of("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            dirs.add(Path.of(d));
        }
        return new ArrayList<>(dirs);
    }

    /** @return the executable, or {@code EXTERNAL_TOOL_FAILED} naming the package to install */
    Path find(String tool) {
        for (Path d : searchPath) {
            Path p = d.resolve(tool);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p;
            }
        }
        throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED, tool + " is not installed; install the "
                + PACKAGES.getOrDefault(tool, tool) + " package (apt-get install " + PACKAGES.getOrDefault(tool, tool) + ")");
    }

    /** Runs a tool and returns whatever it exits with. */
    Result run(Duration timeout, String tool, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(find(tool).toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("LC_ALL", "C"); // messages we match on and show must not be translated
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED, "cannot run " + tool + ": " + e.getMessage(), e);
        }
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED,
                        tool + " did not finish within " + timeout.toSeconds() + " s: " + String.join(" ", cmd));
            }
            return new Result(p.exitValue(), out.get(), err.get());
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED, tool + " was interrupted", e);
        } catch (ExecutionException e) {
            throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED, "cannot read the output of " + tool, e);
        }
    }

    /** Runs a tool and fails with {@code EXTERNAL_TOOL_FAILED}, carrying its stderr, unless it exits 0. */
    Result require(Duration timeout, String what, String tool, String... args) {
        Result r = run(timeout, tool, args);
        if (r.exit() != 0) {
            throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED,
                    what + ": " + tool + " exited with " + r.exit() + ": " + r.message());
        }
        return r;
    }

    private static String drain(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
