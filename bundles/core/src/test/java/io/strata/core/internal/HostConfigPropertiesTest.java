package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HostConfigPropertiesTest {
    @Test
    void parametersInEveryShapeAnAdminMightWrite() {
        Map<String, String> want = Map.of("kind", "directory", "path", "/srv/x");
        assertEquals(want, HostConfig.map(new String[] {"kind=directory", "path=/srv/x"}));
        assertEquals(want, HostConfig.map(List.of("kind=directory", "path=/srv/x")));
        assertEquals(want, HostConfig.map("kind=directory,path=/srv/x"));
        assertEquals(want, HostConfig.map("[kind=directory, path=/srv/x]"));
        assertEquals(Map.of("opt", "a=b"), HostConfig.map("opt=a=b"));
        assertEquals(Map.of(), HostConfig.map(null));
        assertEquals(Map.of(), HostConfig.map("[]"));
        assertThrows(IllegalArgumentException.class, () -> HostConfig.map("novalue"));
    }

    @Test
    void datastoreProperties() {
        HostConfig.Datastore d = new HostConfig.Datastore("ds", "ext4", "lun1", "lun", Map.of("force", "no"));
        Map<String, Object> p = d.toProperties();
        assertEquals("lun1/lun", p.get("device"));
        assertEquals(d, HostConfig.Datastore.fromProperties(p));
        assertThrows(IllegalArgumentException.class,
                () -> HostConfig.Datastore.fromProperties(Map.of("name", "x", "filesystem", "dir", "device", "r")));
        assertThrows(IllegalArgumentException.class,
                () -> HostConfig.Datastore.fromProperties(Map.of("name", "x", "device", "r/d")));
    }
}
