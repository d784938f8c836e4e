package io.strata.lease.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The on-disk records. Each occupies the first 512 bytes of its sector, big-endian, ends with
 * a CRC32C of its first 508 bytes at offset 508; the rest of a larger sector is written as
 * zeros and not read. See the module README for the field tables.
 *
 * <p>Decoding tells four cases apart: {@link Status#ZERO} (never written), {@link Status#VALID},
 * {@link Status#FOREIGN} (a sound record of another lockspace, by its tag) and
 * {@link Status#DAMAGED} (wrong magic, bad checksum, a field that contradicts its position).
 */
public final class Records {
    /** Bytes of a record; the smallest sector size. */
    public static final int RECORD_BYTES = 512;
    /** Offset of the CRC32C. */
    public static final int CRC_OFFSET = 508;
    /** Format version written into every record. */
    public static final int VERSION = 1;
    /** Longest resource name, in UTF-8 bytes. */
    public static final int MAX_RESOURCE_BYTES = 255;
    /** Host names are cut to this many UTF-8 bytes on disk (they are for people only). */
    public static final int MAX_HOST_NAME_BYTES = 128;
    /** Longest lockspace name, in UTF-8 bytes. */
    public static final int MAX_LOCKSPACE_NAME_BYTES = 128;

    static final long MAGIC_HEADER = magic("STRATALS");
    static final long MAGIC_SLOT = magic("STRATAHS");
    static final long MAGIC_LEADER = magic("STRATARL");
    static final long MAGIC_DBLOCK = magic("STRATADB");

    private Records() {
    }

    private static long magic(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII)).getLong();
    }

    /** What a sector holds. */
    public enum Status {
        /** All zeros: never written. */
        ZERO,
        /** A sound record of this lockspace. */
        VALID,
        /** A sound record of another lockspace (other tag): treated as blank. */
        FOREIGN,
        /** Anything else. */
        DAMAGED
    }

    /**
     * A decoded record.
     *
     * @param <T> the record type
     * @param status what the sector holds
     * @param value the record when {@code VALID}, else null
     * @param why for {@code DAMAGED}, what is wrong
     */
    public record Decoded<T>(Status status, T value, String why) {
        static <T> Decoded<T> zero() {
            return new Decoded<>(Status.ZERO, null, null);
        }

        static <T> Decoded<T> foreign() {
            return new Decoded<>(Status.FOREIGN, null, null);
        }

        static <T> Decoded<T> damaged(String why) {
            return new Decoded<>(Status.DAMAGED, null, why);
        }

        static <T> Decoded<T> valid(T value) {
            return new Decoded<>(Status.VALID, value, null);
        }

        /** @return whether the sector reads as never written (zero or another lockspace's) */
        public boolean blank() {
            return status == Status.ZERO || status == Status.FOREIGN;
        }

        /** @return whether it holds a record of this lockspace */
        public boolean valid() {
            return status == Status.VALID;
        }
    }

    /**
     * The header (sector 0).
     *
     * @param name lockspace name
     * @param sectorSize sector size in bytes
     * @param maxHosts host slots
     * @param areas resource areas
     */
    public record Header(String name, int sectorSize, int maxHosts, int areas) {
        /** @return the geometry this header describes */
        public Geometry geometry() {
            return new Geometry(name, sectorSize, maxHosts, areas);
        }
    }

    /**
     * A host's identity in a given incarnation, as named by leaders and dblocks.
     *
     * @param slot the slot it held
     * @param id the host UUID
     * @param generation the generation in that slot
     * @param name the host name (for people)
     */
    public record Owner(int slot, UUID id, long generation, String name) {
        /** @return whether both name the same incarnation (slot, UUID, generation) */
        public boolean sameIncarnation(Owner o) {
            return o != null && slot == o.slot && generation == o.generation && id.equals(o.id);
        }
    }

    /**
     * A host slot (delta lease).
     *
     * @param slot slot number (must match the position)
     * @param released set by a clean leave: the host will never write again in this generation
     * @param id host UUID
     * @param name host name
     * @param generation incarnation counter in this slot
     * @param counter renewal counter, changes at every renewal
     * @param wallMillis the writer's wall clock, for people only, never compared
     */
    public record SlotRec(int slot, boolean released, UUID id, String name, long generation, long counter,
            long wallMillis) {
    }

    /**
     * The leader of a resource area: the outcome of its latest recorded Disk Paxos instance.
     *
     * @param area area number (must match the position)
     * @param held whether the owner holds it (false: released)
     * @param lver the lease version: the Disk Paxos instance that chose the owner
     * @param owner the owner chosen by that instance
     * @param resource the resource name
     * @param wallMillis the writer's wall clock, for people only
     */
    public record LeaderRec(int area, boolean held, long lver, Owner owner, String resource, long wallMillis) {
    }

    /**
     * A Disk Paxos block: one per slot and area, written only by the slot's holder.
     *
     * @param area area number
     * @param slot slot number
     * @param lver the instance the ballot numbers below belong to
     * @param mbal the highest ballot this slot started in that instance
     * @param bal the ballot of the value this slot last proposed in phase 2 (0: none)
     * @param inp that value (null when bal is 0)
     */
    public record Dblock(int area, int slot, long lver, long mbal, long bal, Owner inp) {
        /** The empty block. */
        public static Dblock empty(int area, int slot) {
            return new Dblock(area, slot, 0, 0, 0, null);
        }
    }

    // ---------------------------------------------------------------- encoding

    private static ByteBuffer start(int sectorSize, long magic, int tag) {
        ByteBuffer b = ByteBuffer.allocate(sectorSize);
        b.putLong(magic).putInt(VERSION).putInt(tag);
        return b;
    }

    private static byte[] seal(ByteBuffer b) {
        byte[] a = b.array();
        CRC32C crc = new CRC32C();
        crc.update(a, 0, CRC_OFFSET);
        b.putInt(CRC_OFFSET, (int) crc.getValue());
        return a;
    }

    static byte[] utf8(String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= max) {
            return b;
        }
        // cut on a character boundary
        int n = max;
        while (n > 0 && (b[n] & 0xC0) == 0x80) {
            n--;
        }
        return Arrays.copyOf(b, n);
    }

    private static void putString(ByteBuffer b, int offset, String s, int max) {
        byte[] v = utf8(s, max);
        b.putShort(offset, (short) v.length);
        b.put(offset + 2, v);
    }

    private static void putUuid(ByteBuffer b, int offset, UUID id) {
        b.putLong(offset, id.getMostSignificantBits()).putLong(offset + 8, id.getLeastSignificantBits());
    }

    /** @return the header sector */
    public static byte[] encodeHeader(Header h, int tag) {
        ByteBuffer b = start(h.sectorSize(), MAGIC_HEADER, tag);
        Geometry g = h.geometry();
        b.putInt(16, h.sectorSize()).putInt(20, h.maxHosts()).putInt(24, h.areas()).putInt(28, g.areaSectors());
        b.putLong(32, g.slotsStart()).putLong(40, g.areasStart()).putLong(48, g.totalSectors());
        putString(b, 56, h.name(), MAX_LOCKSPACE_NAME_BYTES);
        return seal(b);
    }

    /** @return a slot sector */
    public static byte[] encodeSlot(Geometry g, SlotRec r) {
        ByteBuffer b = start(g.sectorSize(), MAGIC_SLOT, g.tag());
        b.putInt(16, r.slot()).putInt(20, r.released() ? 1 : 0);
        putUuid(b, 24, r.id());
        b.putLong(40, r.generation()).putLong(48, r.counter()).putLong(56, r.wallMillis());
        putString(b, 64, r.name(), MAX_HOST_NAME_BYTES);
        return seal(b);
    }

    /** @return a leader sector */
    public static byte[] encodeLeader(Geometry g, LeaderRec r) {
        ByteBuffer b = start(g.sectorSize(), MAGIC_LEADER, g.tag());
        b.putInt(16, r.area()).putInt(20, r.held() ? 1 : 0).putLong(24, r.lver());
        putOwner(b, 32, r.owner());
        b.putLong(200, r.wallMillis());
        putString(b, 208, r.resource(), MAX_RESOURCE_BYTES);
        return seal(b);
    }

    /** @return a dblock sector */
    public static byte[] encodeDblock(Geometry g, Dblock d) {
        ByteBuffer b = start(g.sectorSize(), MAGIC_DBLOCK, g.tag());
        b.putInt(16, d.area()).putInt(20, d.slot()).putLong(24, d.lver()).putLong(32, d.mbal()).putLong(40, d.bal());
        if (d.inp() != null) {
            b.putInt(48, 1);
            putOwner(b, 56, d.inp());
        }
        return seal(b);
    }

    /** Owner: slot u32, pad u32, uuid 16, generation u64, name u16 + bytes (128 max): 162 bytes. */
    private static void putOwner(ByteBuffer b, int off, Owner o) {
        b.putInt(off, o.slot());
        putUuid(b, off + 8, o.id());
        b.putLong(off + 24, o.generation());
        putString(b, off + 32, o.name(), MAX_HOST_NAME_BYTES);
    }

    // ---------------------------------------------------------------- decoding

    /** @return whether {@code len} bytes from {@code off} are all zero */
    public static boolean allZero(byte[] a, int off, int len) {
        for (int i = off; i < off + len; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** Common checks: zero, magic, checksum, version, tag. Returns null when the record may be read. */
    private static <T> Decoded<T> check(ByteBuffer b, int off, long magic, int tag, String what) {
        byte[] a = b.array();
        int base = b.arrayOffset() + off;
        if (b.getLong(off) != magic) {
            return allZero(a, base, RECORD_BYTES) ? Decoded.zero()
                    : Decoded.damaged(what + " does not hold such a record (wrong signature)");
        }
        CRC32C crc = new CRC32C();
        crc.update(a, base, CRC_OFFSET);
        if ((int) crc.getValue() != b.getInt(off + CRC_OFFSET)) {
            return Decoded.damaged(what + " fails its checksum (torn or damaged sector)");
        }
        if (b.getInt(off + 8) != VERSION) {
            return Decoded.damaged(what + " has unsupported format version " + b.getInt(off + 8));
        }
        if (tag != 0 && b.getInt(off + 12) != tag) {
            return Decoded.foreign();
        }
        return null;
    }

    private static String getString(ByteBuffer b, int off, int max) {
        int len = b.getShort(off) & 0xFFFF;
        if (len > max) {
            return null;
        }
        byte[] v = new byte[len];
        b.get(off + 2, v);
        return new String(v, StandardCharsets.UTF_8);
    }

    private static UUID getUuid(ByteBuffer b, int off) {
        return new UUID(b.getLong(off), b.getLong(off + 8));
    }

    /**
     * @param sector a sector's bytes (at least 512)
     * @return the header, ZERO or DAMAGED (headers are never FOREIGN: they define the tag)
     */
    public static Decoded<Header> decodeHeader(byte[] sector) {
        ByteBuffer b = ByteBuffer.wrap(sector);
        Decoded<Header> c = check(b, 0, MAGIC_HEADER, 0, "lockspace header");
        if (c != null) {
            return c;
        }
        String name = getString(b, 56, MAX_LOCKSPACE_NAME_BYTES);
        int sectorSize = b.getInt(16);
        int maxHosts = b.getInt(20);
        int areas = b.getInt(24);
        if (name == null || name.isEmpty()) {
            return Decoded.damaged("lockspace header has a bad name field");
        }
        Geometry g;
        try {
            g = new Geometry(name, sectorSize, maxHosts, areas);
        } catch (RuntimeException e) {
            return Decoded.damaged("lockspace header has a bad layout: " + e.getMessage());
        }
        if (b.getInt(12) != g.tag() || b.getInt(28) != g.areaSectors() || b.getLong(32) != g.slotsStart()
                || b.getLong(40) != g.areasStart() || b.getLong(48) != g.totalSectors()) {
            return Decoded.damaged("lockspace header fields contradict each other");
        }
        return Decoded.valid(new Header(name, sectorSize, maxHosts, areas));
    }

    /** @return the slot record at {@code off} of {@code data}, expected at position {@code slot} */
    public static Decoded<SlotRec> decodeSlot(Geometry g, byte[] data, int off, int slot) {
        ByteBuffer b = ByteBuffer.wrap(data);
        Decoded<SlotRec> c = check(b, off, MAGIC_SLOT, g.tag(), "host slot " + slot);
        if (c != null) {
            return c;
        }
        int s = b.getInt(off + 16);
        String name = getString(b, off + 64, MAX_HOST_NAME_BYTES);
        if (s != slot || name == null) {
            return Decoded.damaged("host slot " + slot + " holds a record of slot " + s);
        }
        return Decoded.valid(new SlotRec(s, (b.getInt(off + 20) & 1) != 0, getUuid(b, off + 24), name,
                b.getLong(off + 40), b.getLong(off + 48), b.getLong(off + 56)));
    }

    private static Owner getOwner(Geometry g, ByteBuffer b, int off) {
        int slot = b.getInt(off);
        String name = getString(b, off + 32, MAX_HOST_NAME_BYTES);
        if (slot < 0 || slot >= g.maxHosts() || name == null) {
            return null;
        }
        return new Owner(slot, getUuid(b, off + 8), b.getLong(off + 24), name);
    }

    /** @return the leader record at {@code off} of {@code data}, expected for area {@code area} */
    public static Decoded<LeaderRec> decodeLeader(Geometry g, byte[] data, int off, int area) {
        ByteBuffer b = ByteBuffer.wrap(data);
        Decoded<LeaderRec> c = check(b, off, MAGIC_LEADER, g.tag(), "leader of lease area " + area);
        if (c != null) {
            return c;
        }
        Owner owner = getOwner(g, b, off + 32);
        String resource = getString(b, off + 208, MAX_RESOURCE_BYTES);
        if (b.getInt(off + 16) != area || owner == null || resource == null || b.getLong(off + 24) < 1) {
            return Decoded.damaged("leader of lease area " + area + " has fields that contradict its position");
        }
        return Decoded.valid(new LeaderRec(area, (b.getInt(off + 20) & 1) != 0, b.getLong(off + 24), owner,
                resource, b.getLong(off + 200)));
    }

    /** @return the dblock at {@code off} of {@code data}, expected for area {@code area} and slot {@code slot} */
    public static Decoded<Dblock> decodeDblock(Geometry g, byte[] data, int off, int area, int slot) {
        ByteBuffer b = ByteBuffer.wrap(data);
        Decoded<Dblock> c = check(b, off, MAGIC_DBLOCK, g.tag(), "ballot block of slot " + slot + " in area " + area);
        if (c != null) {
            return c;
        }
        Owner inp = null;
        if (b.getInt(off + 48) == 1) {
            inp = getOwner(g, b, off + 56);
            if (inp == null) {
                return Decoded.damaged("ballot block of slot " + slot + " in area " + area + " has a bad value");
            }
        }
        long lver = b.getLong(off + 24);
        long mbal = b.getLong(off + 32);
        long bal = b.getLong(off + 40);
        if (b.getInt(off + 16) != area || b.getInt(off + 20) != slot || lver < 0 || mbal < 0 || bal < 0
                || bal > mbal || (bal > 0) != (inp != null)) {
            return Decoded.damaged("ballot block of slot " + slot + " in area " + area
                    + " has fields that contradict each other");
        }
        return Decoded.valid(new Dblock(area, slot, lver, mbal, bal, inp));
    }
}
