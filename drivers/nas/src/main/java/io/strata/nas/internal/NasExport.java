package io.strata.nas.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceState;
import io.strata.api.device.FileShare;
import io.strata.api.device.WriteFence;
import io.strata.api.device.Subscription;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.ShareFiles;
import io.strata.api.fs.SpaceInfo;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A mounted export: a file share with no local path whose files are reached through its
 * {@link NfsMount} ({@link ShareFiles}). Its state is the NFS server's as the client sees it
 * ({@link io.strata.nas.internal.rpc.RpcClient#state()}): ONLINE while it answers, DEGRADED while
 * it does not and requests wait, OFFLINE once that lasted the limit (requests fail meanwhile).
 */
final class NasExport implements FileShare, ShareFiles {
    private final DeviceInfo info;
    private final NfsMount mount;
    private final Files files;
    private final String uri;
    private final Consumer<NasExport> onClose;
    private final List<Consumer<DeviceState>> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    NasExport(DeviceInfo info, NfsMount mount, String uri, Consumer<NasExport> onClose) {
        this.info = info;
        this.mount = mount;
        this.files = new Files(mount);
        this.uri = uri;
        this.onClose = onClose;
        mount.nfs().rpc().onStateChange(state -> {
            for (Consumer<DeviceState> l : listeners) {
                l.accept(state);
            }
        });
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    @Override
    public String uri() {
        return uri;
    }

    NfsMount mount() {
        return mount;
    }

    private void checkOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "export " + info.ref() + " is closed");
        }
    }

    @Override
    public List<String> list(String directory) {
        return files.list(directory);
    }

    @Override
    public boolean isDirectory(String path) {
        return files.isDirectory(path);
    }

    @Override
    public FileStat stat(String path) {
        return files.stat(path);
    }

    @Override
    public DatastoreFile open(String path, boolean writable) {
        return files.open(path, writable);
    }

    @Override
    public DatastoreFile create(String path, boolean exclusive) {
        return files.create(path, exclusive);
    }

    @Override
    public void mkdir(String path) {
        files.mkdir(path);
    }

    @Override
    public void delete(String path) {
        files.delete(path);
    }

    @Override
    public void rename(String from, String to) {
        files.rename(from, to);
    }

    @Override
    public SpaceInfo space() {
        return files.space();
    }

    /**
     * The export's files for a host that may write only while {@code fence} passes: each NFS
     * request made through them is checked against the fence by the RPC client right before it
     * goes to the server, and before each resend.
     */
    @Override
    public ShareFiles fenced(WriteFence fence) {
        return files.fenced(fence);
    }

    @Override
    public DeviceState state() {
        return closed ? DeviceState.OFFLINE : mount.state();
    }

    @Override
    public Subscription addStateListener(Consumer<DeviceState> listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        listeners.clear();
        mount.close();
        onClose.accept(this);
    }

    /** The share's files through one view of the mount. */
    private final class Files implements ShareFiles {
        private final NfsMount mount;

        Files(NfsMount mount) {
            this.mount = mount;
        }

        @Override
        public List<String> list(String directory) {
            checkOpen();
            return mount.listFiles(directory);
        }

        @Override
        public boolean isDirectory(String path) {
            checkOpen();
            try {
                return mount.stat(path).isDirectory();
            } catch (StorageException e) {
                if (e.code() == ErrorCode.FILE_NOT_FOUND) {
                    return false;
                }
                throw e;
            }
        }

        @Override
        public FileStat stat(String path) {
            checkOpen();
            Nfs3.Attr a = mount.stat(path);
            if (!a.isRegular()) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "'" + path + "' on " + info.ref()
                        + " is not a regular file");
            }
            return new FileStat(path, a.size(), a.used());
        }

        @Override
        public DatastoreFile open(String path, boolean writable) {
            checkOpen();
            return mount.open(path, writable);
        }

        @Override
        public DatastoreFile create(String path, boolean exclusive) {
            checkOpen();
            return mount.create(path, exclusive);
        }

        @Override
        public void mkdir(String path) {
            checkOpen();
            mount.mkdir(path);
        }

        @Override
        public void delete(String path) {
            checkOpen();
            mount.remove(path);
        }

        @Override
        public void rename(String from, String to) {
            checkOpen();
            mount.rename(from, to);
        }

        @Override
        public SpaceInfo space() {
            checkOpen();
            Nfs3.FsStat s = mount.space();
            return new SpaceInfo(s.totalBytes(), Math.min(s.availableBytes(), s.totalBytes()));
        }

        @Override
        public ShareFiles fenced(WriteFence fence) {
            return new Files(mount.fenced(fence));
        }

        @Override
        public DeviceState state() {
            return NasExport.this.state();
        }

        @Override
        public Subscription addStateListener(Consumer<DeviceState> listener) {
            return NasExport.this.addStateListener(listener);
        }
    }
}
