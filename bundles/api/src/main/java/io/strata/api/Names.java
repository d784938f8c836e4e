package io.strata.api;

import java.util.regex.Pattern;

/**
 * The rules for names users give to resources, datastores, volumes and
 * snapshots. A name becomes a file or directory name, so it must never
 * carry a path separator, {@code ..}, or control characters.
 */
public final class Names {
    /** The longest accepted name, in characters. */
    public static final int MAX_LENGTH = 128;

    private static final Pattern ALLOWED = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]*");

    private Names() {
    }

    /**
     * Checks a user-given name.
     *
     * @param kind what is being named ("volume", "datastore", ...), used in the message
     * @param name the name to check
     * @return the name, unchanged
     * @throws StorageException {@link ErrorCode#INVALID_NAME} when the name is null, empty,
     *         longer than {@link #MAX_LENGTH}, starts with a dot or dash, contains {@code ..},
     *         a path separator, white space, a control character or any character outside
     *         {@code [A-Za-z0-9._+-]}
     */
    public static String check(String kind, String name) {
        if (name == null || name.isEmpty()) {
            throw new StorageException(ErrorCode.INVALID_NAME, kind + " name must not be empty");
        }
        if (name.length() > MAX_LENGTH) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    kind + " name is longer than " + MAX_LENGTH + " characters");
        }
        if (name.indexOf('/') >= 0 || name.indexOf('\\') >= 0) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    kind + " name '" + printable(name) + "' must not contain a path separator");
        }
        if (name.contains("..")) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    kind + " name '" + printable(name) + "' must not contain '..'");
        }
        for (int i = 0; i < name.length(); i++) {
            if (Character.isISOControl(name.charAt(i))) {
                throw new StorageException(ErrorCode.INVALID_NAME,
                        kind + " name '" + printable(name) + "' must not contain control characters");
            }
        }
        if (!ALLOWED.matcher(name).matches()) {
            throw new StorageException(ErrorCode.INVALID_NAME, kind + " name '" + printable(name)
                    + "' may use only letters, digits, '.', '_', '+' and '-', and must start with a letter or digit");
        }
        return name;
    }

    /**
     * @return the name with control characters shown as {@code \\uXXXX}, safe to print
     * @param name any string
     */
    public static String printable(String name) {
        StringBuilder b = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isISOControl(c)) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
