package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The core's settings, resolved: placeholders replaced, paths absolute.
 *
 * @param defaultEnabled whether the embedded default datastore is made on first start
 * @param defaultName name of the default resource and datastore
 * @param defaultPath directory of the default datastore
 * @param stateDir where the core keeps its own small state (the embedded-default marker)
 * @param chainMax the most images in a volume's chain, 1 to {@value #CHAIN_LIMIT}
 * @param hostName this host's name on shared datastores, empty for the hostname
 * @param lease lease timing on shared datastores
 * @param retryMillis how often resources that failed to attach and datastores that failed to
 *        mount are tried again, 0 for only when a plugin or the configuration changes
 */
record CoreSettings(boolean defaultEnabled, String defaultName, Path defaultPath, Path stateDir, int chainMax,
        String hostName, io.strata.lease.LeaseSettings lease, long retryMillis) {
    /** The default of {@link #retryMillis} in the OSGi configuration. */
    static final long RETRY_MILLIS = 10_000;

    /** The hard chain limit: what VHD and qcow2 chains are tested to. */
    static final int CHAIN_LIMIT = 32;
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\\\?\\{([^}]+)}");

    CoreSettings {
        requireNonNull(hostName, "hostName");
        requireNonNull(lease, "lease");
        requireNonNull(defaultName, "defaultName");
        requireNonNull(defaultPath, "defaultPath");
        requireNonNull(stateDir, "stateDir");
        if (chainMax > CHAIN_LIMIT) {
            org.slf4j.LoggerFactory.getLogger(CoreSettings.class).warn(
                    "chain.max {} is above the limit; using {}", chainMax, CHAIN_LIMIT);
            chainMax = CHAIN_LIMIT;
        }
        if (chainMax < 1) {
            chainMax = 1;
        }
        if (retryMillis < 0) {
            retryMillis = 0;
        } else if (retryMillis > 0 && retryMillis < 500) {
            retryMillis = 500; // a floor: each try may contact a server
        }
    }

    CoreSettings(boolean defaultEnabled, String defaultName, Path defaultPath, Path stateDir) {
        this(defaultEnabled, defaultName, defaultPath, stateDir, CHAIN_LIMIT);
    }

    CoreSettings(boolean defaultEnabled, String defaultName, Path defaultPath, Path stateDir, int chainMax) {
        // no timed retries: a test asks for them with withRetry
        this(defaultEnabled, defaultName, defaultPath, stateDir, chainMax, "", io.strata.lease.LeaseSettings.DEFAULTS,
                0);
    }

    /** @return these settings with other lease timing (tests use short ones) */
    CoreSettings withLease(io.strata.lease.LeaseSettings l, String host) {
        return new CoreSettings(defaultEnabled, defaultName, defaultPath, stateDir, chainMax, host, l, retryMillis);
    }

    /** @return these settings with another retry interval (tests) */
    CoreSettings withRetry(long millis) {
        return new CoreSettings(defaultEnabled, defaultName, defaultPath, stateDir, chainMax, hostName, lease, millis);
    }

    static CoreSettings from(CoreConfig config) {
        return new CoreSettings(config.default_datastore_enabled(), config.default_datastore_name(),
                Path.of(resolve(config.default_datastore_path())).toAbsolutePath().normalize(),
                dataDir().resolve("strata"), config.chain_max(), config.host_name().trim(),
                leaseSettings(config), config.retry_ms());
    }

    private static io.strata.lease.LeaseSettings leaseSettings(CoreConfig config) {
        try {
            return new io.strata.lease.LeaseSettings(java.time.Duration.ofMillis(config.lease_renewal_ms()),
                    java.time.Duration.ofMillis(config.lease_expiry_ms()),
                    java.time.Duration.ofMillis(config.lease_io_timeout_ms()));
        } catch (IllegalArgumentException e) {
            org.slf4j.LoggerFactory.getLogger(CoreSettings.class).error(
                    "lease settings refused ({}); using the defaults", e.getMessage());
            return io.strata.lease.LeaseSettings.DEFAULTS;
        }
    }

    /** @return Karaf's data directory, or java.io.tmpdir/strata outside Karaf */
    static Path dataDir() {
        String data = System.getProperty("karaf.data");
        if (data == null || data.isBlank()) {
            return Path.of(System.getProperty("java.io.tmpdir"), "strata").toAbsolutePath();
        }
        return Path.of(data).toAbsolutePath();
    }

    /** Replaces {@code ${name}} with the system property; {@code karaf.data} falls back as {@link #dataDir}. */
    static String resolve(String text) {
        Matcher m = PLACEHOLDER.matcher(text);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String key = m.group(1);
            String value = "karaf.data".equals(key) ? dataDir().toString() : System.getProperty(key, "");
            m.appendReplacement(b, Matcher.quoteReplacement(value));
        }
        m.appendTail(b);
        return b.toString();
    }
}
