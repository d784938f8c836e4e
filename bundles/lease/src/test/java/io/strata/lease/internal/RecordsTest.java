package io.strata.lease.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.lease.internal.Records.Dblock;
import io.strata.lease.internal.Records.Decoded;
import io.strata.lease.internal.Records.Header;
import io.strata.lease.internal.Records.LeaderRec;
import io.strata.lease.internal.Records.Owner;
import io.strata.lease.internal.Records.SlotRec;
import io.strata.lease.internal.Records.Status;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The on-disk records: round trips, and how damage and strangers are told apart. */
class RecordsTest {
    final Geometry geo = new Geometry("ls", 512, 8, 4);
    final Geometry other = new Geometry("other", 512, 8, 4);
    final UUID id = UUID.randomUUID();
    final Owner owner = new Owner(3, id, 7, "host-a");

    @Test
    void headerRoundTrip() {
        Header h = new Header("ls", 4096, 64, 4096);
        byte[] b = Records.encodeHeader(h, h.geometry().tag());
        assertEquals(4096, b.length);
        Decoded<Header> d = Records.decodeHeader(b);
        assertEquals(Status.VALID, d.status());
        assertEquals(h, d.value());
        assertEquals(Status.ZERO, Records.decodeHeader(new byte[512]).status());
    }

    @Test
    void slotRoundTripAndChecks() {
        SlotRec r = new SlotRec(2, false, id, "host-a", 5, 99, 1234);
        byte[] b = Records.encodeSlot(geo, r);
        assertEquals(r, Records.decodeSlot(geo, b, 0, 2).value());
        // at another position: damaged (a misdirected write)
        assertEquals(Status.DAMAGED, Records.decodeSlot(geo, b, 0, 3).status());
        // another lockspace's record: blank
        assertEquals(Status.FOREIGN, Records.decodeSlot(other, b, 0, 2).status());
        assertTrue(Records.decodeSlot(other, b, 0, 2).blank());
        // a flipped bit: damaged
        byte[] torn = b.clone();
        torn[40] ^= 4;
        Decoded<SlotRec> d = Records.decodeSlot(geo, torn, 0, 2);
        assertEquals(Status.DAMAGED, d.status());
        assertTrue(d.why().contains("checksum"), d.why());
        // a torn write: the first half new, the rest old
        byte[] older = Records.encodeSlot(geo, new SlotRec(2, false, id, "host-a", 5, 98, 1000));
        byte[] mixed = Arrays.copyOf(b, 512);
        System.arraycopy(older, 256, mixed, 256, 256);
        assertEquals(Status.DAMAGED, Records.decodeSlot(geo, mixed, 0, 2).status());
        assertEquals(Status.ZERO, Records.decodeSlot(geo, new byte[512], 0, 2).status());
    }

    @Test
    void leaderAndDblockRoundTrip() {
        LeaderRec l = new LeaderRec(1, true, 12, owner, "volume vm-1", 55);
        byte[] lb = Records.encodeLeader(geo, l);
        assertEquals(l, Records.decodeLeader(geo, lb, 0, 1).value());
        assertEquals(Status.DAMAGED, Records.decodeLeader(geo, lb, 0, 2).status());

        Dblock d = new Dblock(1, 3, 12, 27, 19, owner);
        byte[] db = Records.encodeDblock(geo, d);
        assertEquals(d, Records.decodeDblock(geo, db, 0, 1, 3).value());
        assertEquals(Status.DAMAGED, Records.decodeDblock(geo, db, 0, 1, 4).status());
        Dblock empty = new Dblock(1, 3, 12, 27, 0, null);
        assertEquals(empty, Records.decodeDblock(geo, Records.encodeDblock(geo, empty), 0, 1, 3).value());

        // decoding at an offset within a larger read
        byte[] two = new byte[1024];
        System.arraycopy(db, 0, two, 512, 512);
        assertEquals(d, Records.decodeDblock(geo, two, 512, 1, 3).value());
    }

    @Test
    void namesAreCutOnCharacterBoundaries() {
        String longName = "é".repeat(200);
        SlotRec r = new SlotRec(0, false, id, longName, 1, 1, 0);
        SlotRec back = Records.decodeSlot(geo, Records.encodeSlot(geo, r), 0, 0).value();
        assertTrue(back.name().getBytes(StandardCharsets.UTF_8).length <= Records.MAX_HOST_NAME_BYTES);
        assertTrue(longName.startsWith(back.name()));
        assertEquals(64, back.name().length());
    }

    @Test
    void tagsDifferBetweenLockspaces() {
        assertNotEquals(geo.tag(), other.tag());
        assertNotEquals(geo.tag(), new Geometry("ls", 4096, 8, 4).tag());
        assertNotEquals(geo.tag(), new Geometry("ls", 512, 8, 5).tag());
        assertEquals(geo.tag(), new Geometry("ls", 512, 8, 4).tag());
    }
}
