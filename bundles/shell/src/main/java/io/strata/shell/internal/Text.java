package io.strata.shell.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.Sizes;
import io.strata.api.StorageException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** How the commands render values, tables and {@code key: value} blocks. */
final class Text {
    private Text() {
    }

    /** Builds {@code key: value} lines, one per key, in insertion order. */
    static final class KeyValues {
        private final Map<String, String> lines = new LinkedHashMap<>();

        KeyValues put(String key, Object value) {
            lines.put(key, value == null ? "" : value.toString());
            return this;
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder();
            lines.forEach((k, v) -> b.append(k).append(": ").append(v).append('\n'));
            return b.toString();
        }
    }

    /** @return bytes in the short human form ({@code 10.0G}), or plain bytes when asked */
    static String size(long bytes, boolean plainBytes) {
        if (bytes < 0) {
            return "-";
        }
        return plainBytes ? Long.toString(bytes) : Sizes.human(bytes);
    }

    /** @return the ratio with two decimals, or {@code -} when the capacity is unknown */
    static String ratio(long provisioned, long capacity) {
        return capacity <= 0 ? "-" : String.format(Locale.ROOT, "%.2f", (double) provisioned / capacity);
    }

    /** @return the instant in ISO-8601 UTC to the second ({@code 2026-11-21T13:39:06Z}), or {@code -} for none */
    static String time(Instant t) {
        return t == null ? "-" : t.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    /** @return a fraction 0.0..1.0 as a whole percentage, rounded down so that 100 means done */
    static String percent(double fraction) {
        double p = Math.floor(fraction * 100);
        return Long.toString((long) Math.max(0, Math.min(100, Double.isNaN(p) ? 0 : p)));
    }

    /** @return {@code 1 error}, {@code 2 errors}: a count with its noun */
    static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    /** @return an enum constant as users type it: lower case, {@code -} for {@code _} */
    static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** @return capabilities in declaration order, as labels, comma separated */
    static String capabilities(Collection<Capability> caps) {
        return caps.stream().sorted().map(Text::label).collect(Collectors.joining(","));
    }

    /** @return {@code k=v} pairs sorted by key, comma separated */
    static String pairs(Map<String, String> map) {
        return new TreeMap<>(map).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(","));
    }

    /**
     * Parses {@code key=value} words.
     *
     * @param what what the words are, for the message ("parameter", "option")
     * @throws StorageException {@code INVALID_ARGUMENT} for a word without {@code =}, an empty key
     *         or a key given twice
     */
    static Map<String, String> parsePairs(String what, List<String> words) {
        Map<String, String> map = new LinkedHashMap<>();
        if (words == null) {
            return map;
        }
        for (String w : words) {
            int eq = w.indexOf('=');
            if (eq <= 0) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                        what + " '" + Names.printable(w) + "' is not of the form key=value");
            }
            String key = w.substring(0, eq);
            if (map.put(key, w.substring(eq + 1)) != null) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, what + " '" + Names.printable(key) + "' is given twice");
            }
        }
        return map;
    }
}
