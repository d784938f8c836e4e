package io.strata.rest.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;

/**
 * Entity tags of mutable resources, computed from what a manager can change or must not
 * change under it (a volume's size, format and identity; a resource's parameters; QoS
 * limits), not from figures that move on their own such as allocation or I/O counters, so
 * a tag stays the same while a volume is merely written to. The hash is keyed with a random
 * key of this process, so a tag over a secret parameter tells nothing about it; tags change
 * when the API restarts, and a client then reads again. {@code If-Match} with a tag that
 * no longer matches is refused with 412; {@code *} matches any existing resource.
 */
final class ETags {
    /** A key of this process: tags cannot be compared with a hash of guessed values (a secret parameter). */
    private static final byte[] KEY = new byte[32];

    static {
        new java.security.SecureRandom().nextBytes(KEY);
    }

    private ETags() {
    }

    /** @return a strong tag over {@code parts} */
    static String of(Object... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(KEY);
            for (Object p : parts) {
                md.update(String.valueOf(p).getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return "\"" + HexFormat.of().formatHex(Arrays.copyOf(md.digest(), 12)) + "\"";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** @throws ApiException 412 when {@code ifMatch} is given and names neither {@code current} nor {@code *} */
    static void check(String ifMatch, String current, String what) {
        if (ifMatch == null || ifMatch.isBlank()) {
            return;
        }
        for (String tag : ifMatch.split(",")) {
            String t = tag.strip();
            if (t.startsWith("W/")) {
                t = t.substring(2);
            }
            if (t.equals("*") || Objects.equals(t, current)) {
                return;
            }
        }
        throw new ApiException(412, ApiException.PRECONDITION_FAILED, what + " changed since it was read: "
                + "If-Match " + ifMatch.strip() + ", now " + current, Map.of("etag", current));
    }
}
