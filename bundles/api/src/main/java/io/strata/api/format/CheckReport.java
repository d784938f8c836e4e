package io.strata.api.format;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * What a format's checker found in one image.
 *
 * @param file the image file checked
 * @param errors problems that make data unreliable or the image unopenable, one line each
 * @param leaks space that is allocated but not referenced (harmless, reclaimable), one line each
 * @param repaired what {@code --repair} fixed, one line each
 * @param leakedBytes bytes held by leaks that remain after the check
 */
public record CheckReport(String file, List<String> errors, List<String> leaks, List<String> repaired,
        long leakedBytes) {
    /** Checks the components and copies the lists. */
    public CheckReport {
        requireNonNull(file, "file");
        errors = List.copyOf(errors);
        leaks = List.copyOf(leaks);
        repaired = List.copyOf(repaired);
    }

    /** @return whether no errors and no leaks remain */
    public boolean clean() {
        return errors.isEmpty() && leaks.isEmpty();
    }
}
