package io.strata.shell.internal;

import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Prints one volume as {@code key: value} lines, sizes in bytes. */
@Command(scope = "storage", name = "volume-info", description = "Shows a volume as key: value lines (sizes in bytes)")
@Service
public class VolumeInfoCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Override
    String run() {
        return render(volumes.info(VolumeRef.parse(volume)));
    }

    /**
     * The volume's lines, always these keys in this order (scripts and tests
     * rely on it): name, datastore, format, provisioning, virtual-size,
     * allocated, path, file, state, created.
     */
    static String render(VolumeInfo v) {
        return new Text.KeyValues()
                .put("name", v.name())
                .put("datastore", v.datastore())
                .put("format", v.format())
                .put("provisioning", v.provisioning().label())
                .put("virtual-size", v.virtualSize())
                .put("allocated", v.allocated())
                .put("path", v.path())
                .put("file", v.file())
                .put("state", v.state())
                .put("created", v.created())
                .toString();
    }
}
