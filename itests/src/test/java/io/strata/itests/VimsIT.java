package io.strata.itests;

import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.junit.After;
import org.junit.Test;

/**
 * VIMS in the real distribution: a datastore on a file LUN, volumes, snapshots and clones on
 * it, its details and checker.
 */
public class VimsIT {
    private final List<KarafProcess> hosts = new ArrayList<>();

    @After
    public void tearDown() {
        for (KarafProcess h : hosts) {
            h.close();
        }
    }

    @Test
    public void oneHostMakesAndUsesAVimsDatastore() throws Exception {
        Path luns = Paths.get("target", "vims-luns").toAbsolutePath();
        Files.createDirectories(luns);
        Path lun = luns.resolve("one.lun");
        Files.deleteIfExists(lun);
        KarafProcess h1 = new KarafProcess("vims-one");
        hosts.add(h1);
        h1.configure("etc/io.strata.core.cfg", "host.name", "h1");
        h1.start();
        h1.ok("storage:resource-add lun local kind=file-lun path=" + lun + " size=2G");
        String created = h1.ok("storage:datastore-create ds vims lun");
        assertTrue(created, created.contains("vims") && created.contains("block size"));
        h1.ok("storage:volume-create ds base 64M");
        h1.ok("storage:snapshot-create ds/base s1");
        h1.ok("storage:volume-clone --linked ds/base@s1 ds kid");
        h1.ok("storage:volume-create --format qcow2 ds q 32M");
        String list = h1.ok("storage:volume-list --no-format ds");
        assertTrue(list, list.contains("ds/base\t") && list.contains("ds/kid\t") && list.contains("ds/q\t"));
        String info = h1.ok("storage:datastore-info ds");
        assertTrue(info, info.contains("hosts") && info.contains("h1"));
        String check = h1.ok("storage:datastore-check ds");
        assertTrue(check, check.contains("Checked datastore ds"));
        h1.ok("storage:volume-delete ds/kid");
        h1.ok("storage:volume-delete ds/q");
        System.out.println(h1.ok("storage:datastore-info ds"));
        System.out.println(h1.ok("storage:datastore-check ds"));
    }
}
