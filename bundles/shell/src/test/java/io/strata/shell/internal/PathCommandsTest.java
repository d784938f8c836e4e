package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import io.strata.api.service.ResourcePath;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** storage:path-list, path-set and resource-set, and secrets in resource-list. */
class PathCommandsTest {
    private final Fakes fakes = new Fakes();

    @BeforeEach
    void setUp() {
        fakes.resources.add("san", "local", Map.of("portal", "127.0.0.1,127.0.0.2", "chap-user", "u",
                "chap-secret", "s3cret-value"));
        fakes.resources.paths.addAll(List.of(
                new ResourcePath("san", new PathInfo("naa.6001", "127.0.0.1:3260/1", "iscsi 127.0.0.1:3260",
                        DeviceState.ONLINE, true, true, 120, 0, 2)),
                new ResourcePath("san", new PathInfo("naa.6001", "127.0.0.2:3260/1", "iscsi 127.0.0.2:3260",
                        DeviceState.OFFLINE, true, false, 7, 3, 0))));
    }

    @Test
    void pathListShowsStateActivityAndCounters() {
        PathListCommand c = new PathListCommand();
        c.resources = fakes.resources;
        c.device = "san/naa.6001";
        c.noFormat = true;
        assertEquals("san\tnaa.6001\t127.0.0.1:3260/1\tiscsi 127.0.0.1:3260\tup\tonline\t*\t120\t0\t2\n"
                + "san\tnaa.6001\t127.0.0.2:3260/1\tiscsi 127.0.0.2:3260\tdown\tonline\t\t7\t3\t0\n", c.run());
    }

    @Test
    void pathSetTakesAPathOfflineAndBack() {
        PathSetCommand c = new PathSetCommand();
        c.resources = fakes.resources;
        c.resource = "san";
        c.path = "127.0.0.1:3260/1";
        c.state = "offline";
        assertEquals("Path 127.0.0.1:3260/1 of resource san is offline\n", c.run());
        assertFalse(fakes.resources.paths.get(0).path().enabled());
        c.state = "maintenance";
        assertTrue(Shell.errorOutput(c).startsWith("Error executing command: INVALID_ARGUMENT: path state must be"));
        c.state = "online";
        c.run();
        assertTrue(fakes.resources.paths.get(0).path().enabled());
    }

    @Test
    void resourceSetChangesParametersAndNeverShowsASecret() {
        ResourceSetCommand c = new ResourceSetCommand();
        c.resources = fakes.resources;
        c.name = "san";
        c.parameters = List.of("policy=round-robin");
        String out = c.run();
        assertTrue(out.contains("policy=round-robin"), out);
        assertFalse(out.contains("s3cret-value"), out);
        assertTrue(out.contains("chap-secret=********"), out);
        ResourceListCommand list = new ResourceListCommand();
        list.resources = fakes.resources;
        String listed = list.run();
        assertFalse(listed.contains("s3cret-value"), listed);
        assertFalse(fakes.resources.resource("san").toString().contains("s3cret-value"));
    }
}
