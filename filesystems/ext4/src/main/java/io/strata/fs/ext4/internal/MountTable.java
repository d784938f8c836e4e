package io.strata.fs.ext4.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** /proc/self/mountinfo, read fresh for every question. */
final class MountTable {
    /** One mount: the kernel's device number, where it is mounted, its type and source. */
    record Mount(String majorMinor, String mountPoint, String fsType, String source) {
    }

    private MountTable() {
    }

    static List<Mount> read(Path mountinfo) {
        List<String> lines;
        try {
            lines = Files.readAllLines(mountinfo);
        } catch (IOException e) {
            return List.of();
        }
        return parse(lines);
    }

    static List<Mount> read() {
        return read(Path.of("/proc/self/mountinfo"));
    }

    static List<Mount> parse(List<String> lines) {
        List<Mount> mounts = new ArrayList<>();
        for (String line : lines) {
            String[] f = line.split(" ");
            int dash = -1;
            for (int i = 6; i < f.length; i++) {
                if (f[i].equals("-")) {
                    dash = i;
                    break;
                }
            }
            if (f.length < 6 || dash < 0 || dash + 2 >= f.length) {
                continue;
            }
            mounts.add(new Mount(f[2], unescape(f[4]), f[dash + 1], unescape(f[dash + 2])));
        }
        return mounts;
    }

    /** The kernel escapes space, tab, newline and backslash as three octal digits. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && isOctal(s, i + 1)) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static boolean isOctal(String s, int from) {
        if (from + 3 > s.length()) {
            return false;
        }
        for (int i = from; i < from + 3; i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }

    /** @return the topmost mount at this mount point, if any */
    static Optional<Mount> at(List<Mount> mounts, Path mountPoint) {
        String mp = mountPoint.toString();
        Mount found = null;
        for (Mount m : mounts) {
            if (m.mountPoint().equals(mp)) {
                found = m; // later lines are mounted on top of earlier ones
            }
        }
        return Optional.ofNullable(found);
    }

    /** @return the mounts of a source device (e.g. /dev/loop3) or of a device number */
    static List<Mount> of(List<Mount> mounts, String source, String majorMinor) {
        List<Mount> result = new ArrayList<>();
        for (Mount m : mounts) {
            if (m.source().equals(source) || (majorMinor != null && m.majorMinor().equals(majorMinor))) {
                result.add(m);
            }
        }
        return result;
    }
}
