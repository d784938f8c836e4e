package io.strata.api.format;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.util.Locale;

/** How a volume's space is provisioned. */
public enum Provisioning {
    /** Allocated on first write (VHD dynamic, qcow2, sparse raw). */
    THIN("thin"),
    /** All space allocated and zeroed at creation (VHD fixed). */
    THICK("thick"),
    /** All space reserved at creation; zeroing left to the filesystem, unwritten ranges read as zeros. */
    THICK_LAZY("thick-lazy");

    private final String label;

    Provisioning(String label) {
        this.label = label;
    }

    /** @return the name users type and see: {@code thin}, {@code thick}, {@code thick-lazy} */
    public String label() {
        return label;
    }

    /**
     * @param text a label as users type it
     * @return the provisioning type
     * @throws StorageException {@code INVALID_ARGUMENT} for an unknown label
     */
    public static Provisioning parse(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        for (Provisioning p : values()) {
            if (p.label.equals(t) || p.name().toLowerCase(Locale.ROOT).equals(t)) {
                return p;
            }
        }
        throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                "unknown provisioning '" + text + "' (use thin, thick or thick-lazy)");
    }

    @Override
    public String toString() {
        return label;
    }
}
