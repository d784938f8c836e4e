package io.strata.fc.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.multipath.Multipath;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The attach parameters of an {@code fc} resource, checked; every error names the parameter.
 *
 * @param sysfs where sysfs is mounted ({@code sysfs}, default {@code /sys})
 * @param dev where the disk nodes are ({@code dev}, default {@code /dev})
 * @param hosts the HBA ports to use ({@code host}, e.g. {@code host3,host5}); empty for all
 * @param multipath the parameters for {@link Multipath}: all of them, as given (it ignores the
 *        driver's own)
 */
record FcParams(Path sysfs, Path dev, Set<String> hosts, Map<String, String> multipath) {
    static final String SYSFS = "sysfs";
    static final String DEV = "dev";
    static final String HOST = "host";
    /** The driver's own parameters, name to description. */
    static final Map<String, String> OWN;
    private static final Pattern HOST_NAME = Pattern.compile("(?:host)?(\\d{1,9})");

    static {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(SYSFS, "where sysfs is mounted (default /sys); tests point it at a fake tree");
        m.put(DEV, "where the disks' device nodes are (default /dev)");
        m.put(HOST, "comma-separated HBA ports to use, e.g. host3,host5 (default: every FC HBA port)");
        OWN = Collections.unmodifiableMap(m);
    }

    /**
     * @param resource the resource name, for messages
     * @param parameters what the user gave
     * @return the checked parameters
     * @throws StorageException {@code INVALID_ARGUMENT} naming the parameter
     */
    static FcParams parse(String resource, Map<String, String> parameters) {
        knownOnly(resource, parameters.keySet(), OWN.keySet());
        Multipath.validate(parameters);
        return new FcParams(path(resource, parameters, SYSFS, "/sys"), path(resource, parameters, DEV, "/dev"),
                hosts(resource, parameters.get(HOST)), new LinkedHashMap<>(parameters));
    }

    /**
     * Refuses parameters neither the driver nor the multipath layer knows, so that a typo
     * never goes unnoticed (the multipath layer itself ignores what is not its own).
     *
     * @param resource the resource name, for messages
     * @param keys the parameters given
     * @param own the driver's parameters allowed here
     */
    static void knownOnly(String resource, Set<String> keys, Set<String> own) {
        for (String k : keys) {
            if (!own.contains(k) && !Multipath.PARAMETERS.containsKey(k)) {
                Set<String> known = new TreeSet<>(own);
                known.addAll(Multipath.PARAMETERS.keySet());
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource + ": unknown parameter '"
                        + Names.printable(String.valueOf(k)) + "' (known: " + String.join(", ", known) + ")");
            }
        }
    }

    private static Path path(String resource, Map<String, String> parameters, String key, String dflt) {
        String v = parameters.get(key);
        if (v == null || v.isBlank()) {
            return Path.of(dflt);
        }
        try {
            Path p = Path.of(v.trim());
            if (!p.isAbsolute()) {
                throw invalid(resource, key, "must be an absolute path, not '" + Names.printable(v) + "'");
            }
            return p.normalize();
        } catch (InvalidPathException e) {
            throw invalid(resource, key, "is not a valid path: '" + Names.printable(v) + "'");
        }
    }

    /** @return {@code host3,5} as {@code [host3, host5]} */
    static Set<String> hosts(String resource, String value) {
        Set<String> hosts = new LinkedHashSet<>();
        if (value == null || value.isBlank()) {
            return Set.of();
        }
        for (String part : value.split(",")) {
            String h = part.trim();
            Matcher m = HOST_NAME.matcher(h);
            if (!m.matches()) {
                throw invalid(resource, HOST, "names HBA ports as host3,host5; '" + Names.printable(h)
                        + "' is not one");
            }
            hosts.add("host" + Integer.parseInt(m.group(1)));
        }
        return Set.copyOf(hosts);
    }

    static StorageException invalid(String resource, String parameter, String problem) {
        return new StorageException(ErrorCode.INVALID_ARGUMENT,
                "resource " + resource + ": parameter '" + parameter + "' " + problem);
    }
}
