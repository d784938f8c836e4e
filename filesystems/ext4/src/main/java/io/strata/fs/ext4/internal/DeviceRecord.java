package io.strata.fs.ext4.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.StorageDevice;
import io.strata.posix.Errno;
import io.strata.posix.LocalDirectoryDatastore;
import io.strata.posix.Posix;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The record of the device an ext4 filesystem belongs to: the file {@value #FILE} in
 * the filesystem's root, text, one {@code key=value} a line:
 *
 * <pre>
 * # Strata: the device this ext4 filesystem belongs to. ...
 * identity=wwid:naa.600140512345678
 * device=san1/wwn-0x600140512345678
 * </pre>
 *
 * Only {@code identity} is compared; {@code device} (the device's {@code resource/id}
 * when the record was made) is for people. It is written by {@code mkfs.ext4 -d} when
 * formatting, and into the mounted root (atomically) when a filesystem made without one
 * is first mounted.
 */
final class DeviceRecord {
    /** The record's name in the filesystem root. */
    static final String FILE = ".strata-device";

    private DeviceRecord() {
    }

    /** @return the identity of a block device, empty when its driver reports none (built before device API 1.1) */
    static Optional<String> identityOf(StorageDevice device) {
        if (!(device instanceof BlockDevice)) {
            return Optional.empty();
        }
        return ((BlockDevice) device).identity().filter(s -> !s.isBlank());
    }

    static String text(String identity, String deviceRef) {
        return "# Strata: the device this ext4 filesystem belongs to. The ext4 layer refuses to mount it\n"
                + "# from a device with another identity. Remove this file only to move the filesystem on purpose.\n"
                + "identity=" + identity + "\n"
                + "device=" + deviceRef + "\n";
    }

    /** @return the recorded identity, empty when the text has none */
    static Optional<String> identityIn(String text) {
        for (String line : text.split("\n")) {
            if (line.startsWith("identity=")) {
                String v = line.substring("identity=".length()).strip();
                return v.isEmpty() ? Optional.empty() : Optional.of(v);
            }
        }
        return Optional.empty();
    }

    /** @return the recorded device reference, or "?" */
    static String deviceIn(String text) {
        for (String line : text.split("\n")) {
            if (line.startsWith("device=")) {
                return line.substring("device=".length()).strip();
            }
        }
        return "?";
    }

    /**
     * @return a directory holding only the record, mode 0755 (it becomes the root directory's
     *         mode), for {@code mkfs.ext4 -d}; remove it with {@link #delete}
     */
    static Path stage(String identity, String deviceRef) {
        try {
            Path dir = Files.createTempDirectory("strata-ext4-root-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // whatever the umask
            Path f = dir.resolve(FILE);
            Files.writeString(f, text(identity, deviceRef), StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
            return dir;
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot prepare the device record for formatting "
                    + deviceRef + ": " + e.getMessage(), e);
        }
    }

    static void delete(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind
        }
    }

    /** @return the record in a mounted filesystem, or empty when there is none */
    static Optional<String> read(Path mountPoint) {
        Path f = mountPoint.resolve(FILE);
        if (!Files.isRegularFile(f)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Files.readString(f, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw Errno.exception(e, "read", f);
        }
    }

    /** Writes the record into a mounted filesystem: a temporary file, synced, renamed over, directory synced. */
    static void write(Path mountPoint, String identity, String deviceRef) {
        Path tmp = mountPoint.resolve(LocalDirectoryDatastore.TEMP_PREFIX + "device-" + UUID.randomUUID());
        Path f = mountPoint.resolve(FILE);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(StandardCharsets.UTF_8.encode(text(identity, deviceRef)));
                ch.force(true);
            }
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Posix.fsyncDirectory(mountPoint);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw Errno.exception(e, "write the device record", f);
        }
    }
}
