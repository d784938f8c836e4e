package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.VolumeRef;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@link SnapshotService}, a facade over {@link StrataCore} (its own component because
 * {@code list(VolumeRef)} next to {@code VolumeService.list(String)} would make
 * {@code list(null)} ambiguous). The work is in {@link Chains}.
 */
@Component(service = SnapshotService.class)
public final class SnapshotServiceImpl implements SnapshotService {
    private final StrataCore core;

    @Activate
    public SnapshotServiceImpl(@Reference StrataCore core) {
        this.core = requireNonNull(core, "core");
    }

    @Override
    public SnapshotInfo create(VolumeRef volume, String name) {
        return core.snapshotCreate(requireNonNull(volume, "volume"), name);
    }

    @Override
    public List<SnapshotInfo> list(VolumeRef volume) {
        return core.snapshotList(requireNonNull(volume, "volume"));
    }

    @Override
    public void revert(VolumeRef volume, String snapshot) {
        core.snapshotRevert(requireNonNull(volume, "volume"), snapshot);
    }

    @Override
    public TaskInfo delete(VolumeRef volume, String snapshot) {
        return core.snapshotDelete(requireNonNull(volume, "volume"), snapshot);
    }
}
