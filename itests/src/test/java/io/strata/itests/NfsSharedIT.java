package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assume.assumeTrue;

import io.strata.testing.Ganesha;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.Test;

/**
 * The three-host scenario of {@link SharedScenario} on an NFS datastore: three copies of the
 * real distribution mount one export of a private nfs-ganesha through the nas driver, each with
 * its own NFS client, and keep the datastore in its directory "shared". Concurrent creates,
 * snapshots and deletes; a held volume refused on the others; takeover after kill -9 with every
 * flushed write; a frozen host writing nothing after its lease expired; the dead host joining
 * again.
 */
public class NfsSharedIT extends SharedScenario {
    private Ganesha ganesha;

    @Override
    void prepareStorage() throws Exception {
        assumeTrue(Ganesha.unavailableReason().orElse(""), Ganesha.unavailableReason().isEmpty());
        Path dir = Paths.get("target", "nfs-shared-it").toAbsolutePath();
        KarafProcess.deleteTree(dir);
        Files.createDirectories(dir);
        ganesha = Ganesha.start(dir);
    }

    @Override
    void addDatastore(KarafProcess k) {
        k.ok("storage:resource-add nas nas server=127.0.0.1 nfsport=" + ganesha.nfsPort() + " mountport="
                + ganesha.mountPort());
        k.ok("storage:datastore-create -o path=shared ds nfs nas/" + ganesha.exportPath().substring(1).replace('/', ':'));
    }

    @Override
    Path datastoreDir() {
        return ganesha.exportDir().resolve("shared");
    }

    @Override
    String prefix() {
        return "nfs-";
    }

    @Override
    void closeStorage() {
        if (ganesha != null) {
            ganesha.close();
        }
    }

    @Test
    public void threeHostsShareAnNfsDatastore() throws Exception {
        assertEquals(expectedAtTheEnd(), threeHosts());
    }
}
