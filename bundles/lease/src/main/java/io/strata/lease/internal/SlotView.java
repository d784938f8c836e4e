package io.strata.lease.internal;

import io.strata.lease.HostIdentity;
import io.strata.lease.HostStatus;
import io.strata.lease.internal.Records.Decoded;
import io.strata.lease.internal.Records.Owner;
import io.strata.lease.internal.Records.SlotRec;
import java.util.Arrays;
import java.util.UUID;

/**
 * What this host has observed of one slot, with its own clock only. Immutable: the engine
 * replaces it after each scan and publishes the array, so other threads may read it.
 *
 * @param raw the sector bytes last read
 * @param record their decoding
 * @param firstSeen clock reading when this host first read any content of the slot
 * @param changedAt clock reading after the read that first returned the current content
 *        completed (a later reading is the conservative choice for "unchanged since")
 * @param lastSeen clock reading before the latest read that still returned the current
 *        content was issued (an earlier reading is the conservative choice for "unchanged until")
 * @param everChanged whether this host saw the content change at least once
 */
record SlotView(byte[] raw, Decoded<SlotRec> record, long firstSeen, long changedAt, long lastSeen,
        boolean everChanged) {

    /** A zero UUID for slots whose record cannot be read. */
    static final UUID NIL = new UUID(0, 0);

    /** @return the next view after a read issued at {@code issued}, completed at {@code completed} */
    static SlotView next(SlotView prev, byte[] raw, Decoded<SlotRec> rec, long issued, long completed) {
        if (prev == null) {
            return new SlotView(raw, rec, completed, completed, issued, false);
        }
        if (Arrays.equals(prev.raw, raw)) {
            return new SlotView(prev.raw, prev.record, prev.firstSeen, prev.changedAt,
                    Math.max(prev.lastSeen, issued), prev.everChanged);
        }
        return new SlotView(raw, rec, prev.firstSeen, completed, issued, true);
    }

    /**
     * Whether the content was observed unchanged long enough to prove its writer silent: the
     * expiry, plus {@code claimExtra} for a claim record (generation written, never renewed):
     * its writer may legitimately stay silent while it confirms the claim, but it holds no
     * lease yet.
     */
    boolean unchangedFor(long expiry, long claimExtra) {
        return lastSeen - changedAt >= expiry + (claim() ? claimExtra : 0);
    }

    /** @return whether the slot holds a claim not yet renewed */
    boolean claim() {
        return record.valid() && !record.value().released() && record.value().counter() == 0;
    }

    /** @return whether nobody uses the slot: never written, another lockspace's, or released */
    boolean free() {
        return record.blank() || (record.valid() && record.value().released());
    }

    /** @return the state as defined by {@link HostStatus.State} */
    HostStatus.State state(long expiry, long claimExtra) {
        if (free()) {
            return HostStatus.State.FREE;
        }
        if (unchangedFor(expiry, claimExtra)) {
            return HostStatus.State.DEAD;
        }
        return everChanged ? HostStatus.State.LIVE : HostStatus.State.UNKNOWN;
    }

    /**
     * Whether the incarnation {@code o} of a host in this slot can no longer write: it released
     * the slot, was observed silent for the expiry, or the slot now carries another incarnation
     * (a slot is only ever claimed after its previous incarnation was seen released or dead).
     */
    boolean gone(Owner o, long expiry, long claimExtra) {
        if (record.valid()) {
            SlotRec r = record.value();
            if (r.id().equals(o.id()) && r.generation() == o.generation()) {
                return r.released() || unchangedFor(expiry, claimExtra);
            }
            return true;
        }
        // blank or damaged: only silence for the whole expiry proves anything
        return unchangedFor(expiry, claimExtra);
    }

    /** @return the host as a {@link HostStatus}, or null for a never-used slot */
    HostStatus status(int slot, long expiry, long claimExtra, long now) {
        if (record.blank()) {
            return null;
        }
        long unchanged = Math.max(0, now - changedAt) / 1_000_000;
        if (record.valid()) {
            SlotRec r = record.value();
            return new HostStatus(slot, new HostIdentity(r.id(), r.name()), r.generation(), state(expiry, claimExtra),
                    unchanged);
        }
        return new HostStatus(slot, new HostIdentity(NIL, "<damaged slot>"), 0, state(expiry, claimExtra), unchanged);
    }
}
