package io.strata.iscsi.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.multipath.Multipath;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * The parameters of an iscsi resource, validated. Every error names the parameter; a secret's
 * value never appears in a message or in {@link #toString()}.
 *
 * @param portals the portals, {@code host:port} each, in the order given
 * @param target the only target to use, or null for every target discovered
 * @param chapUser the CHAP user, or null
 * @param chapSecret the CHAP secret, or null
 * @param initiator this host's initiator IQN
 * @param timeoutSeconds the time limit of a login or a command
 */
record IscsiParams(List<String> portals, String target, String chapUser, String chapSecret, String initiator,
        int timeoutSeconds) {
    static final int DEFAULT_PORT = 3260;
    static final int DEFAULT_TIMEOUT = 30;
    static final int MAX_TIMEOUT = 3600;

    /** The driver's own parameters, name to description (the multipath ones are added by the driver). */
    static final Map<String, String> OWN;

    static {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("portal", "comma-separated portals ip[:port] (default port " + DEFAULT_PORT
                + "); SendTargets discovery runs on each, and each is a path to every LUN found there");
        m.put("target", "only this target IQN (default: every target the portals report)");
        m.put("chap-user", "CHAP user name (together with chap-secret)");
        m.put("chap-secret", "CHAP secret (together with chap-user); never shown");
        m.put("initiator", "this host's initiator IQN (default iqn.2024-01.io.strata:<hostname>)");
        m.put("timeout", "time limit of a login or a SCSI command in seconds; one that exceeds it fails the path "
                + "(default " + DEFAULT_TIMEOUT + ", 1 to " + MAX_TIMEOUT + ")");
        OWN = Collections.unmodifiableMap(m);
    }

    @Override
    public String toString() {
        return "IscsiParams[portals=" + portals + ", target=" + target + ", chap-user=" + chapUser
                + ", chap-secret=" + (chapSecret == null ? "null" : "********") + ", initiator=" + initiator
                + ", timeout=" + timeoutSeconds + "]";
    }

    /**
     * @param resource the resource name, for messages
     * @param values the attach parameters
     * @return them validated
     * @throws StorageException {@code INVALID_ARGUMENT} naming the bad parameter
     */
    static IscsiParams parse(String resource, Map<String, String> values) {
        for (String k : values.keySet()) {
            if (!OWN.containsKey(k) && !Multipath.PARAMETERS.containsKey(k)) {
                TreeSet<String> known = new TreeSet<>(OWN.keySet());
                known.addAll(Multipath.PARAMETERS.keySet());
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource + ": unknown parameter '"
                        + Names.printable(k) + "' (known: " + String.join(", ", known) + ")");
            }
        }
        String portalValue = get(values, "portal");
        if (portalValue == null) {
            throw invalid(resource, "portal", "is required: portal=<ip[:port]>[,<ip[:port]>...]");
        }
        List<String> portals = new ArrayList<>();
        for (String p : portalValue.split(",")) {
            if (!p.isBlank()) {
                String portal = portal(resource, p.trim());
                if (!portals.contains(portal)) {
                    portals.add(portal);
                }
            }
        }
        if (portals.isEmpty()) {
            throw invalid(resource, "portal", "names no portal");
        }
        String target = get(values, "target");
        if (target != null && !target.matches("(iqn\\.|eui\\.|naa\\.)[\\x21-\\x7e]+")) {
            throw invalid(resource, "target", "must be an iSCSI name (iqn., eui. or naa.), not '"
                    + Names.printable(target) + "'");
        }
        String user = get(values, "chap-user");
        String secret = values.get("chap-secret") == null || values.get("chap-secret").isEmpty()
                ? null : values.get("chap-secret");
        if ((user == null) != (secret == null)) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + resource
                    + ": parameters 'chap-user' and 'chap-secret' go together: give both or neither");
        }
        String initiator = get(values, "initiator");
        if (initiator == null) {
            initiator = "iqn.2024-01.io.strata:" + hostname();
        } else if (!initiator.matches("(iqn\\.|eui\\.|naa\\.)[\\x21-\\x7e]+")) {
            throw invalid(resource, "initiator", "must be an iSCSI name (iqn., eui. or naa.), not '"
                    + Names.printable(initiator) + "'");
        }
        int timeout = DEFAULT_TIMEOUT;
        String t = get(values, "timeout");
        if (t != null) {
            try {
                timeout = Integer.parseInt(t);
            } catch (NumberFormatException e) {
                throw invalid(resource, "timeout", "must be a number of seconds, not '" + Names.printable(t) + "'");
            }
            if (timeout < 1 || timeout > MAX_TIMEOUT) {
                throw invalid(resource, "timeout", "must be between 1 and " + MAX_TIMEOUT + " seconds, not " + timeout);
            }
        }
        return new IscsiParams(List.copyOf(portals), target, user, secret, initiator, timeout);
    }

    /** @return {@code host:port} of {@code ip}, {@code ip:port}, {@code [v6]} or {@code [v6]:port} */
    static String portal(String resource, String p) {
        String host;
        String port = null;
        if (p.startsWith("[")) {
            int close = p.indexOf(']');
            if (close < 0) {
                throw invalid(resource, "portal", "'" + Names.printable(p) + "' lacks a ']'");
            }
            host = p.substring(0, close + 1);
            String rest = p.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw invalid(resource, "portal", "'" + Names.printable(p) + "' is not ip[:port]");
                }
                port = rest.substring(1);
            }
        } else {
            int colon = p.lastIndexOf(':');
            if (colon >= 0 && p.indexOf(':') != colon) {
                throw invalid(resource, "portal", "IPv6 address '" + Names.printable(p) + "' must be in [brackets]");
            }
            host = colon < 0 ? p : p.substring(0, colon);
            port = colon < 0 ? null : p.substring(colon + 1);
        }
        if (host.isEmpty() || host.equals("[]") || !host.matches("[A-Za-z0-9.\\-\\[\\]:]+")) {
            throw invalid(resource, "portal", "'" + Names.printable(p) + "' names no host");
        }
        int n = DEFAULT_PORT;
        if (port != null) {
            try {
                n = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 1 || n > 65535) {
                throw invalid(resource, "portal", "'" + Names.printable(p) + "' has a bad port");
            }
        }
        return host + ":" + n;
    }

    private static String hostname() {
        try {
            String h = InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT);
            return h.replaceAll("[^a-z0-9.\\-]", "-");
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    private static String get(Map<String, String> values, String key) {
        String v = values.get(key);
        return v == null || v.isBlank() ? null : v.trim();
    }

    private static StorageException invalid(String resource, String parameter, String problem) {
        return new StorageException(ErrorCode.INVALID_ARGUMENT,
                "resource " + resource + ": parameter '" + parameter + "' " + problem);
    }

    /** Session settings for discovery on one portal. */
    Session.Config discovery(String portal) {
        return new Session.Config(portal, null, initiator, chapUser, chapSecret, timeoutSeconds);
    }
}
