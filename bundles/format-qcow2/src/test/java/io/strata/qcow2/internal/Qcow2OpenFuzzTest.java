package io.strata.qcow2.internal;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.strata.api.StorageException;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile bytes as a qcow2 image: probe either refuses them with a StorageException or
 * accepts them, and an accepted image opens read-only (or is refused with a typed error),
 * answers block status and reads without any other exception, and is never written.
 * Seeds: real qemu-img images in {@code Qcow2OpenFuzzTestInputs/open/}.
 */
class Qcow2OpenFuzzTest {
    private final Qcow2Format format = new Qcow2Format();

    @FuzzTest(maxDuration = "10s")
    @Timeout(60)
    void open(byte[] image) {
        MemoryFile f = FuzzImages.file(image);
        format.recognizes(f);
        ImageInfo info;
        try {
            info = format.probe(f);
        } catch (StorageException e) {
            return;
        }
        if (info.virtualSize() <= 0 || info.virtualSize() % 512 != 0
                || info.virtualSize() > format.maxVirtualSize()) {
            throw new AssertionError("probe accepted the virtual size " + info.virtualSize());
        }
        try (VirtualDisk d = format.open(f, true, FuzzImages.RESOLVER)) {
            FuzzImages.exercise(d);
        } catch (StorageException e) {
            // a typed refusal (a damaged L2 table found on first use, an unusable parent...)
        }
        format.check(f, FuzzImages.RESOLVER, false);
        if (f.mutations() != 0) {
            throw new AssertionError("reading an image wrote to it");
        }
    }
}
