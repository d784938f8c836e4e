package io.strata.itests;

import static org.junit.Assert.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.Test;

/**
 * The three-host scenario of {@link SharedScenario} on a shared dir datastore: one directory
 * every host reaches (as a cluster filesystem would give them).
 */
public class SharedDatastoreIT extends SharedScenario {
    private final Path shared = Paths.get("target", "shared-datastore").toAbsolutePath();

    @Override
    void prepareStorage() throws Exception {
        KarafProcess.deleteTree(shared);
        Files.createDirectories(shared);
    }

    @Override
    void addDatastore(KarafProcess k) {
        k.ok("storage:resource-add shared local kind=directory path=" + shared);
        k.ok("storage:datastore-create -o shared=true ds dir shared");
    }

    @Override
    Path datastoreDir() {
        return shared;
    }

    @Override
    String prefix() {
        return "shared-";
    }

    @Test
    public void threeHostsShareOneDatastore() throws Exception {
        assertEquals(expectedAtTheEnd(), threeHosts());
    }
}
