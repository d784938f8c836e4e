package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.WriteFence;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.api.service.VolumeRef;
import io.strata.fs.dir.internal.DirFilesystem;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The core hands a shared datastore's layer its lease check ({@link Datastore#fenced}), so a
 * layer with its own client (NFS) checks again right before each request leaves the host; and
 * it does all its I/O but the lockspace's own through that view.
 */
class FencedViewTest {
    @TempDir
    Path tmp;

    @Test
    void theLayerGetsTheHostsLeaseCheckAndTheCoreWorksThroughItsViewButForTheLockspace() {
        Recording dir = new Recording(new DirFilesystem());
        StrataCore host = SharedHosts.start(tmp, "h1", new MemoryConfigStore(), SharedHosts.FAST, dir);
        try {
            assertNotNull(dir.fence, "the layer was given the host's lease check");
            dir.fence.check(); // passes while the host renews its lease
            VolumeRef v = VolumeRef.parse("ds/vm");
            host.create(v, 1L << 20, "raw", Provisioning.THIN);
            try (VirtualDisk d = host.open(v, false)) {
                d.write(ByteBuffer.wrap(new byte[4096]), 0);
                d.flush();
            }
            assertTrue(dir.viewOpened.contains("vm.raw"), "the volume's image through the view: " + dir.viewOpened);
            assertTrue(dir.plainOpened.contains(SharedAccess.LOCKSPACE_FILE), "the lockspace beside it: "
                    + dir.plainOpened);
            assertFalse(dir.viewOpened.contains(SharedAccess.LOCKSPACE_FILE), "not through the view");
            assertTrue(dir.plainOpened.stream().allMatch(SharedAccess.LOCKSPACE_FILE::equals),
                    "nothing else beside the view: " + dir.plainOpened);
        } finally {
            host.close();
        }
        StorageException e = assertThrows(StorageException.class, dir.fence::check);
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), "refuses once the host has left the lockspace");
    }

    /** The dir layer, noting the fence it is given and which files are opened through what. */
    static final class Recording extends ForwardingFs {
        volatile WriteFence fence;
        final Set<String> plainOpened = ConcurrentHashMap.newKeySet();
        final Set<String> viewOpened = ConcurrentHashMap.newKeySet();

        Recording(DatastoreFilesystem fs) {
            super(fs);
        }

        @Override
        public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
            return wrap(fs.mount(datastoreName, device, options), false);
        }

        private Datastore wrap(Datastore ds, boolean view) {
            return (Datastore) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Datastore.class},
                    (proxy, m, args) -> {
                        if (m.getName().equals("fenced")) {
                            fence = (WriteFence) args[0];
                            return wrap(ds, true);
                        }
                        Object r;
                        try {
                            r = m.invoke(ds, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                        if (r instanceof DatastoreFile f) {
                            (view ? viewOpened : plainOpened).add(f.name());
                        }
                        return r;
                    });
        }
    }
}
