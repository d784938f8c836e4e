package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class CatalogCodecTest {
    private static final Instant T = Instant.parse("2026-11-21T13:00:00Z");

    @Test
    void roundTrip() {
        Catalog c = new Catalog(7, List.of(
                new CatalogEntry("b", "b.vhd", "vhd", Provisioning.THICK_LAZY, 1 << 30, T,
                        CatalogEntry.State.READY, null, null, 0),
                new CatalogEntry("a", "a.raw", "raw", Provisioning.THIN, 4096, T, CatalogEntry.State.CREATING,
                        "src.img", null, 0),
                new CatalogEntry("c", "c.vhd", "vhd", Provisioning.THICK, 8192, T, CatalogEntry.State.READY, null,
                        ".strata-import-c.vhd", 16384)));
        Catalog back = CatalogCodec.decode("ds", CatalogCodec.encode(c));
        assertEquals(c, back);
        assertEquals(List.of("a", "b", "c"), back.volumes().stream().map(CatalogEntry::name).toList());
    }

    @Test
    void unknownFieldsAreIgnored() {
        String json = "{\"kind\":\"strata-catalog\",\"version\":1,\"generation\":3,\"future\":true,\"volumes\":["
                + "{\"name\":\"v\",\"file\":\"v.vhd\",\"format\":\"vhd\",\"provisioning\":\"thin\","
                + "\"virtualSize\":512,\"created\":\"2026-11-21T13:00:00Z\",\"state\":\"READY\",\"x\":1}]}";
        Catalog c = CatalogCodec.decode("ds", json.getBytes(StandardCharsets.UTF_8));
        assertEquals(3, c.generation());
        assertEquals(512, c.volumes().get(0).virtualSize());
    }

    @Test
    void damageIsReportedNotGuessed() {
        for (String bad : List.of("", "{", "[]", "{\"volumes\":[]}", "{\"version\":99,\"volumes\":[]}",
                "{\"version\":1}", "{\"version\":1,\"volumes\":[{\"name\":\"v\"}]}",
                "{\"version\":1,\"volumes\":[{\"name\":\"v\",\"file\":\"f\",\"format\":\"raw\","
                        + "\"provisioning\":\"fat\",\"created\":\"2026-11-21T13:00:00Z\",\"state\":\"READY\"}]}")) {
            StorageException e = fails(ErrorCode.CORRUPT_IMAGE,
                    () -> CatalogCodec.decode("ds", bad.getBytes(StandardCharsets.UTF_8)));
            assertTrue(e.getMessage().startsWith("volume catalog .strata-catalog.json of datastore 'ds' is damaged"),
                    e.getMessage());
            assertTrue(!e.getMessage().contains("\n"), "one line");
        }
    }

    @Test
    void duplicateNamesAreDamage() {
        CatalogEntry e = new CatalogEntry("v", "v.raw", "raw", Provisioning.THIN, 512, T, CatalogEntry.State.READY,
                null, null, 0);
        fails(ErrorCode.CORRUPT_IMAGE, () -> new Catalog(1, List.of(e, e)));
    }

    @Test
    void leaseAreasOfASharedDatastoreRoundTripAndGoWithTheirVolume() {
        CatalogEntry a = new CatalogEntry("a", "a.raw", "raw", Provisioning.THIN, 512, T, CatalogEntry.State.READY,
                null, null, 0);
        CatalogEntry b = new CatalogEntry("b", "b.raw", "raw", Provisioning.THIN, 512, T, CatalogEntry.State.READY,
                null, null, 0);
        Catalog c = new Catalog(4, List.of(a, b)).withArea("a", 1).withArea("b", 7);
        Catalog back = CatalogCodec.decode("ds", CatalogCodec.encode(c));
        assertEquals(c, back);
        assertEquals(7, back.area("b"));
        assertEquals(2, back.freeArea(1, 10), "the lowest area nobody uses");
        Catalog removed = back.remove("a");
        assertEquals(-1, removed.area("a"), "a deleted volume gives its area back");
        assertEquals(1, removed.freeArea(1, 10));
        assertEquals(7, back.put(b.withVirtualSize(1024)).area("b"), "a change keeps the area");
    }

    @Test
    void aRepeatedOrBadLeaseAreaIsDamage() {
        String entry = "{\"name\":\"%s\",\"file\":\"%s.raw\",\"format\":\"raw\",\"provisioning\":\"thin\","
                + "\"virtualSize\":512,\"created\":\"2026-11-21T13:00:00Z\",\"state\":\"READY\",\"leaseArea\":%s}";
        for (String areas : List.of("3,3", "0,1", "-1,2", "\"x\",2")) {
            String[] p = areas.split(",");
            String json = "{\"version\":2,\"generation\":1,\"volumes\":[" + String.format(entry, "a", "a", p[0]) + ","
                    + String.format(entry, "b", "b", p[1]) + "]}";
            StorageException e = fails(ErrorCode.CORRUPT_IMAGE,
                    () -> CatalogCodec.decode("ds", json.getBytes(StandardCharsets.UTF_8)));
            assertTrue(e.getMessage().contains("lease area"), e.getMessage());
        }
    }
}
