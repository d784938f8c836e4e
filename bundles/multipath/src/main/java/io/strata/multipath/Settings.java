package io.strata.multipath;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The multipath parameters of one resource, parsed.
 *
 * @param policy the path selection policy
 * @param preferred the preferred path ids of {@link Policy#FIXED} (at most one per device), possibly empty
 * @param failback {@link #FAILBACK_IMMEDIATE}, {@link #FAILBACK_MANUAL} or a delay in nanoseconds
 * @param noPathRetry how long I/O queues when no path is usable, in nanoseconds
 * @param checkerInterval nanoseconds between checker rounds
 */
record Settings(Policy policy, List<String> preferred, long failback, long noPathRetry, long checkerInterval) {
    /** {@code failback} value: move back at once. */
    static final long FAILBACK_IMMEDIATE = 0;
    /** {@code failback} value: move back only on request. */
    static final long FAILBACK_MANUAL = -1;

    static final String POLICY = "policy";
    static final String PREFERRED = "preferred";
    static final String FAILBACK = "failback";
    static final String NO_PATH_RETRY = "no-path-retry";
    static final String CHECKER_INTERVAL = "checker-interval";

    /** Largest accepted {@code failback} delay and {@code no-path-retry}, in seconds (one day). */
    static final long MAX_SECONDS = 86_400;
    /** Largest accepted {@code checker-interval}, in seconds. */
    static final long MAX_INTERVAL = 3_600;
    /** Longest a path check may take before it counts as failed, whatever the interval. */
    static final long MAX_CHECK_TIME = TimeUnit.SECONDS.toNanos(10);

    /** The defaults: service-time, failback immediate, 30 s no-path-retry, checker every 5 s. */
    static final Settings DEFAULTS = new Settings(Policy.SERVICE_TIME, List.of(), FAILBACK_IMMEDIATE,
            TimeUnit.SECONDS.toNanos(30), TimeUnit.SECONDS.toNanos(5));

    /** Parameter name to description, in the order users read them. */
    static final Map<String, String> DESCRIPTIONS = descriptions();

    Settings {
        preferred = List.copyOf(preferred);
    }

    private static Map<String, String> descriptions() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(POLICY, "path selection: round-robin, queue-length, service-time (default), mru or fixed");
        m.put(PREFERRED, "for policy fixed: the preferred path id (comma-separated, one per device);"
                + " default the lowest path id of each device");
        m.put(FAILBACK, "when a better path returns: immediate (default), manual, or a number of seconds"
                + " it must stay up first");
        m.put(NO_PATH_RETRY, "seconds I/O waits for a path when none is usable before failing (default 30,"
                + " 0 fails at once)");
        m.put(CHECKER_INTERVAL, "seconds between path checks (default 5, at least 1)");
        return Collections.unmodifiableMap(m);
    }

    /** @return the time limit of one path check: twice the checker interval, at most 10 s */
    long checkTimeLimit() {
        return Math.min(MAX_CHECK_TIME, 2 * checkerInterval);
    }

    /**
     * @param changes parameters; those that are not multipath's are ignored
     * @return these settings with the multipath parameters among {@code changes} applied
     * @throws StorageException INVALID_ARGUMENT naming the first bad parameter and the allowed values
     */
    Settings with(Map<String, String> changes) {
        if (changes == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath parameters must not be null");
        }
        Policy newPolicy = policy;
        List<String> newPreferred = preferred;
        long newFailback = failback;
        long newNoPathRetry = noPathRetry;
        long newInterval = checkerInterval;
        if (changes.containsKey(POLICY)) {
            String v = value(changes, POLICY);
            newPolicy = Policy.of(v.trim());
            if (newPolicy == null) {
                throw invalid(POLICY, v, "is not one of " + Arrays.stream(Policy.values()).map(Policy::value)
                        .collect(Collectors.joining(", ")));
            }
        }
        if (changes.containsKey(PREFERRED)) {
            newPreferred = parsePreferred(value(changes, PREFERRED));
        }
        if (changes.containsKey(FAILBACK)) {
            String v = value(changes, FAILBACK);
            if (v.trim().equals("immediate")) {
                newFailback = FAILBACK_IMMEDIATE;
            } else if (v.trim().equals("manual")) {
                newFailback = FAILBACK_MANUAL;
            } else {
                newFailback = nanos(FAILBACK, v, 1, MAX_SECONDS, "is not immediate, manual or ");
            }
        }
        if (changes.containsKey(NO_PATH_RETRY)) {
            String v = value(changes, NO_PATH_RETRY);
            newNoPathRetry = nanos(NO_PATH_RETRY, v, 0, MAX_SECONDS, "is not ");
        }
        if (changes.containsKey(CHECKER_INTERVAL)) {
            String v = value(changes, CHECKER_INTERVAL);
            newInterval = nanos(CHECKER_INTERVAL, v, 1, MAX_INTERVAL, "is not ");
        }
        return new Settings(newPolicy, newPreferred, newFailback, newNoPathRetry, newInterval);
    }

    private static String value(Map<String, String> m, String name) {
        String v = m.get(name);
        if (v == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath parameter " + name + " has no value");
        }
        return v;
    }

    private static List<String> parsePreferred(String v) {
        List<String> ids = new ArrayList<>();
        for (String part : v.split(",", -1)) {
            String id = part.trim();
            if (id.isEmpty() || id.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
                throw invalid(PREFERRED, v, "is not a path id or a comma-separated list of path ids"
                        + " (non-empty, without spaces)");
            }
            ids.add(id);
        }
        return ids;
    }

    /**
     * @param not the start of the message for a bad value, up to "a whole number of seconds"
     * @return the value, whole seconds from min to max, in nanoseconds
     * @throws StorageException {@code INVALID_ARGUMENT} naming the parameter and the range
     */
    private static long nanos(String name, String value, long min, long max, String not) {
        long s = seconds(value, min, max);
        if (s < 0) {
            throw invalid(name, value, not + "a whole number of seconds from " + min + " to " + max);
        }
        return TimeUnit.SECONDS.toNanos(s);
    }

    /** @return the whole number of seconds {@code value} holds within [min, max], or -1 */
    private static long seconds(String value, long min, long max) {
        String v = value.trim();
        if (v.isEmpty() || v.length() > 9 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return -1;
        }
        long s = Long.parseLong(v);
        return s < min || s > max ? -1 : s;
    }

    private static StorageException invalid(String name, String value, String what) {
        return new StorageException(ErrorCode.INVALID_ARGUMENT,
                "multipath parameter " + name + ": '" + value + "' " + what);
    }

    /** @return the failback setting as its parameter value */
    String failbackValue() {
        if (failback == FAILBACK_IMMEDIATE) {
            return "immediate";
        }
        return failback == FAILBACK_MANUAL ? "manual" : Long.toString(TimeUnit.NANOSECONDS.toSeconds(failback));
    }
}
