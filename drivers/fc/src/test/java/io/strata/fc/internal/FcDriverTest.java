package io.strata.fc.internal;

import static io.strata.fc.internal.FcPathTest.assertCode;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.StorageResource;
import io.strata.multipath.Multipath;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver's description, parameters and attach errors. */
class FcDriverTest {
    @TempDir(factory = TargetTempDirs.class)
    Path tmp;
    final FcDriver driver = new FcDriver();

    @Test
    void describesItself() {
        assertEquals("fc", driver.type());
        assertEquals(EnumSet.of(Capability.DEVICE_DISCOVERY, Capability.BLOCK_DEVICES, Capability.DEVICE_UNMAP,
                Capability.UNCACHED_IO, Capability.DEVICE_STATE, Capability.MULTIPATH), driver.capabilities());
        assertTrue(driver.parameters().keySet().containsAll(Multipath.PARAMETERS.keySet()));
        assertTrue(driver.parameters().keySet().containsAll(List.of("sysfs", "dev", "host")));
    }

    @Test
    void badParametersNameThemselves() {
        FakeSysfs fake = FcSysfsTest.twoByTwo(tmp);
        Map<String, String> p = new HashMap<>(fake.params());
        p.put("hosts", "host3");
        StorageException e = assertThrows(StorageException.class, () -> driver.attach("san1", p));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("'hosts'"), e.getMessage());
        p.remove("hosts");
        p.put("host", "hba3");
        e = assertThrows(StorageException.class, () -> driver.attach("san1", p));
        assertTrue(e.getMessage().contains("'host'"), e.getMessage());
        p.put("host", "host3");
        p.put("sysfs", "relative/sys");
        e = assertThrows(StorageException.class, () -> driver.attach("san1", p));
        assertTrue(e.getMessage().contains("'sysfs'"), e.getMessage());
        p.put("sysfs", fake.sys().toString());
        p.put("policy", "sideways");
        e = assertThrows(StorageException.class, () -> driver.attach("san1", p));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("policy"), e.getMessage());
        assertCode(ErrorCode.INVALID_NAME, () -> driver.attach("../x", fake.params()));
    }

    @Test
    void noHbaIsDeviceUnavailable() {
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> driver.attach("san1",
                Map.of("sysfs", tmp.resolve("sys").toString(), "dev", tmp.resolve("dev").toString())));
        FakeSysfs fake = FcSysfsTest.twoByTwo(tmp);
        Map<String, String> p = new HashMap<>(fake.params());
        p.put("host", "host7");
        StorageException e = assertThrows(StorageException.class, () -> driver.attach("san1", p));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains("host7"), e.getMessage());
    }

    @Test
    void attachIsIdempotent() {
        FakeSysfs fake = FcSysfsTest.twoByTwo(tmp);
        try (StorageResource a = driver.attach("san1", fake.params());
                StorageResource b = driver.attach("san1", fake.params())) {
            assertEquals(a.devices(), b.devices());
            assertEquals("fc", a.driverType());
            assertEquals(fake.params(), a.parameters());
        }
    }
}
