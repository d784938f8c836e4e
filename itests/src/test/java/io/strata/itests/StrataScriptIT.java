package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * {@code ./strata prepare} against the built distribution, in an instance directory of its
 * own (STRATA_RUN, STRATA_NO_BUILD=1): after a rebuild, run/etc files the user left alone
 * take the distribution's new version and the ones the user edited are kept. A rebuild
 * is simulated by making run/.distribution older than the distribution, and a change of
 * the distribution's etc by changing run/.etc-dist (the copy of the last one applied).
 */
public class StrataScriptIT {

    private static final Path ROOT = Paths.get(System.getProperty("basedir", "."))
            .toAbsolutePath().normalize().getParent();
    private static final Path DIST_ETC = ROOT.resolve("karaf-features/distribution/target/assembly/etc");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Path run;
    private Path etc;
    private Path pristine;

    @Before
    public void setUp() throws IOException {
        assertTrue("no distribution at " + DIST_ETC + ": build it first (mvn install)",
                Files.isExecutable(DIST_ETC.resolveSibling("bin/karaf")));
        run = tmp.getRoot().toPath().resolve("run");
        etc = run.resolve("etc");
        pristine = run.resolve(".etc-dist");
    }

    @Test
    public void firstPrepareCopiesTheDistributionsEtcAndKeepsAPristineCopy() throws Exception {
        String out = prepare();
        assertTrue(out, out.contains("strata: created instance directory " + run + "/"));
        for (String file : List.of("users.properties", "org.apache.karaf.shell.cfg", "io.strata.nbd.cfg",
                "org.ops4j.pax.web.cfg", "scripts/shell.completion.script")) {
            assertEquals(file, read(DIST_ETC.resolve(file)), read(etc.resolve(file)));
            assertEquals(file, read(DIST_ETC.resolve(file)), read(pristine.resolve(file)));
        }
        assertTrue(Files.isDirectory(run.resolve("data")));
        assertTrue(Files.isDirectory(run.resolve("deploy")));
    }

    @Test
    public void rebuildRefreshesUntouchedFilesAndKeepsTheUsersEdits() throws Exception {
        prepare();
        // The user's edits: the karaf password, the NBD port, a file of their own, a removal.
        String users = read(etc.resolve("users.properties")).replace("karaf = karaf,", "karaf = s3cret,");
        assertFalse("users.properties not edited", users.equals(read(DIST_ETC.resolve("users.properties"))));
        write(etc.resolve("users.properties"), users);
        String nbd = read(etc.resolve("io.strata.nbd.cfg")) + "port = 20809\n";
        write(etc.resolve("io.strata.nbd.cfg"), nbd);
        write(etc.resolve("my.own.cfg"), "mine = 1\n");
        Files.delete(etc.resolve("jmx.acl.cfg"));
        // What the previous distribution had: other shell and NBD settings, no HTTP
        // settings, a file the new one dropped. The user never touched shell.cfg.
        appendOld("org.apache.karaf.shell.cfg");
        Files.copy(pristine.resolve("org.apache.karaf.shell.cfg"), etc.resolve("org.apache.karaf.shell.cfg"),
                StandardCopyOption.REPLACE_EXISTING);
        appendOld("io.strata.nbd.cfg");
        Files.delete(pristine.resolve("org.ops4j.pax.web.cfg"));
        Files.delete(etc.resolve("org.ops4j.pax.web.cfg"));
        write(pristine.resolve("io.strata.dropped.cfg"), "dropped = 1\n");
        write(etc.resolve("io.strata.dropped.cfg"), "dropped = 1\n");
        write(pristine.resolve("io.strata.dropped-edited.cfg"), "dropped = 1\n");
        write(etc.resolve("io.strata.dropped-edited.cfg"), "dropped = 2\n");
        rebuilt();

        String out = prepare();

        assertEquals(out, List.of(
                "strata: distribution rebuilt: refreshing " + run + "/etc and the bundle cache (configuration and datastores kept)",
                "strata: kept your edited " + run + "/etc/io.strata.nbd.cfg (the distribution's new version is in "
                        + run + "/.etc-dist/io.strata.nbd.cfg)",
                "strata: kept your edited " + run + "/etc/io.strata.dropped-edited.cfg (the distribution no longer has it)"),
                out.lines().sorted((a, b) -> order(a) - order(b)).collect(Collectors.toList()));
        // Edited: kept. Untouched: the new version. New: added. Dropped and untouched: gone.
        assertEquals(users, read(etc.resolve("users.properties")));
        assertEquals(nbd, read(etc.resolve("io.strata.nbd.cfg")));
        assertEquals("mine = 1\n", read(etc.resolve("my.own.cfg")));
        assertFalse(Files.exists(etc.resolve("jmx.acl.cfg")));
        assertEquals(read(DIST_ETC.resolve("org.apache.karaf.shell.cfg")), read(etc.resolve("org.apache.karaf.shell.cfg")));
        assertEquals(read(DIST_ETC.resolve("org.ops4j.pax.web.cfg")), read(etc.resolve("org.ops4j.pax.web.cfg")));
        assertFalse(Files.exists(etc.resolve("io.strata.dropped.cfg")));
        assertEquals("dropped = 2\n", read(etc.resolve("io.strata.dropped-edited.cfg")));
        // run/.etc-dist is now the new distribution's etc, file for file.
        assertEquals(files(DIST_ETC), files(pristine));
        for (String file : files(DIST_ETC)) {
            assertEquals(file, read(DIST_ETC.resolve(file)), read(pristine.resolve(file)));
        }

        // Without a rebuild nothing is refreshed, and a rebuild that changes nothing says nothing.
        assertEquals("", prepare());
        rebuilt();
        assertEquals("strata: distribution rebuilt: refreshing " + run
                + "/etc and the bundle cache (configuration and datastores kept)\n", prepare());
        assertEquals(users, read(etc.resolve("users.properties")));
        assertEquals(nbd, read(etc.resolve("io.strata.nbd.cfg")));
    }

    @Test
    public void anInstanceFromBeforeThePristineCopyKeepsEveryFileThatDiffers() throws Exception {
        prepare();
        HostTools.deleteTree(pristine);
        String shell = read(etc.resolve("org.apache.karaf.shell.cfg")) + "sshPort = 8102\n";
        write(etc.resolve("org.apache.karaf.shell.cfg"), shell);
        Files.delete(etc.resolve("org.ops4j.pax.web.cfg"));
        rebuilt();

        String out = prepare();

        assertTrue(out, out.contains("strata: kept your edited " + run + "/etc/org.apache.karaf.shell.cfg"
                + " (the distribution's new version is in " + run + "/.etc-dist/org.apache.karaf.shell.cfg)\n"));
        assertEquals(out, 2, out.lines().count());
        assertEquals(shell, read(etc.resolve("org.apache.karaf.shell.cfg")));
        assertEquals(read(DIST_ETC.resolve("org.ops4j.pax.web.cfg")), read(etc.resolve("org.ops4j.pax.web.cfg")));
        assertEquals(files(DIST_ETC), files(pristine));
    }

    /** Runs {@code ./strata prepare}; returns what it printed (it says everything on stderr). */
    private String prepare() throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", ROOT.resolve("strata").toString(), "prepare")
                .directory(ROOT.toFile()).redirectErrorStream(true);
        pb.environment().put("STRATA_RUN", run.toString());
        pb.environment().put("STRATA_NO_BUILD", "1");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue("./strata prepare did not finish", p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(out, 0, p.exitValue());
        return out;
    }

    /** As after a rebuild: the distribution is newer than what run/ was prepared from. */
    private void rebuilt() throws IOException {
        Files.setLastModifiedTime(run.resolve(".distribution"), FileTime.fromMillis(0));
    }

    private void appendOld(String file) throws IOException {
        write(pristine.resolve(file), read(pristine.resolve(file)) + "# as the previous distribution had it\n");
    }

    /** The refresh line first, then the kept lines in the order the script checks them. */
    private static int order(String line) {
        return line.contains("refreshing") ? 0 : line.contains("no longer") ? 2 : 1;
    }

    private static List<String> files(Path dir) throws IOException {
        try (var walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).map(f -> dir.relativize(f).toString()).sorted()
                    .collect(Collectors.toList());
        }
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file);
    }

    private static void write(Path file, String content) throws IOException {
        Files.writeString(file, content);
    }
}
