package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.Sizes;
import io.strata.api.StorageException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Reads and validates attach parameters; every error names the parameter. */
final class Params {
    private final Map<String, String> values;
    private final String resource;

    Params(String resource, Map<String, String> values) {
        this.resource = resource;
        this.values = values;
    }

    static StorageException invalid(String resource, String parameter, String problem) {
        return new StorageException(ErrorCode.INVALID_ARGUMENT,
                "resource " + resource + ": parameter '" + parameter + "' " + problem);
    }

    StorageException invalid(String parameter, String problem) {
        return invalid(resource, parameter, problem);
    }

    /** Refuses parameters this kind does not know, so a typo never goes unnoticed. */
    void allowOnly(String kind, Set<String> known) {
        for (String k : values.keySet()) {
            if (!known.contains(k)) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource + ": unknown parameter '"
                        + Names.printable(k) + "' for kind=" + kind + " (known: " + String.join(", ", new TreeSet<>(known)) + ")");
            }
        }
    }

    String get(String key) {
        String v = values.get(key);
        return v == null || v.isBlank() ? null : v.trim();
    }

    Path absolutePath(String key) {
        String v = get(key);
        if (v == null) {
            throw invalid(key, "is required");
        }
        try {
            Path p = Path.of(v);
            if (!p.isAbsolute()) {
                throw invalid(key, "must be an absolute path, not '" + Names.printable(v) + "'");
            }
            return p.normalize();
        } catch (InvalidPathException e) {
            throw invalid(key, "is not a valid path: '" + Names.printable(v) + "'");
        }
    }

    boolean bool(String key, boolean dflt) {
        String v = get(key);
        if (v == null) {
            return dflt;
        }
        switch (v.toLowerCase(Locale.ROOT)) {
            case "true":
            case "yes":
                return true;
            case "false":
            case "no":
                return false;
            default:
                throw invalid(key, "must be true or false, not '" + Names.printable(v) + "'");
        }
    }

    /** The longest time limit accepted for one I/O: a day. */
    static final long MAX_TIMEOUT_MS = 24L * 3600 * 1000;

    /** @return the block device I/O options: {@code direct} and {@code io.timeout.ms} */
    IoOptions io() {
        boolean direct = bool("direct", false);
        long timeout = 0;
        String v = get("io.timeout.ms");
        if (v != null) {
            try {
                timeout = Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw invalid("io.timeout.ms", "must be a number of milliseconds, not '" + Names.printable(v) + "'");
            }
            if (timeout < 0 || timeout > MAX_TIMEOUT_MS) {
                throw invalid("io.timeout.ms", "must be between 0 (no limit) and " + MAX_TIMEOUT_MS + " ms, not " + timeout);
            }
        }
        return new IoOptions(direct, timeout);
    }

    /** @return the size in bytes, or -1 when absent */
    long size(String key, int multipleOf) {
        String v = get(key);
        if (v == null) {
            return -1;
        }
        long n;
        try {
            n = Sizes.parse(v);
        } catch (StorageException e) {
            throw invalid(key, "is not a size: " + e.getMessage());
        }
        if (n <= 0 || n % multipleOf != 0) {
            throw invalid(key, "must be a positive multiple of " + multipleOf + " bytes, not " + n);
        }
        return n;
    }
}
