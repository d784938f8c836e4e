package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.PathInfo;
import io.strata.api.device.StorageDriver;
import io.strata.api.device.StorageResource;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.api.fs.SpaceInfo;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.HostInfo;
import io.strata.api.service.HostService;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.PluginKind;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.ResourceService;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The core: tracks drivers, filesystem layers and formats, keeps the host's
 * resources and datastores (persisted in Configuration Admin), attaches and
 * mounts them whenever what they need is present, and serves volumes.
 *
 * <p>Threading. Binds and unbinds arrive on any thread, as do service calls.
 * <ul>
 * <li>{@link #lock} (a monitor) guards the resource and datastore tables. It is
 * held only to read or update them, never while calling a plugin.</li>
 * <li>{@link #control} serializes the control plane (attach, mount, format, config
 * changes). It is held while calling plugins, which is bounded work; unbinds never
 * take it, so a plugin going away is never blocked behind an attach or a long
 * volume operation.</li>
 * <li>Work done under {@link #control} publishes its result under {@link #lock} only
 * after checking that the plugin it used is still bound, so a plugin that goes away
 * meanwhile never leaves a dangling mount.</li>
 * <li>Volume operations take no core lock beyond a table lookup; see
 * {@link MountedDatastore}. Lock order: {@link #lock} may be taken before a mount's
 * lock, never after.</li>
 * </ul>
 */
@Component(service = {StrataCore.class, DatastoreService.class, VolumeService.class, HostService.class},
        configurationPid = StrataCore.PID, immediate = true)
@Designate(ocd = CoreConfig.class)
public final class StrataCore implements DatastoreService, VolumeService, HostService {
    /** The PID of this host's identity (its UUID, made at first start, and its name). */
    static final String HOST_PID = "io.strata.host";
    /** The PID of the core's own configuration. */
    public static final String PID = "io.strata.core";
    /** The file, under the state directory, recording that the embedded default was made once. */
    static final String DEFAULT_MARKER = "embedded-default.created";
    /** The format of a volume created without one. */
    static final String DEFAULT_FORMAT = "vhd";

    private static final Logger LOG = LoggerFactory.getLogger(StrataCore.class);

    private final ConfigStore store;
    private volatile CoreSettings settings;
    private final PluginSet<StorageDriver> drivers = new PluginSet<>();
    private final PluginSet<DatastoreFilesystem> filesystems = new PluginSet<>();
    private final PluginSet<DiskFormat> formats = new PluginSet<>();

    private final Object lock = new Object();
    private final ReentrantLock control = new ReentrantLock();
    private final Map<String, ResourceEntry> resources = new TreeMap<>();
    private final Map<String, DatastoreEntry> datastores = new TreeMap<>();
    private boolean closed;
    private final TaskManager tasks = new TaskManager();
    /** Per-volume I/O statistics and QoS limits (VolumeIoServiceImpl). */
    private final IoRegistry ioRegistry;
    /** This host, as shared datastores know it. */
    private final io.strata.lease.HostIdentity host;
    /** The lease clock; tests may slow or speed it. */
    private final io.strata.lease.LeaseClock leaseClock = io.strata.lease.LeaseClock.SYSTEM;
    /** Runs {@link #reconcile} for binds and fences, which only record what changed. */
    /** Runs {@link #retry}; null when timed retries are off. */
    private final java.util.concurrent.ScheduledExecutorService retries;
    private final java.util.concurrent.ExecutorService reconciler = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "strata-reconciler");
        t.setDaemon(true);
        return t;
    });
    private final java.util.concurrent.atomic.AtomicBoolean reconcileQueued = new java.util.concurrent.atomic.AtomicBoolean();

    /** A configured resource and, while attached, its handle. Mutable fields guarded by {@link #lock}. */
    private static final class ResourceEntry {
        /** Replaced by {@link #updateResource}; read and written under {@link #lock}. */
        volatile HostConfig.Resource config;
        StorageResource attached;
        StorageDriver driver;
        String message = "";

        ResourceEntry(HostConfig.Resource config) {
            this.config = config;
        }
    }

    /** A configured datastore and, while mounted, its mount. Mutable fields guarded by {@link #lock}. */
    private static final class DatastoreEntry {
        final HostConfig.Datastore config;
        MountedDatastore mount;
        String message = "";
        Catalog lastCatalog = Catalog.EMPTY;

        DatastoreEntry(HostConfig.Datastore config) {
            this.config = config;
        }
    }

    @Activate
    public StrataCore(CoreConfig config,
            @Reference(name = "configurationAdmin") ConfigurationAdmin configurationAdmin) {
        this(keepingSecrets(new CmConfigStore(configurationAdmin)), CoreSettings.from(config), Ticker.SYSTEM, true);
    }

    /**
     * Configuration Admin with the resources' secret parameters kept in
     * {@code etc/strata-secrets.properties} (mode 0600) instead ({@link SecretKeepingStore});
     * outside Karaf (no {@code karaf.etc}) the store as it is.
     */
    private static ConfigStore keepingSecrets(ConfigStore cm) {
        String etc = System.getProperty("karaf.etc");
        if (etc == null || etc.isBlank()) {
            LOG.warn("karaf.etc is not set: secret resource parameters stay in Configuration Admin");
            return cm;
        }
        return new SecretKeepingStore(cm, java.nio.file.Path.of(etc, "strata-secrets.properties"));
    }

    StrataCore(ConfigStore store, CoreSettings settings) {
        this(store, settings, Ticker.SYSTEM, false);
    }

    StrataCore(ConfigStore store, CoreSettings settings, Ticker ticker, boolean jmx) {
        this.store = requireNonNull(store, "store");
        this.settings = requireNonNull(settings, "settings");
        this.ioRegistry = new IoRegistry(store, ticker, jmx);
        this.host = HostIdentities.load(store, settings.hostName());
        RdmFormat rdm = new RdmFormat(this::openMapped);
        formats.add(rdm, new PluginInfo(PluginKind.FORMAT, rdm.type(), rdm.description(), rdm.capabilities(),
                "io.strata.core (built in)"));
        loadResources().values().forEach(r -> resources.put(r.name(), new ResourceEntry(r)));
        loadDatastores().values().forEach(d -> datastores.put(d.name(), new DatastoreEntry(d)));
        ensureEmbeddedDefault();
        // Nothing is bound yet (DS binds after construction): this only fills in the reasons.
        reconcile();
        if (settings.retryMillis() > 0) {
            retries = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "strata-retry");
                t.setDaemon(true);
                return t;
            });
            retries.scheduleWithFixedDelay(this::retry, settings.retryMillis(), settings.retryMillis(),
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        } else {
            retries = null;
        }
        LOG.info("core started: {} resource(s), {} datastore(s) configured", resources.size(), datastores.size());
    }

    /**
     * Tries again what is configured but not attached or mounted: a NAS server or an iSCSI target
     * that did not answer, a datastore whose host fenced itself while its device was away. Runs
     * on its own thread every {@link CoreSettings#retryMillis}; the work is the reconciler's.
     */
    private void retry() {
        boolean waiting;
        synchronized (lock) {
            waiting = !closed && (resources.values().stream().anyMatch(r -> r.attached == null)
                    || datastores.values().stream().anyMatch(d -> d.mount == null));
        }
        if (waiting) {
            wake();
        }
    }

    private Map<String, HostConfig.Resource> loadResources() {
        Map<String, HostConfig.Resource> map = new TreeMap<>();
        for (Map<String, Object> p : store.load(ConfigStore.RESOURCE_FACTORY_PID)) {
            try {
                HostConfig.Resource r = HostConfig.Resource.fromProperties(p);
                map.put(Names.check("resource", r.name()), r);
            } catch (RuntimeException e) {
                LOG.warn("ignoring malformed resource configuration {}: {}", p, e.getMessage());
            }
        }
        return map;
    }

    private Map<String, HostConfig.Datastore> loadDatastores() {
        Map<String, HostConfig.Datastore> map = new TreeMap<>();
        for (Map<String, Object> p : store.load(ConfigStore.DATASTORE_FACTORY_PID)) {
            try {
                HostConfig.Datastore d = HostConfig.Datastore.fromProperties(p);
                Names.check("resource", d.resource());
                map.put(Names.check("datastore", d.name()), d);
            } catch (RuntimeException e) {
                LOG.warn("ignoring malformed datastore configuration {}: {}", p, e.getMessage());
            }
        }
        return map;
    }

    /**
     * Follows configuration changed outside the services ({@code config:edit}, a .cfg file
     * dropped into etc/, {@code config:delete}): objects that appeared are attached and
     * mounted, objects that disappeared are released, objects whose properties changed are
     * released and attached again. Changes the services made themselves are already in the
     * tables, so their events change nothing. Nothing on a device is ever deleted here.
     */
    void resync() {
        control.lock();
        try {
            Map<String, HostConfig.Resource> wantResources = loadResources();
            Map<String, HostConfig.Datastore> wantDatastores = loadDatastores();
            List<Detached> mounts = new ArrayList<>();
            List<StorageResource> detached = new ArrayList<>();
            boolean changed = false;
            synchronized (lock) {
                if (closed) {
                    return;
                }
                for (var it = datastores.values().iterator(); it.hasNext();) {
                    DatastoreEntry e = it.next();
                    HostConfig.Datastore want = wantDatastores.get(e.config.name());
                    if (!e.config.equals(want)) {
                        if (e.mount != null) {
                            mounts.add(detach(e, want == null ? "its configuration was deleted"
                                    : "its configuration changed"));
                        }
                        it.remove();
                        changed = true;
                    }
                }
                for (var it = resources.values().iterator(); it.hasNext();) {
                    ResourceEntry r = it.next();
                    if (!r.config.equals(wantResources.get(r.config.name()))) {
                        for (DatastoreEntry e : datastores.values()) {
                            if (e.config.resource().equals(r.config.name()) && e.mount != null) {
                                mounts.add(detach(e, "the configuration of resource '" + r.config.name()
                                        + "' changed"));
                            }
                        }
                        if (r.attached != null) {
                            detached.add(r.attached);
                            r.attached = null;
                            r.driver = null;
                        }
                        it.remove();
                        changed = true;
                    }
                }
                for (HostConfig.Resource r : wantResources.values()) {
                    if (!resources.containsKey(r.name())) {
                        resources.put(r.name(), new ResourceEntry(r));
                        changed = true;
                    }
                }
                for (HostConfig.Datastore d : wantDatastores.values()) {
                    if (!datastores.containsKey(d.name())) {
                        datastores.put(d.name(), new DatastoreEntry(d));
                        changed = true;
                    }
                }
            }
            release(mounts, detached);
            if (changed) {
                LOG.info("host configuration changed outside the services: now {} resource(s), {} datastore(s)",
                        wantResources.size(), wantDatastores.size());
                reconcile();
            }
        } finally {
            control.unlock();
        }
    }

    @Modified
    void modified(CoreConfig config) {
        settings = CoreSettings.from(config);
        control.lock();
        try {
            ensureEmbeddedDefault();
        } finally {
            control.unlock();
        }
        reconcile();
    }

    @Deactivate
    void deactivate() {
        close();
    }

    // ================================================================ plugin tracking

    @Reference(service = StorageDriver.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindDriver(ServiceReference<StorageDriver> ref, StorageDriver driver) {
        recordDriver(driver, type(ref, StorageDriver.TYPE_PROPERTY, driver::type), bundle(ref));
        wake();
    }

    void unbindDriver(ServiceReference<StorageDriver> ref, StorageDriver driver) {
        removeDriver(driver);
    }

    @Reference(service = DatastoreFilesystem.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindFilesystem(ServiceReference<DatastoreFilesystem> ref, DatastoreFilesystem fs) {
        recordFilesystem(fs, type(ref, DatastoreFilesystem.TYPE_PROPERTY, fs::type), bundle(ref));
        wake();
    }

    void unbindFilesystem(ServiceReference<DatastoreFilesystem> ref, DatastoreFilesystem fs) {
        removeFilesystem(fs);
    }

    @Reference(service = DiskFormat.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindFormat(ServiceReference<DiskFormat> ref, DiskFormat format) {
        addFormat(format, type(ref, DiskFormat.TYPE_PROPERTY, format::type), bundle(ref));
    }

    void unbindFormat(ServiceReference<DiskFormat> ref, DiskFormat format) {
        removeFormat(format);
    }

    private static String type(ServiceReference<?> ref, String property, java.util.function.Supplier<String> fallback) {
        Object t = ref == null ? null : ref.getProperty(property);
        return t instanceof String s && !s.isBlank() ? s : fallback.get();
    }

    private static String bundle(ServiceReference<?> ref) {
        Bundle b = ref == null ? null : ref.getBundle();
        return b == null || b.getSymbolicName() == null ? "" : b.getSymbolicName();
    }

    /** Records a driver and attaches what waited for it, before returning (tests call this). */
    void addDriver(StorageDriver driver, String type, String bundle) {
        recordDriver(driver, type, bundle);
        reconcile();
    }

    private void recordDriver(StorageDriver driver, String type, String bundle) {
        drivers.add(driver, new PluginInfo(PluginKind.DRIVER, type, driver.description(), driver.capabilities(),
                bundle));
        LOG.info("storage driver '{}' from {} is available", type, bundle);
    }

    /** Records a filesystem layer and mounts what waited for it, before returning (tests call this). */
    void addFilesystem(DatastoreFilesystem fs, String type, String bundle) {
        recordFilesystem(fs, type, bundle);
        reconcile();
    }

    private void recordFilesystem(DatastoreFilesystem fs, String type, String bundle) {
        filesystems.add(fs, new PluginInfo(PluginKind.FILESYSTEM, type, fs.description(), fs.capabilities(),
                bundle));
        LOG.info("filesystem layer '{}' from {} is available", type, bundle);
    }

    /**
     * Asks the reconciler thread to attach and mount what is now possible. DS binds and fences
     * only record what changed and call this: attaching, mounting, joining a lockspace and the
     * recovery of a mount (which may finish a snapshot merge) never run inside a service callback.
     */
    void wake() {
        if (reconcileQueued.compareAndSet(false, true)) {
            try {
                reconciler.execute(() -> {
                    reconcileQueued.set(false);
                    try {
                        reconcile();
                    } catch (RuntimeException e) {
                        LOG.error("reconciliation failed: {}", e.toString(), e);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                reconcileQueued.set(false); // stopping
            }
        }
    }

    /** Waits until the reconciler has nothing queued or running (tests). */
    void awaitReconciled() {
        try {
            reconciler.submit(() -> { }).get(5, java.util.concurrent.TimeUnit.MINUTES);
            reconciler.submit(() -> { }).get(5, java.util.concurrent.TimeUnit.MINUTES);
        } catch (Exception e) {
            throw new IllegalStateException("the reconciler did not finish: " + e, e);
        }
    }

    /**
     * Long work a restart interrupted (a snapshot delete's merge) resumes as a task, listed by
     * task-list, once its datastore is online: never inside the mount.
     */
    private void resumeTasks(MountedDatastore m) {
        m.recovery.onResumable = () -> resumeTasks(m);
        for (String volume : m.recovery.takeResumable()) {
            tasks.submit("snapshot-delete", m.name() + "/" + volume + " (resumed)", t -> {
                try {
                    return m.recovery.resume(volume);
                } finally {
                    m.recovery.resumed(volume);
                }
            });
            LOG.info("datastore {}: the interrupted snapshot delete of volume {} resumes as a task", m.name(), volume);
        }
    }

    /** What a mount needs to join a shared datastore. */
    Sharing sharing() {
        CoreSettings s = settings;
        return new Sharing(host, s.lease(), leaseClock, this::fenced);
    }

    /**
     * This host could not renew its lease on a shared datastore in time and stopped its I/O there
     * (called on the lease's thread): the datastore goes offline here, its handles fail, and the
     * reconciler mounts it again, joining the lockspace with a new generation. Volumes this host
     * held may meanwhile have been taken over by other hosts.
     */
    void fenced(String datastore) {
        List<Detached> mounts = new ArrayList<>();
        synchronized (lock) {
            DatastoreEntry e = datastores.get(datastore);
            if (e != null && e.mount != null) {
                mounts.add(detach(e, "this host could not renew its lease on the shared datastore in time "
                        + "and stopped its I/O there (self-fencing); it joins again"));
            }
        }
        LOG.error("datastore {}: host {} lost its lease (could not renew in time) and stopped all I/O there",
                datastore, host);
        release(mounts, List.of());
        wake();
    }

    @Override
    public HostInfo host() {
        List<HostInfo.Shared> shared = new ArrayList<>();
        List<DatastoreEntry> entries;
        synchronized (lock) {
            entries = List.copyOf(datastores.values());
        }
        for (DatastoreEntry e : entries) {
            MountedDatastore m = e.mount;
            SharedAccess a = m == null ? null : m.sharedAccess();
            if (a == null) {
                continue;
            }
            io.strata.lease.Lockspace ls = a.lockspace();
            List<HostInfo.Member> members = ls.hosts().stream().map(h -> new HostInfo.Member(h.slot(), h.host().id(),
                    h.host().name(), h.generation(), h.state().name(), h.unchangedMillis())).toList();
            shared.add(new HostInfo.Shared(e.config.name(), ls.slot(), ls.generation(), ls.valid(), members));
        }
        return new HostInfo(host.id(), host.name(), shared);
    }

    void addFormat(DiskFormat format, String type, String bundle) {
        formats.add(format, new PluginInfo(PluginKind.FORMAT, type, format.description(), format.capabilities(),
                bundle));
        LOG.info("disk format '{}' from {} is available", type, bundle);
    }

    void removeDriver(StorageDriver driver) {
        List<Detached> mounts = new ArrayList<>();
        List<StorageResource> detached = new ArrayList<>();
        String type;
        String reason;
        synchronized (lock) {
            PluginSet.Bound<StorageDriver> b = drivers.remove(driver);
            if (b == null) {
                return;
            }
            type = b.type();
            reason = "driver '" + type + "' is not installed";
            for (ResourceEntry r : resources.values()) {
                if (r.driver != driver) {
                    continue;
                }
                for (DatastoreEntry e : datastores.values()) {
                    if (e.config.resource().equals(r.config.name()) && e.mount != null) {
                        mounts.add(detach(e, "resource '" + r.config.name() + "' is unavailable: " + reason));
                    }
                }
                detached.add(r.attached);
                r.attached = null;
                r.driver = null;
                r.message = reason;
            }
        }
        release(mounts, detached);
        LOG.info("storage driver '{}' went away: {} resource(s) and {} datastore(s) now unavailable", type,
                detached.size(), mounts.size());
        if (drivers.get(type) != null) {
            reconcile();
        }
    }

    void removeFilesystem(DatastoreFilesystem fs) {
        List<Detached> mounts = new ArrayList<>();
        String type;
        synchronized (lock) {
            PluginSet.Bound<DatastoreFilesystem> b = filesystems.remove(fs);
            if (b == null) {
                return;
            }
            type = b.type();
            for (DatastoreEntry e : datastores.values()) {
                if (e.mount != null && e.mount.filesystem() == fs) {
                    mounts.add(detach(e, "filesystem '" + type + "' is not installed"));
                }
            }
        }
        release(mounts, List.of());
        LOG.info("filesystem layer '{}' went away: {} datastore(s) now unavailable", type, mounts.size());
        if (filesystems.get(type) != null) {
            reconcile();
        }
    }

    void removeFormat(DiskFormat format) {
        List<MountedDatastore> mounts = new ArrayList<>();
        String type;
        synchronized (lock) {
            PluginSet.Bound<DiskFormat> b = formats.remove(format);
            if (b == null) {
                return;
            }
            type = b.type();
            for (DatastoreEntry e : datastores.values()) {
                if (e.mount != null) {
                    mounts.add(e.mount);
                }
            }
        }
        if (formats.get(type) == null) {
            for (MountedDatastore m : mounts) {
                m.invalidateFormat(type, "format '" + type + "' is not installed");
            }
        }
        LOG.info("disk format '{}' went away", type);
    }

    /** A mount taken away from its entry, with the reason, waiting to be released. */
    private record Detached(MountedDatastore mount, String reason) {
    }

    /** Must hold {@link #lock}. Takes the mount away from the entry; the caller releases it. */
    private Detached detach(DatastoreEntry e, String reason) {
        MountedDatastore m = e.mount;
        e.mount = null;
        e.lastCatalog = m.catalog();
        e.message = reason;
        return new Detached(m, reason);
    }

    /** Outside {@link #lock}: invalidates handles, unmounts, releases devices, then detaches resources. */
    private void release(List<Detached> mounts, List<StorageResource> detached) {
        for (Detached d : mounts) {
            d.mount().invalidate("datastore '" + d.mount().name() + "' is unavailable (" + d.reason() + ")");
            d.mount().close();
        }
        for (StorageResource r : detached) {
            MountedDatastore.closeQuietly(r);
        }
    }

    /** Stops everything without deleting anything: used at deactivation. */
    void close() {
        List<Detached> mounts = new ArrayList<>();
        List<StorageResource> detached = new ArrayList<>();
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            if (retries != null) {
                retries.shutdownNow();
            }
            reconciler.shutdownNow();
            tasks.close();
            ioRegistry.close();
            for (DatastoreEntry e : datastores.values()) {
                if (e.mount != null) {
                    mounts.add(detach(e, "the core is stopping"));
                }
            }
            for (ResourceEntry r : resources.values()) {
                if (r.attached != null) {
                    detached.add(r.attached);
                    r.attached = null;
                    r.driver = null;
                    r.message = "the core is stopping";
                }
            }
        }
        release(mounts, detached);
    }

    // ================================================================ reconciliation

    /** Attaches and mounts whatever is configured, not yet up, and has its plugins present. */
    void reconcile() {
        control.lock();
        try {
            attachResources();
            mountDatastores();
        } finally {
            control.unlock();
        }
    }

    private void attachResources() {
        List<ResourceEntry> todo;
        synchronized (lock) {
            if (closed) {
                return;
            }
            todo = resources.values().stream().filter(r -> r.attached == null).toList();
        }
        for (ResourceEntry r : todo) {
            String type = r.config.driver();
            StorageDriver d = drivers.get(type);
            if (d == null) {
                setMessage(r, "driver '" + type + "' is not installed");
                continue;
            }
            StorageResource res;
            try {
                res = d.attach(r.config.name(), r.config.parameters());
            } catch (RuntimeException e) {
                if (setMessage(r, message(e))) {
                    LOG.warn("cannot attach resource {}: {}", r.config.name(), e.getMessage());
                } else {
                    LOG.debug("cannot attach resource {} (again): {}", r.config.name(), e.getMessage());
                }
                continue;
            }
            boolean kept;
            synchronized (lock) {
                kept = !closed && resources.get(r.config.name()) == r && r.attached == null
                        && drivers.isCurrent(d, type);
                if (kept) {
                    r.attached = res;
                    r.driver = d;
                    r.message = "";
                }
            }
            if (kept) {
                LOG.info("resource {} attached (driver {})", r.config.name(), type);
            } else {
                MountedDatastore.closeQuietly(res);
            }
        }
    }

    private void mountDatastores() {
        record Todo(DatastoreEntry entry, ResourceEntry resource, StorageResource attached, String resourceMessage) {
        }
        List<Todo> todo = new ArrayList<>();
        synchronized (lock) {
            if (closed) {
                return;
            }
            for (DatastoreEntry e : datastores.values()) {
                if (e.mount == null) {
                    ResourceEntry r = resources.get(e.config.resource());
                    todo.add(new Todo(e, r, r == null ? null : r.attached, r == null ? "" : r.message));
                }
            }
        }
        // Joining a shared datastore's lockspace can wait for an expiry (a restart after a crash):
        // datastores of this host alone come online first.
        todo.sort(java.util.Comparator.comparing(t -> "true".equalsIgnoreCase(
                t.entry().config.options().getOrDefault("shared", "false").trim())));
        for (Todo t : todo) {
            DatastoreEntry e = t.entry();
            if (t.resource() == null) {
                setMessage(e, "resource '" + e.config.resource() + "' is not configured");
                continue;
            }
            if (t.attached() == null) {
                setMessage(e, "resource '" + e.config.resource() + "' is unavailable: " + t.resourceMessage());
                continue;
            }
            String type = e.config.filesystem();
            DatastoreFilesystem fs = filesystems.get(type);
            if (fs == null) {
                setMessage(e, "filesystem '" + type + "' is not installed");
                continue;
            }
            MountedDatastore m;
            try {
                m = MountedDatastore.mount(e.config, t.attached(), fs, formats, false, false, sharing(), true);
                m.io = ioRegistry;
            } catch (RuntimeException ex) {
                if (setMessage(e, message(ex))) {
                    LOG.warn("cannot mount datastore {}: {}", e.config.name(), ex.getMessage());
                } else {
                    LOG.debug("cannot mount datastore {} (again): {}", e.config.name(), ex.getMessage());
                }
                continue;
            }
            boolean kept;
            synchronized (lock) {
                kept = !closed && datastores.get(e.config.name()) == e && e.mount == null
                        && t.resource().attached == t.attached() && filesystems.isCurrent(fs, type);
                if (kept) {
                    e.mount = m;
                    e.message = "";
                }
            }
            if (kept) {
                LOG.info("datastore {} mounted ({} on {})", e.config.name(), type, e.config.deviceRef());
                resumeTasks(m);
            } else {
                m.invalidate("datastore '" + e.config.name() + "' went away while it was being mounted");
                m.close();
            }
        }
    }

    /** @return whether the message changed (a failure that repeats is logged once) */
    private boolean setMessage(ResourceEntry r, String message) {
        synchronized (lock) {
            if (r.attached == null && !message.equals(r.message)) {
                r.message = message;
                return true;
            }
            return false;
        }
    }

    /** @return whether the message changed */
    private boolean setMessage(DatastoreEntry e, String message) {
        synchronized (lock) {
            if (e.mount == null && !message.equals(e.message)) {
                e.message = message;
                return true;
            }
            return false;
        }
    }

    private static String message(RuntimeException e) {
        return e instanceof StorageException se ? se.toUserString() : String.valueOf(e);
    }

    // ================================================================ embedded default

    /**
     * Writes the configuration of the embedded default (a local directory resource and a dir
     * datastore on it) the first time the core starts with it enabled. A marker file in the
     * core's state directory records that it was done, so a default the user removed is not
     * brought back at the next start. Plugins need not be present: the default comes online
     * when the local driver and the dir filesystem appear.
     */
    private void ensureEmbeddedDefault() {
        CoreSettings s = settings;
        if (!s.defaultEnabled()) {
            return;
        }
        Path marker = s.stateDir().resolve(DEFAULT_MARKER);
        if (Files.exists(marker)) {
            return;
        }
        String name = s.defaultName();
        try {
            Names.check("datastore", name);
            // Runs in the constructor or under control, so no service call changes the tables meanwhile;
            // Configuration Admin is called outside the lock.
            boolean hasResource;
            boolean hasDatastore;
            synchronized (lock) {
                hasResource = resources.containsKey(name);
                hasDatastore = datastores.containsKey(name) || datastores.values().stream()
                        .anyMatch(d -> d.config.resource().equals(name) && d.config.device().equals("dir"));
            }
            if (!hasResource) {
                HostConfig.Resource r = new HostConfig.Resource(name, "local",
                        Map.of("kind", "directory", "path", s.defaultPath().toString()));
                store.save(ConfigStore.RESOURCE_FACTORY_PID, name, r.toProperties());
                synchronized (lock) {
                    resources.put(name, new ResourceEntry(r));
                }
            }
            if (!hasDatastore) {
                HostConfig.Datastore d = new HostConfig.Datastore(name, "dir", name, "dir", Map.of());
                store.save(ConfigStore.DATASTORE_FACTORY_PID, name, d.toProperties());
                synchronized (lock) {
                    datastores.put(name, new DatastoreEntry(d));
                }
            }
            try {
                Files.createDirectories(s.defaultPath());
            } catch (IOException e) {
                LOG.warn("cannot create the default datastore directory {}: {}", s.defaultPath(), e.getMessage());
            }
            Files.createDirectories(s.stateDir());
            Files.writeString(marker, "embedded default '" + name + "' configured at " + Instant.now() + " in "
                    + s.defaultPath() + "\n");
            LOG.info("embedded default datastore '{}' configured in {}", name, s.defaultPath());
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot configure the embedded default datastore '{}': {}", name, e.getMessage());
        }
    }

    // ================================================================ resources (ResourceServiceImpl)

    /** {@link ResourceService#plugins}. */
    List<PluginInfo> plugins() {
        return Stream.of(drivers.all(), filesystems.all(), formats.all())
                .flatMap(l -> l.stream().map(PluginSet.Bound::info))
                .sorted(Comparator.comparing(PluginInfo::kind).thenComparing(PluginInfo::type)
                        .thenComparing(PluginInfo::bundle))
                .toList();
    }

    /** {@link ResourceService#resources}. */
    List<ResourceInfo> resources() {
        synchronized (lock) {
            return resources.values().stream().map(StrataCore::info).toList();
        }
    }

    /** {@link ResourceService#resource}. */
    ResourceInfo resource(String name) {
        synchronized (lock) {
            return info(resourceEntry(name));
        }
    }

    private static ResourceInfo info(ResourceEntry r) {
        return new ResourceInfo(r.config.name(), r.config.driver(), r.config.parameters(),
                r.attached != null ? Availability.ONLINE : Availability.UNAVAILABLE,
                r.attached != null ? "" : r.message);
    }

    /** Must hold {@link #lock}. */
    private ResourceEntry resourceEntry(String name) {
        Names.check("resource", name);
        ResourceEntry r = resources.get(name);
        if (r == null) {
            throw new StorageException(ErrorCode.RESOURCE_NOT_FOUND, "resource '" + name + "' does not exist");
        }
        return r;
    }

    /** {@link ResourceService#add}. */
    ResourceInfo addResource(String name, String driver, Map<String, String> parameters) {
        Names.check("resource", name);
        if (driver == null || driver.isBlank()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource '" + name + "': no driver given");
        }
        Map<String, String> params = parameters == null ? Map.of() : Map.copyOf(parameters);
        for (String key : params.keySet()) {
            if (key.isBlank() || key.contains("=")) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                        "resource '" + name + "': bad parameter name '" + Names.printable(key) + "'");
            }
        }
        control.lock();
        try {
            synchronized (lock) {
                ensureRunning();
                if (resources.containsKey(name)) {
                    throw new StorageException(ErrorCode.ALREADY_EXISTS, "resource '" + name + "' already exists");
                }
            }
            StorageDriver d = drivers.get(driver);
            if (d == null) {
                throw new StorageException(ErrorCode.DRIVER_NOT_FOUND, "storage driver '" + driver
                        + "' is not installed (installed: " + types(drivers) + ")");
            }
            StorageResource res = d.attach(name, params);
            HostConfig.Resource config = new HostConfig.Resource(name, driver, params);
            try {
                store.save(ConfigStore.RESOURCE_FACTORY_PID, name, config.toProperties());
            } catch (RuntimeException e) {
                MountedDatastore.closeQuietly(res);
                throw e;
            }
            ResourceEntry entry = new ResourceEntry(config);
            boolean kept;
            synchronized (lock) {
                resources.put(name, entry);
                kept = !closed && drivers.isCurrent(d, driver);
                if (kept) {
                    entry.attached = res;
                    entry.driver = d;
                } else {
                    entry.message = "driver '" + driver + "' is not installed";
                }
            }
            if (!kept) {
                MountedDatastore.closeQuietly(res);
            }
            LOG.info("resource {} added (driver {}, {})", name, driver, config.shown());
            // Datastores configured on this name (edited by hand, or left over) can mount now.
            mountDatastores();
        } finally {
            control.unlock();
        }
        return resource(name);
    }

    /** {@link ResourceService#remove}. */
    void removeResource(String name) {
        control.lock();
        try {
            ResourceEntry r;
            synchronized (lock) {
                r = resourceEntry(name);
                List<String> users = datastores.values().stream()
                        .filter(e -> e.config.resource().equals(name)).map(e -> e.config.name()).toList();
                if (!users.isEmpty()) {
                    throw new StorageException(ErrorCode.RESOURCE_IN_USE, "resource '" + name
                            + "' carries datastore(s) " + String.join(", ", users) + "; remove them first");
                }
            }
            store.delete(ConfigStore.RESOURCE_FACTORY_PID, name);
            StorageResource res;
            synchronized (lock) {
                resources.remove(name);
                res = r.attached;
                r.attached = null;
                r.driver = null;
            }
            if (res != null) {
                MountedDatastore.closeQuietly(res);
            }
            LOG.info("resource {} removed", name);
        } finally {
            control.unlock();
        }
    }

    /** {@link ResourceService#devices}. */
    List<DeviceInfo> devices(String resource) {
        List<StorageResource> targets = resource == null ? attachedResources() : List.of(attachedResource(resource));
        List<DeviceInfo> all = new ArrayList<>();
        for (StorageResource r : targets) {
            try {
                all.addAll(r.devices());
            } catch (StorageException e) {
                if (resource != null) {
                    throw e;
                }
                LOG.debug("resource {} lists no devices: {}", r.name(), e.getMessage());
            }
        }
        all.sort(Comparator.comparing(DeviceInfo::resource).thenComparing(DeviceInfo::id));
        return all;
    }

    /** {@link ResourceService#paths}. */
    List<ResourcePath> paths(String resource, String device) {
        List<StorageResource> targets = resource == null ? attachedResources() : List.of(attachedResource(resource));
        List<ResourcePath> all = new ArrayList<>();
        for (StorageResource r : targets) {
            for (PathInfo p : r.paths()) {
                if (device == null || device.equals(p.device())) {
                    all.add(new ResourcePath(r.name(), p));
                }
            }
        }
        if (device != null && all.isEmpty() && resource != null
                && devices(resource).stream().noneMatch(d -> d.id().equals(device))) {
            throw new StorageException(ErrorCode.DEVICE_NOT_FOUND,
                    "resource '" + resource + "' has no device '" + Names.printable(device) + "'");
        }
        all.sort(Comparator.comparing(ResourcePath::resource).thenComparing(p -> p.path().device())
                .thenComparing(p -> p.path().id()));
        return all;
    }

    /** {@link ResourceService#setPathEnabled}. */
    void setPathEnabled(String resource, String pathId, boolean enabled) {
        StorageResource r = attachedResource(resource);
        r.setPathEnabled(pathId, enabled);
        LOG.info("resource {}: path {} set {}", resource, Names.printable(pathId), enabled ? "online" : "offline");
    }

    /** @return every resource attached now */
    private List<StorageResource> attachedResources() {
        synchronized (lock) {
            return resources.values().stream().filter(r -> r.attached != null).map(r -> r.attached).toList();
        }
    }

    /** @return the resource, attached; {@code DEVICE_UNAVAILABLE} (with why) when it is not */
    private StorageResource attachedResource(String resource) {
        synchronized (lock) {
            ResourceEntry r = resourceEntry(resource);
            if (r.attached == null) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "resource '" + resource + "' is unavailable: " + r.message);
            }
            return r.attached;
        }
    }

    /**
     * {@link ResourceService#update}: the driver applies the changes to the attached resource
     * first; only then are they recorded, so the configuration never holds what the driver refused.
     */
    ResourceInfo updateResource(String name, Map<String, String> changes) {
        if (changes == null || changes.isEmpty()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource '" + name + "': nothing to change");
        }
        control.lock();
        try {
            StorageResource r = attachedResource(name);
            r.reconfigure(Map.copyOf(changes));
            HostConfig.Resource updated;
            synchronized (lock) {
                ResourceEntry e = resourceEntry(name);
                Map<String, String> merged = new java.util.TreeMap<>(e.config.parameters());
                merged.putAll(changes);
                updated = new HostConfig.Resource(name, e.config.driver(), merged);
            }
            store.save(ConfigStore.RESOURCE_FACTORY_PID, name, updated.toProperties());
            synchronized (lock) {
                ResourceEntry e = resources.get(name);
                if (e != null) {
                    e.config = updated;
                }
            }
            LOG.info("resource {} changed: {}", name, new HostConfig.Resource(name, updated.driver(), changes).shown());
        } finally {
            control.unlock();
        }
        return resource(name);
    }

    // ================================================================ DatastoreService

    @Override
    public List<DatastoreInfo> list() {
        List<DatastoreEntry> entries;
        synchronized (lock) {
            entries = List.copyOf(datastores.values());
        }
        return entries.stream().map(this::info).toList();
    }

    @Override
    public DatastoreInfo info(String name) {
        DatastoreEntry e;
        synchronized (lock) {
            e = datastoreEntry(name);
        }
        return info(e);
    }

    private DatastoreInfo info(DatastoreEntry e) {
        MountedDatastore m;
        String message;
        Catalog last;
        synchronized (lock) {
            m = e.mount;
            message = e.message;
            last = e.lastCatalog;
        }
        HostConfig.Datastore c = e.config;
        if (m == null) {
            long provisioned = last.volumes().stream().mapToLong(CatalogEntry::virtualSize).sum();
            return new DatastoreInfo(c.name(), c.filesystem(), c.deviceRef(), Availability.UNAVAILABLE, message, 0,
                    0, provisioned, 0, last.volumes().size(), "", c.options());
        }
        // The device's state first: asking a device that does not answer for space would wait for it.
        io.strata.api.device.DeviceState device = m.deviceState();
        if (device == io.strata.api.device.DeviceState.OFFLINE) {
            MountedDatastore.Stats s = m.lastStats();
            return new DatastoreInfo(c.name(), c.filesystem(), c.deviceRef(), Availability.UNAVAILABLE,
                    "its device " + c.deviceRef() + " is unavailable (" + DEVICE_UNAVAILABLE_REASON + "): I/O fails "
                            + "with DEVICE_UNAVAILABLE until its driver reaches it again, then it is ONLINE by itself",
                    0, 0, s.provisioned(), s.allocated(), s.volumes(), s.path(), c.options(), details(m));
        }
        MountedDatastore.Stats s = device == io.strata.api.device.DeviceState.ONLINE ? m.stats() : m.lastStats();
        String why = device == io.strata.api.device.DeviceState.ONLINE ? s.spaceError()
                : "its device " + c.deviceRef() + " is not answering or failing: I/O waits and is retried "
                        + "(figures are the last measured)";
        return new DatastoreInfo(c.name(), c.filesystem(), c.deviceRef(), Availability.ONLINE, why,
                s.space() == null ? 0 : s.space().capacity(), s.space() == null ? 0 : s.space().free(),
                s.provisioned(), s.allocated(), s.volumes(), s.path(), c.options(), details(m));
    }

    /** Why a device is OFFLINE, in the words of {@link io.strata.api.device.DeviceState#OFFLINE}. */
    private static final String DEVICE_UNAVAILABLE_REASON =
            "its driver cannot reach it, or too many I/Os are stuck in it";

    /** @return the layer's facts for people; empty when the layer fails to give them (logged at debug) */
    private static Map<String, String> details(MountedDatastore m) {
        try {
            Map<String, String> d = m.datastore().details();
            return d == null ? Map.of() : d;
        } catch (RuntimeException e) {
            LOG.debug("datastore {}: its layer gave no details: {}", m.name(), e.toString());
            return Map.of();
        }
    }

    @Override
    public io.strata.api.format.CheckReport check(String name, boolean repair) {
        if (!repair) {
            return mounted(name).datastore().check(false);
        }
        // A repair runs alone among the core's control operations (no mount, create or remove of a
        // datastore meanwhile) and holds the catalog, so no volume is created or deleted on this
        // host (nor, on a shared datastore, on any other) while the layer fixes its metadata.
        control.lock();
        try {
            synchronized (lock) {
                ensureRunning();
            }
            MountedDatastore m = mounted(name);
            try (MountedDatastore.Tx tx = m.tx()) {
                io.strata.api.format.CheckReport r = m.datastore().check(true);
                LOG.info("datastore {}: filesystem checked with repair: {} errors, {} leaks, {} repaired", name,
                        r.errors().size(), r.leaks().size(), r.repaired().size());
                return r;
            }
        } finally {
            control.unlock();
        }
    }

    /**
     * Grows a datastore to its device's current size. Drivers read a block device's size when it
     * is opened, so the size is read again through a new handle of the device; when the mount's
     * own handle still reports less, the datastore is mounted again on a new handle first (only
     * while none of its volumes is in use), so that its layer sees the new size.
     */
    @Override
    public DatastoreInfo grow(String name) {
        control.lock();
        try {
            DatastoreEntry e;
            StorageResource res;
            synchronized (lock) {
                ensureRunning();
                e = datastoreEntry(name);
                ResourceEntry r = resources.get(e.config.resource());
                res = r == null ? null : r.attached;
            }
            MountedDatastore m = mounted(name);
            if (res == null) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource '" + e.config.resource()
                        + "' of datastore '" + name + "' is unavailable");
            }
            long seen = m.deviceSize();
            long now;
            try (StorageDevice fresh = res.openDevice(e.config.device())) {
                now = MountedDatastore.sizeOf(fresh);
            }
            long before = capacity(m);
            boolean stale = seen >= 0 && now > seen;
            if (stale && m.volumesInUse().isEmpty()) {
                LOG.info("datastore {}: device {} grew from {} to {} bytes; mounting it again on a new handle",
                        name, e.config.deviceRef(), seen, now);
                List<Detached> detached = new ArrayList<>();
                synchronized (lock) {
                    if (e.mount == m) {
                        detached.add(detach(e, "mounted again to see its device's new size"));
                    }
                }
                release(detached, List.of());
                mountDatastores();
                m = mounted(name);
                stale = false;
            }
            SpaceInfo grown = m.datastore().grow();
            if (stale && grown.capacity() <= before) {
                // The layer reached the device only through the mount's handle, which cannot see the new size.
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "datastore '" + name + "' must be mounted "
                        + "again to see its device " + e.config.deviceRef() + " grown from " + seen + " to " + now
                        + " bytes, and volumes are in use: " + String.join(", ", m.volumesInUse())
                        + "; close them and grow it again");
            }
            LOG.info("datastore {} grown: capacity {} -> {} bytes (device {} bytes)", name, before,
                    grown.capacity(), now);
        } finally {
            control.unlock();
        }
        return info(name);
    }

    /** @return the datastore's capacity now, or -1 when its layer cannot tell */
    private static long capacity(MountedDatastore m) {
        try {
            return m.datastore().space().capacity();
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** Must hold {@link #lock}. */
    private DatastoreEntry datastoreEntry(String name) {
        Names.check("datastore", name);
        DatastoreEntry e = datastores.get(name);
        if (e == null) {
            throw new StorageException(ErrorCode.DATASTORE_NOT_FOUND, "datastore '" + name + "' does not exist");
        }
        return e;
    }

    @Override
    public DatastoreInfo create(String name, String filesystem, String device, Map<String, String> options,
            boolean force) {
        Names.check("datastore", name);
        if (filesystem == null || filesystem.isBlank()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "datastore '" + name + "': no filesystem given");
        }
        if (device == null || device.isBlank()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "datastore '" + name + "': no device given (resource or resource/device)");
        }
        String[] parts = device.split("/", -1);
        if (parts.length > 2) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    "device '" + Names.printable(device) + "' is not of the form resource/device");
        }
        String resourceName = Names.check("resource", parts[0]);
        String deviceId = parts.length == 2 ? parts[1] : null;
        if (deviceId != null && (deviceId.isEmpty() || deviceId.contains("..")
                || deviceId.chars().anyMatch(Character::isISOControl))) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    "device id '" + Names.printable(deviceId) + "' is not valid");
        }
        Map<String, String> opts = options == null ? Map.of() : Map.copyOf(options);
        control.lock();
        try {
            StorageResource res;
            String resourceMessage;
            synchronized (lock) {
                ensureRunning();
                if (datastores.containsKey(name)) {
                    throw new StorageException(ErrorCode.ALREADY_EXISTS, "datastore '" + name + "' already exists");
                }
                ResourceEntry r = resourceEntry(resourceName);
                res = r.attached;
                resourceMessage = r.message;
            }
            DatastoreFilesystem fs = filesystems.get(filesystem);
            if (fs == null) {
                throw new StorageException(ErrorCode.FILESYSTEM_NOT_FOUND, "filesystem layer '" + filesystem
                        + "' is not installed (installed: " + types(filesystems) + ")");
            }
            if (res == null) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "resource '" + resourceName + "' is unavailable: " + resourceMessage);
            }
            DeviceInfo dev = resolveDevice(res, resourceName, deviceId);
            synchronized (lock) {
                for (DatastoreEntry e : datastores.values()) {
                    if (e.config.resource().equals(resourceName) && e.config.device().equals(dev.id())) {
                        throw new StorageException(ErrorCode.RESOURCE_IN_USE,
                                "device " + dev.ref() + " already carries datastore '" + e.config.name() + "'");
                    }
                }
            }
            String mappedAs = mappedAs(resourceName, dev);
            if (mappedAs != null) {
                throw new StorageException(ErrorCode.RESOURCE_IN_USE, "device " + dev.ref()
                        + " is mapped whole as volume " + mappedAs + "; delete that volume before formatting it");
            }
            if (dev.kind() != fs.deviceKind()) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "filesystem '" + filesystem + "' needs a "
                        + kindName(fs.deviceKind()) + "; " + dev.ref() + " is a " + kindName(dev.kind()));
            }
            HostConfig.Datastore config = new HostConfig.Datastore(name, filesystem, resourceName, dev.id(), opts);
            MountedDatastore m = MountedDatastore.mount(config, res, fs, formats,
                    fs.capabilities().contains(Capability.FORMAT), force, sharing());
            m.io = ioRegistry;
            try {
                store.save(ConfigStore.DATASTORE_FACTORY_PID, name, config.toProperties());
            } catch (RuntimeException e) {
                m.invalidate("configuration could not be saved");
                m.close();
                throw e;
            }
            DatastoreEntry entry = new DatastoreEntry(config);
            boolean kept;
            synchronized (lock) {
                datastores.put(name, entry);
                ResourceEntry r = resources.get(resourceName);
                kept = !closed && r != null && r.attached == res && filesystems.isCurrent(fs, filesystem);
                if (kept) {
                    entry.mount = m;
                } else {
                    entry.message = "a plugin went away while it was being mounted";
                }
            }
            if (!kept) {
                m.invalidate("datastore '" + name + "' went away while it was being mounted");
                m.close();
            }
            LOG.info("datastore {} created ({} on {})", name, filesystem, dev.ref());
        } finally {
            control.unlock();
        }
        return info(name);
    }

    /**
     * @return the volume ({@code datastore/volume}) that maps this device whole, by device or by
     *         identity, among the mounted datastores; null when none
     */
    private String mappedAs(String resource, DeviceInfo dev) {
        List<DatastoreEntry> entries;
        synchronized (lock) {
            entries = List.copyOf(datastores.values());
        }
        for (DatastoreEntry e : entries) {
            MountedDatastore m;
            synchronized (lock) {
                m = e.mount;
            }
            if (m == null) {
                continue;
            }
            for (Map.Entry<String, RdmMapping> mp : m.mappings().entrySet()) {
                RdmMapping r = mp.getValue();
                boolean same = r.resource().equals(resource) && r.device().equals(dev.id())
                        || !r.identity().isEmpty() && r.identity().equals(dev.identity());
                if (same) {
                    return e.config.name() + "/" + mp.getKey();
                }
            }
        }
        return null;
    }

    @Override
    public VolumeInfo mapDevice(VolumeRef ref, String resource, String device) {
        requireNonNull(ref, "ref");
        Names.check("volume", ref.volume());
        Names.check("resource", resource);
        if (device == null || device.isEmpty() || device.contains("/") || device.contains("..")
                || device.chars().anyMatch(Character::isISOControl)) {
            throw new StorageException(ErrorCode.INVALID_NAME,
                    "device id '" + Names.printable(String.valueOf(device)) + "' is not valid");
        }
        MountedDatastore m = mounted(ref.datastore());
        // Under the control lock: two maps of one device, or a map and a datastore-create on it,
        // cannot both pass the checks.
        control.lock();
        try {
            StorageResource res = attachedResource(resource);
            DeviceInfo dev = resolveDevice(res, resource, device);
            if (dev.kind() != io.strata.api.device.DeviceKind.BLOCK) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "device " + dev.ref()
                        + " is a file share; only a block device (a LUN, a disk) can be mapped as a volume");
            }
            synchronized (lock) {
                for (DatastoreEntry e : datastores.values()) {
                    if (e.config.resource().equals(resource) && e.config.device().equals(dev.id())) {
                        throw new StorageException(ErrorCode.RESOURCE_IN_USE, "device " + dev.ref()
                                + " carries datastore '" + e.config.name() + "'; it cannot be mapped as a volume");
                    }
                }
            }
            String mappedAs = mappedAs(resource, dev);
            if (mappedAs != null) {
                throw new StorageException(ErrorCode.RESOURCE_IN_USE,
                        "device " + dev.ref() + " is mapped already, as volume " + mappedAs);
            }
            RdmMapping mapping;
            try (StorageDevice sd = res.openDevice(dev.id())) {
                if (!(sd instanceof BlockDevice b)) {
                    throw new StorageException(ErrorCode.INVALID_ARGUMENT, "device " + dev.ref() + " is not a block device");
                }
                mapping = new RdmMapping(resource, dev.id(), b.identity().orElse(dev.identity()), b.size());
            }
            VolumeInfo v = m.map(ref.volume(), mapping);
            LOG.info("volume {} maps device {} ({}, {} bytes)", ref, mapping.ref(),
                    mapping.identity().isEmpty() ? "no identity" : mapping.identity(), mapping.size());
            return v;
        } finally {
            control.unlock();
        }
    }

    /** {@link RdmFormat.DeviceOpener}: the mapped device, through the resource attached now. */
    private BlockDevice openMapped(RdmMapping mapping) {
        StorageResource res;
        synchronized (lock) {
            ResourceEntry r = resources.get(mapping.resource());
            if (r == null) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "mapped device " + mapping.ref()
                        + " is unavailable: resource '" + mapping.resource() + "' is not configured on this host");
            }
            if (r.attached == null) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "mapped device " + mapping.ref()
                        + " is unavailable: " + (r.message.isEmpty() ? "its resource is not attached" : r.message));
            }
            res = r.attached;
        }
        StorageDevice sd = res.openDevice(mapping.device());
        if (!(sd instanceof BlockDevice b)) {
            sd.close();
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "mapped device " + mapping.ref() + " is no longer a block device");
        }
        String now = b.identity().orElse("");
        if (!mapping.identity().isEmpty() && !now.isEmpty() && !now.equals(mapping.identity())) {
            b.close();
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + mapping.ref()
                    + " is no longer the LUN that was mapped (identity " + now + ", mapped " + mapping.identity() + ")");
        }
        return b;
    }

    private static DeviceInfo resolveDevice(StorageResource res, String resource, String deviceId) {
        List<DeviceInfo> devices = res.devices();
        if (deviceId != null) {
            return devices.stream().filter(d -> d.id().equals(deviceId)).findFirst()
                    .orElseThrow(() -> new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource '" + resource
                            + "' has no device '" + deviceId + "' (devices: " + ids(devices) + ")"));
        }
        if (devices.size() == 1) {
            return devices.get(0);
        }
        if (devices.isEmpty()) {
            throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource '" + resource + "' offers no device");
        }
        throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource '" + resource + "' offers "
                + devices.size() + " devices; name one as " + resource + "/<device> (" + ids(devices) + ")");
    }

    private static String ids(List<DeviceInfo> devices) {
        return devices.isEmpty() ? "none" : devices.stream().map(DeviceInfo::id).collect(Collectors.joining(", "));
    }

    private static String kindName(io.strata.api.device.DeviceKind kind) {
        return kind == io.strata.api.device.DeviceKind.BLOCK ? "block device" : "file share";
    }

    @Override
    public void remove(String name) {
        control.lock();
        try {
            DatastoreEntry e;
            MountedDatastore m;
            synchronized (lock) {
                e = datastoreEntry(name);
                m = e.mount;
            }
            if (m != null) {
                List<String> open = m.openVolumes();
                if (!open.isEmpty()) {
                    throw new StorageException(ErrorCode.VOLUME_IN_USE,
                            "datastore '" + name + "' has open volumes: " + String.join(", ", open));
                }
            }
            store.delete(ConfigStore.DATASTORE_FACTORY_PID, name);
            synchronized (lock) {
                datastores.remove(name);
                m = e.mount;
                e.mount = null;
            }
            if (m != null) {
                m.invalidate("datastore '" + name + "' was removed");
                m.close();
            }
            LOG.info("datastore {} removed (its files stay on the device)", name);
        } finally {
            control.unlock();
        }
    }

    @Override
    public Datastore datastore(String name) {
        return mounted(name).datastore();
    }

    MountedDatastore mounted(String name) {
        synchronized (lock) {
            DatastoreEntry e = datastoreEntry(name);
            if (e.mount == null) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "datastore '" + name + "' is unavailable: " + e.message);
            }
            return e.mount;
        }
    }

    // ================================================================ VolumeService

    @Override
    public List<VolumeInfo> list(String datastore) {
        List<DatastoreEntry> entries;
        synchronized (lock) {
            entries = datastore == null ? List.copyOf(datastores.values()) : List.of(datastoreEntry(datastore));
        }
        List<VolumeInfo> all = new ArrayList<>();
        for (DatastoreEntry e : entries) {
            all.addAll(volumes(e));
        }
        return all;
    }

    private List<VolumeInfo> volumes(DatastoreEntry e) {
        MountedDatastore m;
        Catalog last;
        synchronized (lock) {
            m = e.mount;
            last = e.lastCatalog;
        }
        return m != null ? m.volumes() : MountedDatastore.unavailableVolumes(e.config.name(), last);
    }

    @Override
    public VolumeInfo info(VolumeRef ref) {
        DatastoreEntry e;
        MountedDatastore m;
        synchronized (lock) {
            e = datastoreEntry(ref.datastore());
            m = e.mount;
        }
        if (m != null) {
            return m.info(ref.volume());
        }
        return volumes(e).stream().filter(v -> v.name().equals(ref.volume())).findFirst().orElseThrow(() -> {
            synchronized (lock) {
                if (e.mount == null) {
                    return new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                            "datastore '" + ref.datastore() + "' is unavailable: " + e.message);
                }
            }
            return new StorageException(ErrorCode.VOLUME_NOT_FOUND, "volume " + ref + " does not exist");
        });
    }

    @Override
    public VolumeInfo create(VolumeRef ref, long virtualSize, String format, Provisioning provisioning) {
        return mounted(ref.datastore()).create(ref.volume(), virtualSize,
                format == null || format.isBlank() ? DEFAULT_FORMAT : format,
                provisioning == null ? Provisioning.THIN : provisioning);
    }

    @Override
    public VolumeInfo resize(VolumeRef ref, long newSize) {
        return mounted(ref.datastore()).resize(ref.volume(), newSize);
    }

    @Override
    public void delete(VolumeRef ref) {
        mounted(ref.datastore()).delete(ref.volume());
        ioRegistry.forget(ref);
    }

    IoRegistry io() {
        return ioRegistry;
    }

    @Override
    public VolumeInfo importImage(VolumeRef ref, Path source, String format) {
        return importImage(ref, source, format, null);
    }

    @Override
    public VolumeInfo importImage(VolumeRef ref, Path source, String format, String parent) {
        return mounted(ref.datastore()).importImage(ref.volume(), source, format, parent, settings.chainMax());
    }

    @Override
    public VirtualDisk open(VolumeRef ref, boolean readOnly) {
        return mounted(ref.datastore()).open(ref.volume(), readOnly);
    }

    @Override
    public VolumeInfo clone(VolumeRef source, String snapshot, VolumeRef target, boolean linked, String format,
            Provisioning provisioning) {
        requireNonNull(source, "source");
        requireNonNull(target, "target");
        MountedDatastore src = mounted(source.datastore());
        if (linked) {
            if (!source.datastore().equals(target.datastore())) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "a linked clone must be in the datastore"
                        + " of its source ('" + source.datastore() + "'); use a full clone to copy " + source
                        + " into datastore '" + target.datastore() + "'");
            }
            if ((format != null && !format.isBlank() && !format.equals(src.info(source.volume()).format()))
                    || provisioning != null && provisioning != src.info(source.volume()).provisioning()) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "a linked clone keeps the format and "
                        + "provisioning of its base; use a full clone to change them");
            }
            Chains chains = new Chains(src);
            if (snapshot == null || snapshot.isBlank()) {
                // The current state is frozen in a snapshot named after the clone, which becomes its
                // base: that writes the source, so it runs on the host that holds it (on a shared datastore).
                try (Claim held = src.hold(source.volume())) {
                    String snap = "clone-base-" + target.volume();
                    chains.createSnapshot(source.volume(), snap, settings.chainMax());
                    chains.linkedClone(source.volume(), snap, target.volume(), settings.chainMax());
                }
            } else {
                // An existing snapshot's image is never written, so any host clones it without the
                // source's lease (a golden image cloned from every host at once, or while its volume
                // runs elsewhere); the catalog transaction orders the clone with a delete of that snapshot.
                chains.linkedClone(source.volume(), snapshot, target.volume(), settings.chainMax());
            }
            return src.info(target.volume());
        }
        try (Claim held = src.hold(source.volume())) {
            return fullClone(src, source, snapshot, target, format, provisioning);
        }
    }

    private VolumeInfo fullClone(MountedDatastore src, VolumeRef source, String snapshot, VolumeRef target,
            String format, Provisioning provisioning) {
        VolumeInfo si = src.info(source.volume());
        MountedDatastore dst = mounted(target.datastore());
        String fmt = format == null || format.isBlank() ? si.format() : format;
        Provisioning prov = provisioning == null ? si.provisioning() : provisioning;
        SharedDisk.Chain snap = snapshot == null || snapshot.isBlank() ? null
                : src.openSnapshot(source.volume(), snapshot);
        VirtualDisk in = snap != null ? snap.disk() : src.open(source.volume(), true);
        try {
            return dst.create(target.volume(), in.virtualSize(), fmt, prov, out -> SparseCopy.copy(in, out));
        } finally {
            if (snap != null) {
                snap.close();
            } else {
                in.close();
            }
        }
    }

    @Override
    public long reclaim(VolumeRef ref) {
        MountedDatastore m = mounted(ref.datastore());
        try (Claim held = m.hold(ref.volume())) {
            return new Chains(m).reclaim(ref.volume());
        }
    }

    @Override
    public List<io.strata.api.format.CheckReport> check(VolumeRef ref, boolean repair) {
        MountedDatastore m = mounted(ref.datastore());
        // A check reads the current image, which the holder may be changing; a repair writes it.
        try (Claim held = m.hold(ref.volume())) {
            return new Chains(m).check(ref.volume(), repair);
        }
    }

    @Override
    public io.strata.api.service.VolumeUsage usage(VolumeRef ref) {
        return new Chains(mounted(ref.datastore())).usage(ref.volume());
    }

    // ================================================================ snapshots and tasks (SnapshotServiceImpl)

    io.strata.api.service.SnapshotInfo snapshotCreate(VolumeRef ref, String name) {
        MountedDatastore m = mounted(ref.datastore());
        try (Claim held = m.hold(ref.volume())) {
            return new Chains(m).createSnapshot(ref.volume(), name, settings.chainMax());
        }
    }

    List<io.strata.api.service.SnapshotInfo> snapshotList(VolumeRef ref) {
        return new Chains(mounted(ref.datastore())).list(ref.volume());
    }

    void snapshotRevert(VolumeRef ref, String name) {
        MountedDatastore m = mounted(ref.datastore());
        try (Claim held = m.hold(ref.volume())) {
            new Chains(m).revert(ref.volume(), name);
        }
    }

    io.strata.api.service.TaskInfo snapshotDelete(VolumeRef ref, String name) {
        MountedDatastore m = mounted(ref.datastore());
        Chains chains = new Chains(m);
        // The merge runs on the host that holds the volume, for as long as the task runs.
        Claim held = m.hold(ref.volume());
        try {
            chains.beginDelete(ref.volume(), name);
            return tasks.submit("snapshot-delete", ref + "@" + name, t -> {
                try (held) {
                    return chains.merge(ref.volume(), name, t);
                }
            }).info();
        } catch (RuntimeException e) {
            held.close();
            throw e;
        }
    }

    TaskManager tasks() {
        return tasks;
    }

    // ================================================================ helpers

    private void ensureRunning() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the Strata core is stopping");
        }
    }

    private static String types(PluginSet<?> set) {
        Set<String> types = new java.util.TreeSet<>();
        set.all().forEach(b -> types.add(b.type()));
        return types.isEmpty() ? "none" : String.join(", ", types);
    }
}
