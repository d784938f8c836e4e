package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import org.junit.jupiter.api.Timeout;

/**
 * The catalog is read from the datastore, which on shared storage any host can write: a
 * damaged or hostile catalog must be refused as CORRUPT_IMAGE, and one that decodes must
 * name only plain files and valid names, and survive an encode/decode round trip.
 * Seeds: {@code src/test/resources/io/strata/core/internal/CatalogCodecFuzzTestInputs/}.
 */
class CatalogCodecFuzzTest {
    @FuzzTest(maxDuration = "10s")
    @Timeout(60)
    void decode(byte[] json) {
        Catalog c;
        try {
            c = CatalogCodec.decode("fuzz", json);
        } catch (StorageException e) {
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            return;
        }
        for (CatalogEntry e : c.volumes()) {
            Names.check("volume", e.name());
            CatalogCodec.plainFile(e.file());
            for (CatalogEntry.Snap s : e.snapshots()) {
                CatalogCodec.plainFile(s.file());
            }
        }
        Catalog again = CatalogCodec.decode("fuzz", CatalogCodec.encode(c));
        assertEquals(c.volumes(), again.volumes());
        assertEquals(c.generation(), again.generation());
    }
}
