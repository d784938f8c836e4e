package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.service.ResourceInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secret parameters of resources never reach the configuration store (Configuration Admin,
 * which {@code config:list} prints and Karaf writes to etc/): they go to a 0600 file, and the
 * core still gets them back, across a restart, through {@code resource-set} and delete.
 */
class SecretKeepingStoreTest {
    @TempDir
    Path tmp;

    private static Map<String, Object> resource(String name, Map<String, String> params) {
        return new HostConfig.Resource(name, "iscsi", params).toProperties();
    }

    private static Map<String, String> params(Map<String, Object> props) {
        return HostConfig.map(props.get(HostConfig.PARAMETERS));
    }

    private static String stored(MemoryConfigStore cm, String name) {
        return Arrays.toString((String[]) cm.get(ConfigStore.RESOURCE_FACTORY_PID, name).get(HostConfig.PARAMETERS));
    }

    @Test
    void aSecretGoesToItsOwnFileAndComesBackOnLoad() throws Exception {
        MemoryConfigStore cm = new MemoryConfigStore();
        Path file = tmp.resolve("etc/strata-secrets.properties");
        SecretKeepingStore store = new SecretKeepingStore(cm, file);
        store.save(ConfigStore.RESOURCE_FACTORY_PID, "san", resource("san",
                Map.of("portal", "127.0.0.1", "chap-user", "u", "chap-secret", "s3cr3t-value")));

        assertFalse(stored(cm, "san").contains("s3cr3t-value"), stored(cm, "san"));
        assertTrue(stored(cm, "san").contains("chap-secret=" + SecretKeepingStore.PLACEHOLDER), stored(cm, "san"));
        assertTrue(Files.readString(file).contains("s3cr3t-value"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));

        // a restart: a new store over the same configuration and file
        SecretKeepingStore again = new SecretKeepingStore(cm, file);
        Map<String, Object> loaded = again.load(ConfigStore.RESOURCE_FACTORY_PID).get(0);
        assertEquals("s3cr3t-value", params(loaded).get("chap-secret"));
        assertEquals("u", params(loaded).get("chap-user"));
        assertEquals("127.0.0.1", params(loaded).get("portal"));

        // resource-set: a new secret replaces the old one, still out of the configuration
        again.save(ConfigStore.RESOURCE_FACTORY_PID, "san", resource("san",
                Map.of("portal", "127.0.0.1", "chap-user", "u", "chap-secret", "other-value")));
        assertFalse(Files.readString(file).contains("s3cr3t-value"));
        assertEquals("other-value", params(again.load(ConfigStore.RESOURCE_FACTORY_PID).get(0)).get("chap-secret"));
        assertFalse(stored(cm, "san").contains("other-value"));

        // the secret parameter dropped: its value goes from the file too
        again.save(ConfigStore.RESOURCE_FACTORY_PID, "san", resource("san", Map.of("portal", "127.0.0.1")));
        assertFalse(Files.readString(file).contains("other-value"));

        // delete: nothing of the resource is left
        again.save(ConfigStore.RESOURCE_FACTORY_PID, "san", resource("san",
                Map.of("portal", "127.0.0.1", "chap-user", "u", "chap-secret", "third-value")));
        again.delete(ConfigStore.RESOURCE_FACTORY_PID, "san");
        assertFalse(Files.readString(file).contains("third-value"));
        assertTrue(again.load(ConfigStore.RESOURCE_FACTORY_PID).isEmpty());
    }

    @Test
    void aSecretWrittenIntoTheConfigurationIsMovedOutWhenLoaded() throws Exception {
        MemoryConfigStore cm = new MemoryConfigStore();
        // as an older Strata (or config:edit) left it
        cm.save(ConfigStore.RESOURCE_FACTORY_PID, "old", resource("old",
                Map.of("portal", "10.0.0.1", "password", "plain-value")));
        Path file = tmp.resolve("strata-secrets.properties");
        SecretKeepingStore store = new SecretKeepingStore(cm, file);
        Map<String, Object> loaded = store.load(ConfigStore.RESOURCE_FACTORY_PID).get(0);
        assertEquals("plain-value", params(loaded).get("password"));
        assertFalse(stored(cm, "old").contains("plain-value"), stored(cm, "old"));
        assertTrue(Files.readString(file).contains("plain-value"));
        assertTrue(ResourceInfo.isSecret("password"));
    }

    @Test
    void otherConfigurationsAndParametersAreLeftAsTheyAre() {
        MemoryConfigStore cm = new MemoryConfigStore();
        Path file = tmp.resolve("strata-secrets.properties");
        SecretKeepingStore store = new SecretKeepingStore(cm, file);
        store.save(ConfigStore.RESOURCE_FACTORY_PID, "disk", resource("disk", Map.of("path", "/dev/sdb")));
        store.save(ConfigStore.DATASTORE_FACTORY_PID, "ds", Map.of("name", "ds", "options", new String[] {"a=b"}));
        assertEquals("[path=/dev/sdb]", stored(cm, "disk"));
        assertEquals(Map.of("name", "ds", "options", "[a=b]"), Map.of("name",
                cm.get(ConfigStore.DATASTORE_FACTORY_PID, "ds").get("name"), "options",
                Arrays.toString((String[]) cm.get(ConfigStore.DATASTORE_FACTORY_PID, "ds").get("options"))));
        assertFalse(Files.exists(file), "no secret, no file");
    }

    @Test
    void aSecretMissingFromTheFileLeavesThePlaceholderAndTheRestLoads() {
        MemoryConfigStore cm = new MemoryConfigStore();
        cm.save(ConfigStore.RESOURCE_FACTORY_PID, "san", resource("san",
                Map.of("portal", "127.0.0.1", "chap-secret", SecretKeepingStore.PLACEHOLDER)));
        SecretKeepingStore store = new SecretKeepingStore(cm, tmp.resolve("strata-secrets.properties"));
        Map<String, Object> loaded = store.load(ConfigStore.RESOURCE_FACTORY_PID).get(0);
        assertEquals(SecretKeepingStore.PLACEHOLDER, params(loaded).get("chap-secret"));
        assertEquals("127.0.0.1", params(loaded).get("portal"));
    }
}
