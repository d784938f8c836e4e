package io.strata.rest.internal.security;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A token's expiry as written by people: {@code 90d}, {@code 12h}, {@code 30m}, an ISO instant, or {@code never}. */
public final class Expiry {
    private static final Pattern RELATIVE = Pattern.compile("(\\d{1,6})([smhd])");

    private Expiry() {
    }

    /** @return the instant {@code text} names from {@code now}, or null for none or {@code never} */
    public static Instant parse(String text, Instant now) {
        if (text == null || text.isBlank() || text.strip().equalsIgnoreCase("never")) {
            return null;
        }
        String t = text.strip();
        Matcher m = RELATIVE.matcher(t);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            Duration d = switch (m.group(2)) {
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
            if (d.isZero()) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "an expiry of zero has already passed");
            }
            return now.plus(d);
        }
        try {
            return Instant.parse(t);
        } catch (DateTimeParseException e) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "unknown expiry '" + t.replaceAll("\\p{Cntrl}", "?")
                    + "': use 90d, 12h, 30m, 3600s, an instant such as 2027-01-01T00:00:00Z, or never");
        }
    }
}
