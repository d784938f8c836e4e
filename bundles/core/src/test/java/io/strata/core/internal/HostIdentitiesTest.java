package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.strata.lease.HostIdentity;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HostIdentitiesTest {
    @Test
    void theIdentityIsMadeAtFirstStartAndKeptInTheConfiguration() {
        MemoryConfigStore store = new MemoryConfigStore();
        HostIdentity first = HostIdentities.load(store, "esx1");
        assertEquals("esx1", first.name());
        assertEquals(first.id().toString(), store.loadSingleton(StrataCore.HOST_PID).get("id"));
        HostIdentity again = HostIdentities.load(store, "");
        assertEquals(first.id(), again.id(), "the same host after a restart");
        assertFalse(again.name().isBlank(), "the hostname when no name is set");
        assertNotEquals(first.id(), HostIdentities.load(new MemoryConfigStore(), "esx1").id(),
                "another host, another identity");
    }

    @Test
    void aNameInTheConfigurationIsUsedAndABadIdIsReplacedNotGuessed() {
        MemoryConfigStore store = new MemoryConfigStore();
        store.saveSingleton(StrataCore.HOST_PID, Map.of("id", "not-a-uuid", "name", "rack2-host7"));
        HostIdentity h = HostIdentities.load(store, "");
        assertEquals("rack2-host7", h.name());
        Map<String, Object> kept = store.loadSingleton(StrataCore.HOST_PID);
        assertEquals(h.id().toString(), kept.get("id"));
        assertEquals("not-a-uuid", kept.get("id.refused"), "the refused value is kept for the operator");
    }
}
