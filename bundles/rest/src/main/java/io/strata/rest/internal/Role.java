package io.strata.rest.internal;

import java.util.Collection;
import java.util.Locale;

/**
 * What a caller may do. Each role includes the ones before it: a viewer reads; an operator
 * also changes volumes, snapshots, clones, exports and QoS; an admin also changes resources,
 * datastores, hosts and API tokens, and reads the audit log.
 */
public enum Role {
    VIEWER, OPERATOR, ADMIN;

    /** @return whether this role may do what {@code needed} may */
    public boolean includes(Role needed) {
        return compareTo(needed) >= 0;
    }

    /** @return the lower-case name used in JAAS role principals, tokens and documents */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @return the role for a name such as {@code operator}, or null */
    public static Role parse(String name) {
        if (name == null) {
            return null;
        }
        for (Role r : values()) {
            if (r.id().equals(name.trim().toLowerCase(Locale.ROOT))) {
                return r;
            }
        }
        return null;
    }

    /** @return the highest of the roles named (unknown names ignored), or null for none */
    public static Role highest(Collection<String> names) {
        Role best = null;
        for (String n : names) {
            Role r = parse(n);
            if (r != null && (best == null || r.includes(best))) {
                best = r;
            }
        }
        return best;
    }
}
