package io.strata.shell.internal.completers;

import io.strata.api.device.DeviceInfo;
import io.strata.api.service.ResourceService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes device references, {@code resource/device}. */
@Service
public class DeviceRefCompleter extends ListCompleter {

    @Reference
    ResourceService resources;

    @Override
    Collection<String> values() {
        return resources.devices(null).stream().map(DeviceInfo::ref).collect(Collectors.toList());
    }
}
