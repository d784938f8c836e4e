package io.strata.fc.internal;

import java.util.Comparator;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernel's address of one SCSI device, {@code host:channel:target:lun}, as in the sysfs
 * name {@code 3:0:1:2}.
 *
 * @param host the SCSI host (HBA port) number
 * @param channel the channel (bus), 0 on Fibre Channel HBAs
 * @param target the target id the FC transport bound to the remote port
 * @param lun the logical unit number (64 bits in the kernel)
 */
record Hctl(int host, int channel, int target, long lun) implements Comparable<Hctl> {
    private static final Pattern FORM =
            Pattern.compile("(\\d{1,9}):(\\d{1,9}):(\\d{1,9}):(\\d{1,19})");
    private static final Comparator<Hctl> ORDER = Comparator.comparingInt(Hctl::host)
            .thenComparingInt(Hctl::channel).thenComparingInt(Hctl::target)
            .thenComparing(Hctl::lun, Long::compareUnsigned);

    /**
     * @param name a sysfs entry name
     * @return the address when the name is one ({@code 3:0:1:2}), empty for hosts, targets and the rest
     */
    static Optional<Hctl> parse(String name) {
        Matcher m = FORM.matcher(name);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Hctl(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    Integer.parseInt(m.group(3)), Long.parseUnsignedLong(m.group(4))));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** @return the path id of this device: {@code host3:0:1:2} */
    String pathId() {
        return "host" + host + ":" + channel + ":" + target + ":" + Long.toUnsignedString(lun);
    }

    /** @return the SCSI host's name, {@code host3} */
    String hostName() {
        return "host" + host;
    }

    @Override
    public int compareTo(Hctl o) {
        return ORDER.compare(this, o);
    }

    /** @return the sysfs name, {@code 3:0:1:2} */
    @Override
    public String toString() {
        return host + ":" + channel + ":" + target + ":" + Long.toUnsignedString(lun);
    }
}
