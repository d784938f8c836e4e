package io.strata.shell.internal.completers;

import io.strata.api.device.DeviceInfo;
import io.strata.api.service.ResourceService;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/**
 * Completes device references, {@code resource/device}, and the names of
 * resources that offer exactly one device (datastore-create accepts those
 * alone).
 */
@Service
public class DeviceRefCompleter extends ListCompleter {

    @Reference
    ResourceService resources;

    @Override
    Collection<String> values() {
        List<DeviceInfo> devices = resources.devices(null);
        List<String> values = new ArrayList<>();
        devices.forEach(d -> values.add(d.ref()));
        Map<String, Long> perResource = devices.stream()
                .collect(Collectors.groupingBy(DeviceInfo::resource, Collectors.counting()));
        perResource.forEach((r, n) -> {
            if (n == 1) {
                values.add(r);
            }
        });
        return values;
    }
}
