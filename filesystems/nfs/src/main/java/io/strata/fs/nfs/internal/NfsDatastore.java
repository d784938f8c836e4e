package io.strata.fs.nfs.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.FileShare;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.WriteFence;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.ShareFiles;
import io.strata.api.fs.SpaceInfo;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A datastore in a directory of a NAS export. Its files are the directory's regular files;
 * names follow {@link Names} (plus {@code .strata*} names for the core's metadata), so none can
 * leave the directory. Atomic writes go to a temporary file, COMMITted, then renamed over the
 * target (RENAME is atomic on an NFS server).
 */
final class NfsDatastore implements Datastore {
    static final String INTERNAL_PREFIX = ".strata";
    static final String TEMP_PREFIX = ".strata-tmp-";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Set<Capability> CAPABILITIES = Collections.unmodifiableSet(
            EnumSet.of(Capability.SPARSE_FILES, Capability.SHARED));

    private final String name;
    private final StorageDevice device;
    private final ShareFiles files;
    private final String dir;
    /** The open files, of this object and of its fenced views. */
    private final Set<DatastoreFile> open;
    /** Shared with the fenced views: closing one closes all. */
    private final AtomicBoolean closed;

    NfsDatastore(String name, StorageDevice device, ShareFiles files, String dir) {
        this(name, device, files, dir, ConcurrentHashMap.newKeySet(), new AtomicBoolean());
        files.list(dir); // the directory is there and readable
    }

    private NfsDatastore(String name, StorageDevice device, ShareFiles files, String dir, Set<DatastoreFile> open,
            AtomicBoolean closed) {
        this.name = name;
        this.device = device;
        this.files = files;
        this.dir = dir;
        this.open = open;
        this.closed = closed;
    }

    /**
     * The datastore whose every request to the server (file data, creates, renames, deletes,
     * the catalog's atomic writes) is checked against {@code fence} by the NAS driver right
     * before it is sent, and before each resend.
     */
    @Override
    public Datastore fenced(WriteFence fence) {
        return new NfsDatastore(name, device, files.fenced(fence), dir, open, closed);
    }

    /**
     * Checks a datastore file name: {@link Names#check} rules, or a {@code .strata} name for
     * metadata (still without separators, {@code ..} or control characters); temporary names
     * are refused.
     */
    static String checkName(String file) {
        if (file != null && file.startsWith(TEMP_PREFIX)) {
            throw new StorageException(ErrorCode.INVALID_NAME, "file name '" + Names.printable(file)
                    + "' is reserved for temporary files");
        }
        if (file != null && file.startsWith(INTERNAL_PREFIX)) {
            if (file.length() > Names.MAX_LENGTH || file.indexOf('/') >= 0 || file.indexOf('\\') >= 0
                    || file.contains("..") || file.chars().anyMatch(Character::isISOControl)) {
                throw new StorageException(ErrorCode.INVALID_NAME, "file name '" + Names.printable(file)
                        + "' must not contain a path separator, '..' or control characters");
            }
            return file;
        }
        return Names.check("file", file);
    }

    private String path(String file) {
        checkOpen();
        checkName(file);
        return dir.isEmpty() ? file : dir + "/" + file;
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore " + name + " is closed");
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String filesystemType() {
        return NfsFilesystem.TYPE;
    }

    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public SpaceInfo space() {
        checkOpen();
        return files.space();
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    @Override
    public List<String> list() {
        checkOpen();
        List<String> names = new ArrayList<>();
        for (String n : files.list(dir)) {
            if (!n.startsWith(TEMP_PREFIX)) {
                names.add(n);
            }
        }
        return names;
    }

    @Override
    public boolean exists(String file) {
        try {
            files.stat(path(file));
            return true;
        } catch (StorageException e) {
            if (e.code() == ErrorCode.FILE_NOT_FOUND || e.code() == ErrorCode.INVALID_ARGUMENT) {
                return false; // nothing, or not a regular file
            }
            throw e;
        }
    }

    @Override
    public FileStat stat(String file) {
        FileStat s = files.stat(path(file));
        return new FileStat(file, s.size(), s.allocated());
    }

    @Override
    public DatastoreFile create(String file) {
        return register(new NamedFile(file, files.create(path(file), true), open::remove));
    }

    @Override
    public DatastoreFile open(String file, boolean writable) {
        return register(new NamedFile(file, files.open(path(file), writable), open::remove));
    }

    private DatastoreFile register(DatastoreFile f) {
        open.add(f);
        if (closed.get()) {
            f.close();
            checkOpen();
        }
        return f;
    }

    @Override
    public void delete(String file) {
        files.delete(path(file));
    }

    @Override
    public void rename(String from, String to) {
        files.rename(path(from), path(to));
    }

    @Override
    public void writeAtomically(String file, byte[] content) {
        String target = path(file);
        String tempName = TEMP_PREFIX + file + "-" + HexFormat.of().toHexDigits(RANDOM.nextLong());
        String temp = dir.isEmpty() ? tempName : dir + "/" + tempName;
        boolean moved = false;
        try {
            try (DatastoreFile f = files.create(temp, true)) {
                f.write(ByteBuffer.wrap(content), 0);
                f.flush();
            }
            files.rename(temp, target);
            moved = true;
        } finally {
            if (!moved) {
                try {
                    files.delete(temp);
                } catch (StorageException e) {
                    // not made, or the server is away: a stale temporary is never listed
                }
            }
        }
    }

    @Override
    public byte[] readAll(String file) {
        try (DatastoreFile f = files.open(path(file), false)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            long pos = 0;
            while (true) {
                b.clear();
                int n = f.read(b, pos);
                if (n <= 0) {
                    return out.toByteArray();
                }
                out.write(b.array(), 0, n);
                pos += n;
                if (pos > Integer.MAX_VALUE - (1 << 20)) {
                    throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "file " + file + " of datastore " + name
                            + " is too large to read whole");
                }
            }
        }
    }

    @Override
    public Map<String, String> details() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("export", device instanceof FileShare s ? s.uri() : device.info().ref());
        d.put("directory", dir.isEmpty() ? "(the export's root)" : dir);
        d.put("server", files.state().name().toLowerCase(java.util.Locale.ROOT));
        return d;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (DatastoreFile f : List.copyOf(open)) {
            f.close();
        }
    }

    @Override
    public String toString() {
        return "NfsDatastore[" + name + ", " + device.info().ref() + (dir.isEmpty() ? "" : ", " + dir) + "]";
    }
}
