package io.strata.fs.dir.internal;

import io.strata.api.Capability;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.SpaceInfo;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A dir datastore mounted with {@code shared=true}: the same directory datastore, declared
 * {@link Capability#SHARED} so the core coordinates with the other hosts using it (catalog
 * under a lease, volume leases, recovery of dead hosts' work only). Byte-range file locks are
 * not offered: they do not reach other hosts on every shared filesystem.
 */
final class SharedDirectory implements Datastore {
    private final Datastore ds;
    private final Set<Capability> capabilities;

    SharedDirectory(Datastore ds) {
        this.ds = ds;
        EnumSet<Capability> caps = EnumSet.noneOf(Capability.class);
        caps.addAll(ds.capabilities());
        caps.add(Capability.SHARED);
        caps.remove(Capability.FILE_LOCKS);
        this.capabilities = Collections.unmodifiableSet(caps);
    }

    @Override
    public String name() {
        return ds.name();
    }

    @Override
    public String filesystemType() {
        return ds.filesystemType();
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    @Override
    public SpaceInfo space() {
        return ds.space();
    }

    @Override
    public Optional<Path> localPath() {
        return ds.localPath();
    }

    @Override
    public List<String> list() {
        return ds.list();
    }

    @Override
    public boolean exists(String name) {
        return ds.exists(name);
    }

    @Override
    public FileStat stat(String name) {
        return ds.stat(name);
    }

    @Override
    public DatastoreFile create(String name) {
        return ds.create(name);
    }

    @Override
    public DatastoreFile open(String name, boolean writable) {
        return ds.open(name, writable);
    }

    @Override
    public void delete(String name) {
        ds.delete(name);
    }

    @Override
    public void rename(String from, String to) {
        ds.rename(from, to);
    }

    @Override
    public void writeAtomically(String name, byte[] content) {
        ds.writeAtomically(name, content);
    }

    @Override
    public byte[] readAll(String name) {
        return ds.readAll(name);
    }

    @Override
    public void close() {
        ds.close();
    }
}
