package io.strata.local.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.StorageDriver;
import io.strata.api.device.StorageResource;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.osgi.service.component.annotations.Component;

/**
 * The {@code local} driver: local directories (file shares), file-backed LUNs and
 * the host's block devices. Stateless: every attach builds a fresh handle on the
 * same directory, file or disks, which makes attach idempotent.
 */
@Component(service = StorageDriver.class, property = StorageDriver.TYPE_PROPERTY + "=" + LocalDriver.TYPE)
public final class LocalDriver implements StorageDriver {
    static final String TYPE = "local";

    private static final Map<String, String> PARAMETERS;

    static {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("kind", "directory | file-lun | block (default block): what the resource offers");
        m.put("path", "kind=directory: the directory (device 'dir'); kind=file-lun: the LUN's backing file (device 'lun')");
        m.put("create", "kind=directory|file-lun: create the directory or file when missing (true|false, default true)");
        m.put("size", "kind=file-lun: size of a new LUN, e.g. 1G, a multiple of 512; an existing file keeps its size");
        m.put("devices", "kind=block: comma-separated kernel or /dev/disk/by-id names to offer, e.g. vdb,loop3 "
                + "(default: every whole disk except loop, ram, zram, dm, nbd, md, sr, fd)");
        m.put("direct", "kind=file-lun|block: uncached I/O with O_DIRECT (true|false, default false)");
        m.put("io.timeout.ms", "kind=file-lun|block: time limit of one I/O in milliseconds; one that exceeds it "
                + "fails with DEVICE_UNAVAILABLE and marks the device degraded (default 0: no limit)");
        PARAMETERS = Collections.unmodifiableMap(m);
    }

    private final Path sysBlock;
    private final Path dev;

    /** Used by DS. */
    public LocalDriver() {
        this(Path.of("/sys/block"), Path.of("/dev"));
    }

    LocalDriver(Path sysBlock, Path dev) {
        this.sysBlock = sysBlock;
        this.dev = dev;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "Local directories, file-backed LUNs and the host's block devices";
    }

    @Override
    public Set<Capability> capabilities() {
        // not COMPARE_AND_WRITE nor PERSISTENT_RESERVATIONS: local disks and files offer neither
        return Collections.unmodifiableSet(EnumSet.of(Capability.DEVICE_DISCOVERY, Capability.BLOCK_DEVICES,
                Capability.FILE_SHARES, Capability.DEVICE_CREATE, Capability.UNCACHED_IO, Capability.IO_TIMEOUT,
                Capability.DEVICE_STATE));
    }

    @Override
    public Map<String, String> parameters() {
        return PARAMETERS;
    }

    @Override
    public StorageResource attach(String name, Map<String, String> parameters) {
        Names.check("resource", name);
        Map<String, String> params = parameters == null ? Map.of() : parameters;
        String kind = params.getOrDefault("kind", "block");
        switch (kind == null || kind.isBlank() ? "block" : kind.trim()) {
            case "directory":
                return new DirectoryResource(name, params);
            case "file-lun":
                return new FileLunResource(name, params);
            case "block":
                return new BlockResource(name, params, sysBlock, dev);
            default:
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + name + ": parameter 'kind' is '"
                        + Names.printable(kind) + "'; expected directory, file-lun or block");
        }
    }
}
