package io.strata.shell.internal;

import io.strata.api.device.PathInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.ResourceService;
import io.strata.shell.internal.completers.DeviceRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the paths of multipathed devices (iSCSI portals, Fibre Channel ports). */
@Command(scope = "storage", name = "path-list",
        description = "Lists the paths to multipathed devices: state, activity, I/Os and errors")
@Service
public class PathListCommand extends ListCommand {

    @Reference
    ResourceService resources;

    @Argument(index = 0, name = "device", description = "Only this resource's paths (resource), or one device's"
            + " (resource/device)")
    @Completion(DeviceRefCompleter.class)
    String device;

    @Override
    String run() {
        String resource = null;
        String dev = null;
        if (device != null) {
            int slash = device.indexOf('/');
            resource = slash < 0 ? device : device.substring(0, slash);
            dev = slash < 0 ? null : device.substring(slash + 1);
        }
        Table table = new Table();
        table.column("Resource");
        table.column("Device");
        table.column("Path");
        table.column("Transport");
        table.column("State");
        table.column("Admin");
        table.column("Active");
        table.number("I/Os");
        table.number("Errors");
        table.number("In flight");
        for (ResourcePath rp : resources.paths(resource, dev)) {
            PathInfo p = rp.path();
            table.row(rp.resource(), p.device(), p.id(), p.transport(), state(p), p.enabled() ? "online" : "offline",
                    p.active() ? "*" : "", Long.toString(p.ios()), Long.toString(p.errors()),
                    Integer.toString(p.inFlight()));
        }
        return table.render(!noFormat);
    }

    private static String state(PathInfo p) {
        return switch (p.state()) {
            case ONLINE -> "up";
            case DEGRADED -> "failing";
            case OFFLINE -> "down";
        };
    }
}
