package io.strata.itests;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * A Linux guest under QEMU (qemu-system-x86_64 with TCG, no KVM needed) whose virtio disk is an
 * NBD export. The kernel is Debian's cloud kernel (ext4 built in, virtio as modules), taken from
 * its package with {@code apt-get download} and {@code dpkg-deb -x} without installing it, and
 * kept in {@code ~/.cache/strata/guest}. The initramfs is built here: the static busybox, the
 * five virtio modules, and {@link #INIT}, which runs the task named on the kernel command line
 * and prints what it did as {@code STRATA-*} lines on the serial console:
 *
 * <ul>
 * <li>{@code make}: mke2fs on /dev/vda, eight files of random data (64 KiB to 512 KiB), their
 *     SHA-256 sums in {@code SUMS}, sync, unmount;</li>
 * <li>{@code verify}: mount read-only and check every sum in {@code SUMS};</li>
 * <li>{@code write}: mount, then write 64 KiB files one after the other, each followed by
 *     {@code sync} and a {@code STRATA-WROTE <n>} line, until three more after a line arrives
 *     on the console ({@link #send}); then check every file's sum.</li>
 * </ul>
 */
final class Guest {
    static final String[] MODULES = {"virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
        "virtio_pci", "virtio_blk"};

    static final String INIT = """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            for m in %s; do insmod /lib/$m.ko 2>/dev/null; done
            arg() { sed -n "s/.*strata\\.$1=\\([a-z0-9]*\\).*/\\1/p" /proc/cmdline; }
            fail() { echo "STRATA-FAIL $*"; sync; poweroff -f; }
            task=$(arg task)
            n=0
            while [ ! -b /dev/vda ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
            [ -b /dev/vda ] || fail "no /dev/vda"
            case $task in
            make)
                mke2fs -q /dev/vda || fail mke2fs
                mount -t ext4 /dev/vda /mnt || fail mount
                i=0
                while [ $i -lt 8 ]; do
                    dd if=/dev/urandom of=/mnt/f$i bs=64k count=$((i+1)) 2>/dev/null || fail "write f$i"
                    i=$((i+1))
                done
                (cd /mnt && sha256sum f* > SUMS) || fail sums
                sed 's/^/STRATA-SUM /' /mnt/SUMS
                sync
                umount /mnt || fail umount
                echo STRATA-MADE
                ;;
            verify)
                mount -t ext4 -o ro /dev/vda /mnt || fail mount
                (cd /mnt && sha256sum -c SUMS) > /tmp/check 2>&1 || { cat /tmp/check; fail verify; }
                sed 's/^/STRATA-SUM /' /mnt/SUMS
                umount /mnt
                echo STRATA-VERIFIED
                ;;
            write)
                mount -t ext4 /dev/vda /mnt || fail mount
                # No echo: the host's word would land inside a STRATA-WROTE line.
                stty -echo < /dev/console 2>/dev/null
                (read -r word < /dev/console && touch /tmp/go) &
                i=0
                after=-1
                while :; do
                    dd if=/dev/urandom of=/mnt/w$i bs=64k count=1 2>/dev/null || fail "write w$i"
                    (cd /mnt && sha256sum w$i >> SUMS) || fail "sum w$i"
                    sync
                    echo "STRATA-WROTE $i"
                    i=$((i+1))
                    if [ -e /tmp/go ]; then
                        [ $after -lt 0 ] && after=$i
                        [ $i -ge $((after + 3)) ] && break
                    fi
                    [ $i -ge 1500 ] && fail "no word from the host after 1500 files"
                done
                (cd /mnt && sha256sum -c SUMS) > /tmp/check 2>&1 || { cat /tmp/check; fail verify; }
                umount /mnt || fail umount
                echo "STRATA-WRITTEN $i"
                ;;
            *) fail "unknown task $task" ;;
            esac
            sync
            poweroff -f
            """.formatted(String.join(" ", MODULES));

    private static final java.util.regex.Pattern ESCAPES =
            java.util.regex.Pattern.compile("\u001B(?:c|\\[[0-9;?]*[A-Za-z])");
    private final Path kernel;
    private final Path initrd;
    /** The console's input of the guest running now. */
    private volatile OutputStream input;

    private Guest(Path kernel, Path initrd) {
        this.kernel = kernel;
        this.initrd = initrd;
    }

    static boolean available() {
        return HostTools.has("qemu-system-x86_64") && Files.isRegularFile(Paths.get("/bin/busybox"))
                && HostTools.has("apt-get") && HostTools.has("dpkg-deb");
    }

    /** The kernel (downloaded once into the cache) and an initramfs built into {@code work}. */
    static Guest prepare(Path work) throws IOException, InterruptedException {
        Path cache = Paths.get(System.getProperty("user.home"), ".cache", "strata", "guest");
        Path tree = cache.resolve("kernel");
        if (!Files.isDirectory(tree.resolve("boot"))) {
            Files.createDirectories(cache);
            String pkg = kernelPackage();
            Path debs = Files.createTempDirectory(cache, "download");
            try {
                download(pkg, debs);
                Path deb;
                try (Stream<Path> s = Files.list(debs)) {
                    deb = s.filter(p -> p.toString().endsWith(".deb")).findFirst()
                            .orElseThrow(() -> new IOException("apt-get download " + pkg + " gave no .deb"));
                }
                Path unpacked = cache.resolve("kernel.tmp");
                KarafProcess.deleteTree(unpacked);
                HostTools.run(List.of("dpkg-deb", "-x", deb.toString(), unpacked.toString()));
                Files.move(unpacked, tree);
            } finally {
                KarafProcess.deleteTree(debs);
            }
        }
        Path vmlinuz;
        try (Stream<Path> s = Files.list(tree.resolve("boot"))) {
            vmlinuz = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst()
                    .orElseThrow(() -> new IOException("no vmlinuz in " + tree));
        }
        Files.createDirectories(work);
        Path initrd = work.resolve("initrd.gz");
        buildInitrd(tree, initrd);
        return new Guest(vmlinuz, initrd);
    }

    /** Debian's current cloud kernel package, which the metapackage depends on. */
    private static String kernelPackage() throws IOException, InterruptedException {
        String deps = HostTools.run(List.of("apt-cache", "depends", "linux-image-cloud-amd64"));
        for (String line : deps.split("\\R")) {
            String l = line.strip();
            if (l.startsWith("Depends: linux-image-")) {
                return l.substring("Depends: ".length()).strip();
            }
        }
        throw new IOException("no kernel package behind linux-image-cloud-amd64: " + deps);
    }

    private static void download(String pkg, Path dir) throws IOException, InterruptedException {
        List<String> cmd = List.of("sh", "-c", "cd '" + dir + "' && apt-get download -qq " + pkg);
        HostTools.Result r = HostTools.result(cmd, java.time.Duration.ofMinutes(5));
        if (r.exit() != 0) { // package lists too old for the mirror: refresh once
            HostTools.result(List.of("apt-get", "update", "-qq"), java.time.Duration.ofMinutes(5));
            HostTools.run(cmd);
        }
    }

    private static void buildInitrd(Path tree, Path initrd) throws IOException {
        Path modules;
        try (Stream<Path> s = Files.list(tree.resolve("lib/modules"))) {
            modules = s.findFirst().orElseThrow(() -> new IOException("no modules in " + tree));
        }
        ByteArrayOutputStream cpio = new ByteArrayOutputStream();
        Cpio c = new Cpio(cpio);
        for (String d : List.of("bin", "lib", "proc", "sys", "dev", "mnt", "tmp")) {
            c.dir(d);
        }
        c.file("bin/busybox", Files.readAllBytes(Paths.get("/bin/busybox")), true);
        for (String m : MODULES) {
            Path ko;
            try (Stream<Path> s = Files.walk(modules)) {
                ko = s.filter(p -> p.getFileName().toString().equals(m + ".ko")).findFirst()
                        .orElseThrow(() -> new IOException("module " + m + " not in " + modules));
            }
            c.file("lib/" + m + ".ko", Files.readAllBytes(ko), false);
        }
        c.file("init", INIT.getBytes(StandardCharsets.US_ASCII), true);
        c.end();
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(initrd))) {
            cpio.writeTo(out);
        }
    }

    /** The "new ASCII" cpio format the kernel unpacks an initramfs from. */
    private static final class Cpio {
        private final ByteArrayOutputStream out;
        private int inode = 1;

        Cpio(ByteArrayOutputStream out) {
            this.out = out;
        }

        void dir(String name) {
            entry(name, 0040755, new byte[0]);
        }

        void file(String name, byte[] data, boolean executable) {
            entry(name, executable ? 0100755 : 0100644, data);
        }

        void end() {
            entry("TRAILER!!!", 0, new byte[0]);
        }

        private void entry(String name, int mode, byte[] data) {
            byte[] n = (name + "\0").getBytes(StandardCharsets.US_ASCII);
            StringBuilder h = new StringBuilder("070701");
            for (int v : new int[] {inode++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, n.length, 0}) {
                h.append(String.format("%08X", v));
            }
            out.writeBytes(h.toString().getBytes(StandardCharsets.US_ASCII));
            out.writeBytes(n);
            pad();
            out.writeBytes(data);
            pad();
        }

        private void pad() {
            while (out.size() % 4 != 0) {
                out.write(0);
            }
        }
    }

    /**
     * Boots the guest on an NBD disk and runs a task, each console line also given to
     * {@code lines} as it comes.
     *
     * @param nbdUri the disk, e.g. {@code nbd+unix:///vm?socket=/path}
     * @param args more {@code strata.<key>=<value>} words for the command line
     * @return the console output
     */
    String boot(Path work, String nbdUri, String task, String args, Consumer<String> lines)
            throws IOException, InterruptedException {
        Path console = work.resolve("console-" + task + "-" + System.currentTimeMillis() + ".log");
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-smp", "1",
                "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-kernel", kernel.toString(),
                "-initrd", initrd.toString(), "-append",
                "console=ttyS0 panic=-1 quiet strata.task=" + task + (args.isEmpty() ? "" : " " + args),
                "-drive", "file=" + nbdUri + ",format=raw,if=virtio,cache=none"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        input = p.getOutputStream();
        StringBuilder all = new StringBuilder();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null;) {
                    // The firmware's terminal resets may prefix the first line: drop escapes.
                    String l = ESCAPES.matcher(line.replace("\r", "")).replaceAll("");
                    synchronized (all) {
                        all.append(l).append('\n');
                    }
                    try {
                        lines.accept(l);
                    } catch (RuntimeException e) {
                        // The console is still read to its end: a report shows what followed.
                        synchronized (all) {
                            all.append("[the test could not take this line: ").append(e).append("]\n");
                        }
                    }
                }
            } catch (IOException e) {
                // the guest is gone
            }
        }, "guest-console");
        reader.setDaemon(true);
        reader.start();
        try {
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                throw new AssertionError("the guest did not power off within 10 minutes:\n" + all);
            }
            reader.join(10_000);
            synchronized (all) {
                // How QEMU ended, for a report: 0 after the guest's poweroff; 128+n when signal
                // n killed it (it prints nothing then).
                all.append("[qemu exited with status ").append(p.exitValue()).append("]\n");
            }
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
            synchronized (all) {
                Files.writeString(console, all);
            }
        }
        synchronized (all) {
            return all.toString();
        }
    }

    /** Types a line on the running guest's console. */
    void send(String line) throws IOException {
        OutputStream c = input;
        c.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        c.flush();
    }

    private static final java.util.regex.Pattern NUMBERED =
            java.util.regex.Pattern.compile("(STRATA-[A-Z]+) (\\d+)");

    /**
     * The number on a {@code STRATA-<word> <n>} line, e.g. {@code STRATA-WROTE 3}, or -1 when the
     * line has none; text after the number (an echo that landed on the line) is ignored.
     */
    static int number(String word, String line) {
        java.util.regex.Matcher m = NUMBERED.matcher(line);
        while (m.find()) {
            if (m.group(1).equals("STRATA-" + word)) {
                return Integer.parseInt(m.group(2));
            }
        }
        return -1;
    }

    /** The number of the last {@code STRATA-<word> <n>} line of a console output, or -1. */
    static int last(String word, String console) {
        int n = -1;
        for (String line : console.split("\n")) {
            int k = number(word, line);
            n = k >= 0 ? k : n;
        }
        return n;
    }

    /** The {@code STRATA-SUM} lines of a console output, as {@code sum  name}. */
    static List<String> sums(String console) {
        List<String> out = new ArrayList<>();
        for (String line : console.split("\n")) {
            int at = line.indexOf("STRATA-SUM ");
            if (at >= 0) {
                out.add(line.substring(at + "STRATA-SUM ".length()).strip());
            }
        }
        return out;
    }
}
