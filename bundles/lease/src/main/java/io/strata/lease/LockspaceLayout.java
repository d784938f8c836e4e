package io.strata.lease;

/**
 * The shape of a lockspace, fixed when it is formatted.
 *
 * @param maxHosts how many hosts may join (one slot each)
 * @param areas how many resource lease areas it holds
 */
public record LockspaceLayout(int maxHosts, int areas) {
    /** The default: 64 hosts (as many as VMFS admits on one datastore), 4096 resource areas. */
    public static final LockspaceLayout DEFAULT = new LockspaceLayout(64, 4096);

    /** Checks the values. */
    public LockspaceLayout {
        if (maxHosts < 1 || maxHosts > 256 || areas < 1 || areas > 1 << 20) {
            throw new IllegalArgumentException("bad lockspace layout: " + maxHosts + " hosts, " + areas + " areas");
        }
    }
}
