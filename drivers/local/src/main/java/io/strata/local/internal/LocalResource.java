package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.StorageResource;
import java.util.Map;

/** What the three kinds of local resource share. */
abstract class LocalResource implements StorageResource {
    private final String name;
    private final Map<String, String> parameters;

    LocalResource(String name, Map<String, String> parameters) {
        this.name = name;
        this.parameters = Map.copyOf(parameters);
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String driverType() {
        return LocalDriver.TYPE;
    }

    @Override
    public final Map<String, String> parameters() {
        return parameters;
    }

    /** @return the device with this id among {@link #devices()}, so ids never reach paths unchecked */
    final DeviceInfo find(String deviceId) {
        return devices().stream().filter(d -> d.id().equals(deviceId)).findFirst()
                .orElseThrow(() -> new StorageException(ErrorCode.DEVICE_NOT_FOUND,
                        "resource " + name + " has no device '" + io.strata.api.Names.printable(String.valueOf(deviceId)) + "'"));
    }

    @Override
    public void close() {
        // local resources hold no connection; open devices are closed by their users
    }
}
