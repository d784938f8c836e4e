package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Raw device mapping as the core's built-in format {@code rdm}: a volume whose image file is a
 * {@link RdmMapping mapping file} and whose bytes are those of a whole block device (a SAN LUN or
 * a local disk). Everything the core does with volumes (handles, NBD exports, statistics, QoS,
 * leases on shared datastores, delete) works unchanged; what needs an image format (snapshots,
 * linked clones, resize, reclaim) is refused because the format lacks the capability. Mapping
 * files are made only by {@code volume-map}, never created or imported as images.
 */
final class RdmFormat implements DiskFormat {
    /** Opens the device a mapping names; checks that it is still the device that was mapped. */
    @FunctionalInterface
    interface DeviceOpener {
        BlockDevice open(RdmMapping mapping);
    }

    private final DeviceOpener opener;

    RdmFormat(DeviceOpener opener) {
        this.opener = requireNonNull(opener, "opener");
    }

    @Override
    public String type() {
        return RdmMapping.TYPE;
    }

    @Override
    public String description() {
        return "Raw device mapping: a whole block device (LUN) used as a volume (built in)";
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.of(Capability.THICK, Capability.CHECK);
    }

    @Override
    public String fileExtension() {
        return RdmMapping.TYPE;
    }

    @Override
    public long maxVirtualSize() {
        return Long.MAX_VALUE;
    }

    /** Never: a mapping file is not an image, so import cannot adopt one and reach a device. */
    @Override
    public boolean recognizes(DatastoreFile file) {
        return false;
    }

    @Override
    public ImageInfo probe(DatastoreFile file) {
        RdmMapping m = RdmMapping.read(file);
        return new ImageInfo(RdmMapping.TYPE, m.size(), Provisioning.THICK,
                Map.of("device", m.ref(), "identity", m.identity()));
    }

    @Override
    public VirtualDisk create(DatastoreFile file, DiskSpec spec) {
        throw new StorageException(ErrorCode.UNSUPPORTED,
                "a raw device mapping is made with storage:volume-map <datastore>/<volume> <resource>/<device>");
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly) {
        RdmMapping m = RdmMapping.read(file);
        return new MappedDisk(m, opener, readOnly);
    }

    @Override
    public VirtualDisk open(DatastoreFile file, boolean readOnly, BackingResolver backing) {
        return open(file, readOnly);
    }

    /** Checks the mapping file and that its device is there, is the device mapped, and has its size. */
    @Override
    public CheckReport check(DatastoreFile file, BackingResolver backing, boolean repair) {
        List<String> errors = new ArrayList<>();
        try {
            RdmMapping m = RdmMapping.read(file);
            try (BlockDevice d = opener.open(m)) {
                if (d.size() < m.size()) {
                    errors.add("device " + m.ref() + " has shrunk from " + m.size() + " to " + d.size() + " bytes");
                }
            } catch (StorageException e) {
                errors.add(e.getMessage());
            }
        } catch (StorageException e) {
            errors.add(e.getMessage());
        }
        return new CheckReport(file.name(), errors, List.of(), List.of(), 0);
    }
}
