package io.strata.posix;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.WriteFence;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.SpaceInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A datastore over one local directory: each datastore file is a regular file
 * directly inside it. Used by the dir layer as is and by ext4 on its mount point.
 *
 * <p>Names are checked before any path is built, so no name can leave the
 * directory. Capabilities are probed once when the datastore is opened, so they
 * say what this directory's filesystem really does.
 */
public final class LocalDirectoryDatastore implements Datastore {
    /** Prefix of the datastore's own metadata files, allowed besides {@link Names}. */
    public static final String INTERNAL_PREFIX = ".strata";
    /** Prefix of the temporary files of {@link #writeAtomically}; never listed, never accepted as a name. */
    public static final String TEMP_PREFIX = ".strata-tmp-";

    private static final Duration STALE_TEMP = Duration.ofHours(1);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final System.Logger LOG = System.getLogger(LocalDirectoryDatastore.class.getName());

    private final String name;
    private final String filesystemType;
    private final Path directory;
    private final Runnable onClose;
    private final Set<Capability> capabilities;
    private final Set<LocalFile> openFiles;
    private volatile boolean closed; // of the base only
    /** This datastore, or for a {@linkplain #fenced fenced view} the datastore whose mount it shares. */
    private final LocalDirectoryDatastore base;
    /** Null, or for a fenced view the check made right before each system call that changes a file. */
    private final WriteFence fence;

    /**
     * Opens the datastore.
     *
     * @param name the datastore name
     * @param filesystemType the layer type reported by {@link #filesystemType()}
     * @param directory an existing directory
     * @param onClose run once by {@link #close()} after every open file is closed (e.g. unmount); may be null
     * @throws StorageException {@code DEVICE_UNAVAILABLE} when the directory does not exist
     */
    public LocalDirectoryDatastore(String name, String filesystemType, Path directory, Runnable onClose) {
        this(name, filesystemType, directory, onClose, false);
    }

    /**
     * Opens the datastore, possibly as a directory that several hosts use at once.
     *
     * @param shared the directory is shared by several hosts: the datastore declares
     *        {@link Capability#SHARED}, offers no {@link Capability#FILE_LOCKS} (byte-range locks do
     *        not reach other hosts on every shared filesystem), and leaves temporary files alone at
     *        open (they may be another host's atomic write in progress)
     * @see #LocalDirectoryDatastore(String, String, Path, Runnable)
     */
    public LocalDirectoryDatastore(String name, String filesystemType, Path directory, Runnable onClose,
            boolean shared) {
        this.name = name;
        this.filesystemType = filesystemType;
        this.directory = directory.toAbsolutePath().normalize();
        this.onClose = onClose;
        this.openFiles = ConcurrentHashMap.newKeySet();
        this.base = this;
        this.fence = null;
        if (!Files.isDirectory(this.directory)) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "datastore " + name + ": directory " + this.directory + " does not exist");
        }
        Set<Capability> caps = probe(this.directory);
        if (shared) {
            caps.add(Capability.SHARED);
            caps.remove(Capability.FILE_LOCKS);
        } else {
            removeStaleTemporaries();
        }
        this.capabilities = Collections.unmodifiableSet(caps);
    }

    private LocalDirectoryDatastore(LocalDirectoryDatastore base, WriteFence fence) {
        this.name = base.name;
        this.filesystemType = base.filesystemType;
        this.directory = base.directory;
        this.onClose = null;
        this.capabilities = base.capabilities;
        this.openFiles = base.openFiles;
        this.base = base;
        this.fence = fence;
    }

    /**
     * A view of this datastore whose files check {@code fence} in the thread that makes each
     * system call changing them, right before it ({@code pwrite}, {@code pwritev},
     * {@code ftruncate}, {@code fallocate}), after the file's own locks and turns; deletes,
     * renames and atomic writes check it right before their call too. A shared directory's
     * caller checks the host's lease before it calls a file; a thread that halts between that
     * check and the system call (waiting for its turn at a large write, or stopped) then issues
     * nothing once the lease has expired. The view shares this datastore's mount and open
     * files: closing either closes both.
     */
    @Override
    public Datastore fenced(WriteFence fence) {
        return new LocalDirectoryDatastore(base, java.util.Objects.requireNonNull(fence, "fence"));
    }

    private void fence() {
        if (fence != null) {
            fence.check();
        }
    }

    /**
     * Checks a datastore file name: {@link Names#check} rules, except that names
     * starting with {@value #INTERNAL_PREFIX} are allowed for metadata (still without
     * path separators, {@code ..} or control characters).
     *
     * @return the name
     * @throws StorageException {@code INVALID_NAME}
     */
    public static String checkName(String name) {
        if (name == null || !name.startsWith(INTERNAL_PREFIX)) {
            return Names.check("file", name);
        }
        String shown = Names.printable(name);
        if (name.startsWith(TEMP_PREFIX)) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    "file name '" + shown + "' is reserved for temporary files");
        }
        if (name.length() > Names.MAX_LENGTH) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    "file name is longer than " + Names.MAX_LENGTH + " characters");
        }
        if (name.indexOf('/') >= 0 || name.indexOf('\\') >= 0 || name.contains("..")) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    "file name '" + shown + "' must not contain a path separator or '..'");
        }
        for (int i = 0; i < name.length(); i++) {
            if (Character.isISOControl(name.charAt(i))) {
                throw new StorageException(ErrorCode.INVALID_NAME,
                        "file name '" + shown + "' must not contain control characters");
            }
        }
        return name;
    }

    private Path resolve(String fileName) {
        checkOpen();
        Path p = directory.resolve(checkName(fileName));
        if (!directory.equals(p.getParent())) { // belt and braces: checkName already guarantees it
            throw new StorageException(ErrorCode.INVALID_NAME, "file name '" + Names.printable(fileName)
                    + "' leaves datastore " + name);
        }
        return p;
    }

    private void checkOpen() {
        if (base.closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore " + name + " is closed");
        }
    }

    private static Set<Capability> probe(Path dir) {
        Set<Capability> caps = EnumSet.of(Capability.LOCAL_PATHS);
        Path p = dir.resolve(TEMP_PREFIX + "probe-" + HexFormat.of().toHexDigits(RANDOM.nextLong()));
        int fd = -1;
        try {
            fd = Posix.open(p, true, true);
            long probeSize = 1 << 20;
            Posix.truncate(fd, probeSize, p);
            long allocated = Posix.allocatedBytes(fd);
            if (allocated >= 0 && allocated < probeSize) {
                caps.add(Capability.SPARSE_FILES);
            }
            caps.add(tryCapability(Capability.PREALLOCATE, fd, p));
            caps.add(tryCapability(Capability.PUNCH_HOLE, fd, p));
            caps.add(tryCapability(Capability.FILE_LOCKS, fd, p));
        } catch (StorageException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot probe " + dir + ": " + e.getMessage());
        } finally {
            Posix.close(fd);
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot remove probe file " + p + ": " + e);
            }
        }
        caps.remove(null);
        return caps;
    }

    private static Capability tryCapability(Capability c, int fd, Path p) {
        try {
            switch (c) {
                case PREALLOCATE:
                    Posix.allocate(fd, 0, 65536, p);
                    return c;
                case PUNCH_HOLE:
                    Posix.punchHole(fd, 0, 65536, p);
                    return c;
                case FILE_LOCKS:
                    if (Posix.lock(fd, true, p)) {
                        Posix.unlock(fd, p);
                        return c;
                    }
                    return null;
                default:
                    return null;
            }
        } catch (StorageException e) {
            return null;
        }
    }

    private void removeStaleTemporaries() {
        Instant limit = Instant.now().minus(STALE_TEMP);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(directory, TEMP_PREFIX + "*")) {
            for (Path p : ds) {
                if (Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(limit)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot clean temporary files in " + directory + ": " + e);
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String filesystemType() {
        return filesystemType;
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    @Override
    public SpaceInfo space() {
        checkOpen();
        try {
            FileStore store = Files.getFileStore(directory);
            return new SpaceInfo(store.getTotalSpace(), store.getUsableSpace());
        } catch (NoSuchFileException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "datastore " + name + ": directory " + directory + " is gone", e);
        } catch (IOException e) {
            throw Errno.exception(e, "read the capacity of", directory);
        }
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(directory);
    }

    @Override
    public List<String> list() {
        checkOpen();
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(directory)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                // lost+found and anything else that is not a plain file is not part of the datastore
                if (!n.startsWith(TEMP_PREFIX) && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    names.add(n);
                }
            }
        } catch (IOException e) {
            throw Errno.exception(e, "list", directory);
        }
        Collections.sort(names);
        return names;
    }

    @Override
    public boolean exists(String fileName) {
        return Files.isRegularFile(resolve(fileName), LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public FileStat stat(String fileName) {
        Path p = resolve(fileName);
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            long allocated = Posix.allocatedBytes(p);
            return new FileStat(fileName, a.size(), allocated >= 0 ? allocated : a.size());
        } catch (IOException e) {
            throw Errno.exception(e, "stat", p);
        }
    }

    @Override
    public DatastoreFile create(String fileName) {
        Path p = resolve(fileName);
        LocalFile f = register(LocalFile.open(fileName, p, true, true, fence, openFiles::remove));
        try {
            Posix.fsyncDirectory(directory);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
        return f;
    }

    @Override
    public DatastoreFile open(String fileName, boolean writable) {
        Path p = resolve(fileName);
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, p + " is a directory, not a datastore file");
        }
        return register(LocalFile.open(fileName, p, writable, false, writable ? fence : null, openFiles::remove));
    }

    private LocalFile register(LocalFile f) {
        openFiles.add(f);
        if (base.closed) { // closed concurrently: do not leave a file open behind close()
            f.close();
            checkOpen();
        }
        return f;
    }

    @Override
    public void delete(String fileName) {
        Path p = resolve(fileName);
        try {
            fence();
            Files.delete(p);
        } catch (IOException e) {
            throw Errno.exception(e, "delete", p);
        }
        Posix.fsyncDirectory(directory);
    }

    @Override
    public void rename(String from, String to) {
        Path src = resolve(from);
        Path dst = resolve(to);
        try {
            fence();
            Files.move(src, dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw Errno.exception(e, "rename " + src + " to", dst);
        }
        Posix.fsyncDirectory(directory);
    }

    @Override
    public void writeAtomically(String fileName, byte[] content) {
        Path target = resolve(fileName);
        Path temp = directory.resolve(TEMP_PREFIX + fileName + "-" + HexFormat.of().toHexDigits(RANDOM.nextLong()));
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(content);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            fence();
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
        } catch (IOException e) {
            throw Errno.exception(e, "write", target);
        } finally {
            if (!moved) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "cannot remove temporary file " + temp + ": " + e);
                }
            }
        }
        Posix.fsyncDirectory(directory);
    }

    @Override
    public byte[] readAll(String fileName) {
        Path p = resolve(fileName);
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw Errno.exception(e, "read", p);
        }
    }

    /** @return how many files of this datastore are open now */
    public int openFileCount() {
        return openFiles.size();
    }

    @Override
    public void close() {
        if (base != this) {
            base.close();
            return;
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (LocalFile f : List.copyOf(openFiles)) {
            f.close();
        }
        if (onClose != null) {
            try {
                onClose.run();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "closing datastore " + name + ": " + e.getMessage(), e);
            }
        }
    }

    @Override
    public String toString() {
        return "LocalDirectoryDatastore[" + name + ", " + filesystemType + ", " + directory + "]";
    }
}
