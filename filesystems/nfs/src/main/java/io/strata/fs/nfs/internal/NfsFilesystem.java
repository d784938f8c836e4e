package io.strata.fs.nfs.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.api.fs.ShareFiles;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.osgi.service.component.annotations.Component;

/**
 * The {@code nfs} layer: a datastore is a directory of a NAS export (the export's root, or a
 * directory in it given by the option {@code path}), reached through the NAS driver's client
 * ({@link ShareFiles}). The server owns the filesystem: nothing to format. Every NFS datastore
 * is {@link Capability#SHARED}: any number of hosts mount the same export, and the core
 * coordinates them through a lockspace file in the datastore.
 */
@Component(service = DatastoreFilesystem.class, property = DatastoreFilesystem.TYPE_PROPERTY + "=" + NfsFilesystem.TYPE)
public final class NfsFilesystem implements DatastoreFilesystem {
    static final String TYPE = "nfs";
    /** The option naming a directory of the export to keep the datastore in (made when missing). */
    static final String PATH_OPTION = "path";

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "Datastore on a NAS export (NFSv3), shared by every host that mounts it";
    }

    /** Sparse files and sharing; no preallocation, hole punching or file locks over NFSv3. */
    @Override
    public Set<Capability> capabilities() {
        return Collections.unmodifiableSet(EnumSet.of(Capability.SPARSE_FILES, Capability.SHARED));
    }

    @Override
    public DeviceKind deviceKind() {
        return DeviceKind.FILE_SHARE;
    }

    @Override
    public void format(StorageDevice device, Map<String, String> options, boolean force) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "an nfs datastore uses the export as the server keeps"
                + " it; there is nothing to format on " + device.info().ref());
    }

    @Override
    public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
        if (!(device instanceof ShareFiles files)) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "datastore " + datastoreName + ": device "
                    + device.info().ref() + " is not a NAS export; an nfs datastore needs a device of a nas resource");
        }
        Map<String, String> opts = options == null ? Map.of() : options;
        for (String key : opts.keySet()) {
            if (!key.equals(PATH_OPTION)) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "datastore " + datastoreName
                        + ": the nfs layer takes only the option '" + PATH_OPTION + "', got '" + Names.printable(key)
                        + "'");
            }
        }
        String dir = directory(datastoreName, opts.getOrDefault(PATH_OPTION, ""));
        if (!dir.isEmpty() && !files.isDirectory(dir)) {
            makeDirectories(files, dir);
        }
        return new NfsDatastore(datastoreName, device, files, dir);
    }

    /** @return the option's directory without leading or trailing slashes, checked */
    static String directory(String datastoreName, String path) {
        String p = path.trim();
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.isEmpty()) {
            return "";
        }
        for (String part : p.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || part.length() > 255
                    || part.chars().anyMatch(c -> c < 0x20 || c == 0x7f || c == '\\')) {
                throw new StorageException(ErrorCode.INVALID_NAME, "datastore " + datastoreName + ": path '"
                        + Names.printable(path) + "' must be a directory inside the export (no empty names, '.', '..'"
                        + " or control characters)");
            }
        }
        return p;
    }

    private static void makeDirectories(ShareFiles files, String dir) {
        StringBuilder at = new StringBuilder();
        for (String part : dir.split("/")) {
            if (at.length() > 0) {
                at.append('/');
            }
            at.append(part);
            String d = at.toString();
            if (!files.isDirectory(d)) {
                try {
                    files.mkdir(d);
                } catch (StorageException e) {
                    if (e.code() != ErrorCode.ALREADY_EXISTS || !files.isDirectory(d)) {
                        throw e; // another host making it at the same time is fine; a file of that name is not
                    }
                }
            }
        }
    }
}
