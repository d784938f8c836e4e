package io.strata.nbd.internal;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;

/**
 * The server's Unix domain socket, the way a hypervisor on the same host attaches
 * ({@code nbd+unix:///<export>?socket=<path>}). Who may connect is who may write the socket
 * file: its mode ({@code 0660} by default: the server's user and group) and group.
 *
 * <p>The socket is bound inside a fresh directory only the server's user can enter, given its
 * mode and group there, and then renamed onto its path, so no client ever sees it with the
 * permissions the process's umask would give it. A socket left by a server that died is
 * replaced; one that a live server answers on is not (the start fails with a clear message),
 * nor is a path that is not a socket.
 *
 * @param path where the socket is, absolute
 * @param mode its permissions (write permission is what connecting needs)
 * @param group the group to give it, or "" to keep the server's
 */
record LocalSocket(Path path, Set<PosixFilePermission> mode, String group) {
    /** {@code sun_path} holds 108 bytes with the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;
    /** The directory a socket is bound in before its rename: {@code /.nbd-xxxxxx/s} beside the path. */
    private static final int BIND_EXTRA = 15;

    LocalSocket {
        requireNonNull(path, "path");
        mode = Set.copyOf(mode);
        requireNonNull(group, "group");
        if (!path.isAbsolute()) {
            throw new IllegalArgumentException("the NBD socket path must be absolute: " + path);
        }
    }

    /** Parses a mode written as octal digits ({@code 0660}, {@code 660}). */
    static Set<PosixFilePermission> mode(String octal) {
        if (octal == null || !octal.strip().matches("0?[0-7]{3}")) {
            throw new IllegalArgumentException("socket mode '" + octal + "' is not an octal mode such as 0660");
        }
        int bits = Integer.parseInt(octal.strip(), 8);
        StringBuilder s = new StringBuilder();
        String letters = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            s.append((bits & (1 << (8 - i))) != 0 ? letters.charAt(i) : '-');
        }
        return PosixFilePermissions.fromString(s.toString());
    }

    /** A bound socket: its channel, and the file's identity, so that closing removes only this one. */
    record Bound(Path path, ServerSocketChannel channel, Object fileKey) {
        /** Closes the channel and removes the socket file if it is still this socket's. */
        void close() {
            try {
                channel.close();
            } catch (IOException e) {
                // removing the file anyway
            }
            try {
                BasicFileAttributes now = Files.readAttributes(path, BasicFileAttributes.class,
                        LinkOption.NOFOLLOW_LINKS);
                if (Objects.equals(now.fileKey(), fileKey)) {
                    Files.deleteIfExists(path);
                }
            } catch (IOException e) {
                // gone already, or replaced by another server's
            }
        }
    }

    /**
     * Listens on the socket.
     *
     * @throws IOException with a message fit for the log: a path too long, not a socket, in
     *         use by a live server, an unknown group, a directory that cannot be made
     */
    Bound bind() throws IOException {
        int bytes = path.toString().getBytes(StandardCharsets.UTF_8).length;
        if (bytes + BIND_EXTRA > MAX_PATH_BYTES) {
            throw new IOException("NBD socket path " + path + " is " + bytes + " bytes; it may have at most "
                    + (MAX_PATH_BYTES - BIND_EXTRA) + " (a Unix socket's address holds " + MAX_PATH_BYTES + ")");
        }
        Path dir = path.getParent();
        Files.createDirectories(dir);
        refuseIfLive();
        GroupPrincipal owner = null;
        if (!group.isEmpty()) {
            try {
                owner = path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
            } catch (IOException e) {
                throw new IOException("NBD socket group '" + group + "' does not exist", e);
            }
        }
        byte[] raw = new byte[3];
        new SecureRandom().nextBytes(raw);
        Path staging = Files.createDirectory(dir.resolve(".nbd-" + HexFormat.of().formatHex(raw)),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path bound = staging.resolve("s");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(bound), 128);
            PosixFileAttributeView view = Files.getFileAttributeView(bound, PosixFileAttributeView.class);
            view.setPermissions(mode);
            if (owner != null) {
                view.setGroup(owner);
            }
            try {
                Files.move(bound, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename the NBD socket into " + dir + ": " + e.getMessage(), e);
            }
            Object key = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            return new Bound(path, ch, key);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(bound);
            throw e;
        } finally {
            Files.deleteIfExists(staging);
        }
    }

    /** Fails when the path is something other than a socket, or a socket a live server answers on. */
    private void refuseIfLive() throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if (!a.isOther()) {
            throw new IOException("NBD socket path " + path + " exists and is not a socket; not replacing it");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw new IOException("another server is listening on the NBD socket " + path);
        } catch (ConnectException e) {
            // a socket nobody listens on: left by a server that died; replaced
        }
    }
}
