package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.api.service.Availability;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DS binds only record the plugin: attaching and mounting run on the reconciler thread, so a
 * slow mount (a lockspace join waiting for an expiry, the recovery of a crash) never holds up
 * the service registry.
 */
class ReconcilerTest {
    @TempDir
    Path tmp;

    /** A filesystem layer whose mount waits until the test lets it go. */
    private static final class SlowFs extends ForwardingFs {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        SlowFs(DatastoreFilesystem fs) {
            super(fs);
        }

        @Override
        public String type() {
            return "dir";
        }

        @Override
        public Datastore mount(String name, StorageDevice device, Map<String, String> options) {
            entered.countDown();
            try {
                release.await(2, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return fs.mount(name, device, options);
        }
    }

    @Test
    void aBindReturnsAtOnceAndTheReconcilerMountsWhatWaitedForThePlugin() throws Exception {
        try (Fixture f = Fixture.withDatastore(tmp)) {
            f.core.removeFilesystem(f.fs);
            assertEquals(Availability.UNAVAILABLE, f.core.info("ds1").state());
            SlowFs slow = new SlowFs(f.fs);
            f.core.bindFilesystem(null, slow); // what DS calls: must not mount on this thread
            assertTrue(slow.entered.await(1, TimeUnit.MINUTES), "the reconciler thread mounts");
            assertEquals(Availability.UNAVAILABLE, f.core.info("ds1").state(), "still mounting");
            slow.release.countDown();
            f.core.awaitReconciled();
            assertEquals(Availability.ONLINE, f.core.info("ds1").state(), f.core.info("ds1").message());
        }
    }
}
