package io.strata.posix;

import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.channels.NetworkChannel;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * Socket options Java has no API for, set on a JDK channel's descriptor.
 *
 * <p>The JDK keeps a channel's descriptor to itself: it is read through {@code sun.nio.ch},
 * which the JVM must export to unnamed modules ({@code
 * --add-exports=java.base/sun.nio.ch=ALL-UNNAMED}, which Strata's {@code bin/setenv} gives).
 * Without that export {@link #descriptor} is empty, and the options are left as the kernel set
 * them.
 */
public final class Sockets {
    private Sockets() {
    }

    /** What the kernel accepts as an algorithm's name: at most 15 characters (TCP_CA_NAME_MAX 16). */
    private static final Pattern CONGESTION_NAME = Pattern.compile("[A-Za-z0-9_-]{1,15}");

    /** {@code sun.nio.ch.SelChImpl#getFDVal}, when this module may call it; else null. */
    private static final Method FD_VAL = fdVal();

    private static Method fdVal() {
        try {
            // from the boot loader: a bundle's own loader need not see sun.* (bnd.bnd: !sun.nio.ch)
            Class<?> c = Class.forName("sun.nio.ch.SelChImpl", false, null);
            if (!c.getModule().isExported(c.getPackageName(), Sockets.class.getModule())) {
                return null;
            }
            return c.getMethod("getFDVal");
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }

    /**
     * @return the channel's descriptor, or empty when this JVM does not export {@code sun.nio.ch},
     *     the channel is not one of the JDK's own, or it is closed (its number may be another
     *     file's by now)
     */
    public static OptionalInt descriptor(NetworkChannel ch) {
        if (FD_VAL == null || !FD_VAL.getDeclaringClass().isInstance(ch) || !ch.isOpen()) {
            return OptionalInt.empty();
        }
        try {
            return OptionalInt.of((Integer) FD_VAL.invoke(ch));
        } catch (IllegalAccessException | InvocationTargetException | RuntimeException e) {
            return OptionalInt.empty();
        }
    }

    /**
     * Sets a TCP socket's congestion control ({@code TCP_CONGESTION}): the algorithm that
     * decides how fast its sends go out, for this socket only. Any process may choose the
     * algorithms {@code net.ipv4.tcp_allowed_congestion_control} lists ({@code reno} always);
     * others need {@code CAP_NET_ADMIN}.
     *
     * @param name an algorithm the kernel has, e.g. {@code reno}, {@code cubic}, {@code bbr}
     * @throws IllegalArgumentException when {@code name} cannot be an algorithm's name
     * @throws IOException when the descriptor is not reachable ({@link #descriptor}), the
     *     kernel has no such algorithm, or this process may not choose it; the socket is then
     *     unchanged
     */
    public static void setCongestionControl(NetworkChannel ch, String name) throws IOException {
        if (name == null || !CONGESTION_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("not a congestion control name: '" + name + "'");
        }
        int fd = reachable(ch);
        byte[] value = name.getBytes(StandardCharsets.US_ASCII);
        if (Posix.libc().setsockopt(fd, LibC.IPPROTO_TCP, LibC.TCP_CONGESTION, value, value.length) != 0) {
            int errno = Native.getLastError();
            String why = switch (errno) {
                case Errno.ENOENT -> "the kernel has no such algorithm";
                case Errno.EPERM -> "not in net.ipv4.tcp_allowed_congestion_control, and this process may not"
                        + " choose others";
                default -> Errno.describe(errno);
            };
            throw new IOException("cannot set the congestion control of a socket to " + name + ": " + why
                    + " (errno " + errno + ")");
        }
    }

    /** @return the TCP socket's congestion control, e.g. {@code bbr} */
    public static String congestionControl(NetworkChannel ch) throws IOException {
        int fd = reachable(ch);
        byte[] value = new byte[16];
        IntByReference length = new IntByReference(value.length);
        if (Posix.libc().getsockopt(fd, LibC.IPPROTO_TCP, LibC.TCP_CONGESTION, value, length) != 0) {
            int errno = Native.getLastError();
            throw new IOException("cannot read the congestion control of a socket: " + Errno.describe(errno)
                    + " (errno " + errno + ")");
        }
        int n = 0;
        while (n < Math.min(length.getValue(), value.length) && value[n] != 0) {
            n++;
        }
        return new String(value, 0, n, StandardCharsets.US_ASCII);
    }

    private static int reachable(NetworkChannel ch) throws IOException {
        OptionalInt fd = descriptor(ch);
        if (fd.isEmpty()) {
            throw new IOException("the socket's descriptor is not reachable"
                    + (FD_VAL == null ? ": the JVM does not export sun.nio.ch"
                            + " (--add-exports=java.base/sun.nio.ch=ALL-UNNAMED)"
                            : ch.isOpen() ? "" : ": the socket is closed"));
        }
        return fd.getAsInt();
    }
}
