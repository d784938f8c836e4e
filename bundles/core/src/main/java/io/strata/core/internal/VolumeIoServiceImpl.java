package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.service.QosLimits;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@link VolumeIoService}, a facade over the core's {@link IoRegistry}. */
@Component(service = VolumeIoService.class)
public final class VolumeIoServiceImpl implements VolumeIoService {
    private final StrataCore core;

    @Activate
    public VolumeIoServiceImpl(@Reference StrataCore core) {
        this.core = requireNonNull(core, "core");
    }

    @Override
    public VolumeStats stats(VolumeRef volume) {
        core.info(requireNonNull(volume, "volume")); // VOLUME_NOT_FOUND
        VolumeIo io = core.io().find(volume);
        if (io == null) {
            // Not opened since the core started: nothing counted yet.
            return new VolumeIo(volume, Ticker.SYSTEM).withLimits(core.io().limits(volume)).stats();
        }
        return io.stats();
    }

    @Override
    public List<VolumeStats> all() {
        return core.io().all();
    }

    @Override
    public void reset(VolumeRef volume) {
        core.info(requireNonNull(volume, "volume"));
        VolumeIo io = core.io().find(volume);
        if (io != null) {
            io.reset();
        }
    }

    @Override
    public QosLimits qos(VolumeRef volume) {
        core.info(requireNonNull(volume, "volume"));
        return core.io().limits(volume);
    }

    @Override
    public void setQos(VolumeRef volume, QosLimits limits) {
        core.info(requireNonNull(volume, "volume"));
        core.io().setLimits(volume, requireNonNull(limits, "limits"));
    }
}
