package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * One host slot's metadata journal: a header page and a ring of records. A transaction (the new
 * images of the metadata pages one change touches) is written as a record and flushed, then
 * written in place and flushed, before the change counts as done. A crash at any moment leaves
 * either a torn record (its checksum fails: the change never happened) or a complete one whose
 * images replay makes sure are in place.
 *
 * <p>Every metadata page carries a version that grows by one at each rewrite, so replay writes
 * an image only where the page on the device is older (or torn, in the metadata regions): a
 * record replayed twice, or replayed after another host changed the page again, changes nothing.
 * Pages inside file blocks (pointer pages) are rewritten only over a blank or older pointer page
 * of the same place, or over that very image torn while it was written in place; and whenever this host frees a pointer block it starts a new epoch (see
 * {@link #checkpoint}) so no record of it can ever land on a block reused for data.
 *
 * <pre>
 * header page  (type 7): 32 u64 epoch   40 u32 slot
 * record header (type 8): 32 u64 epoch  40 u64 sequence  48 u32 page count n  52 u32 CRC32C of the n images
 *                         56 n x u64 target page numbers; followed by the n page images
 * </pre>
 * A record counts only when its header is sound, its epoch is the header's, and its images
 * match their CRC. Replay applies the records of the current epoch in sequence order, then
 * starts the next epoch, which retires them all.
 */
final class Journal {
    static final int MAX_PAGES = 128;

    private final Disk disk;
    private final Superblock sb;
    private final int slot;
    private final long first;
    private long epoch;
    /** The header was found torn (see {@link #tornHeader}): the next replay rewrites it. */
    private boolean torn;
    private long seq;
    private int head = 1;

    private Journal(Disk disk, Superblock sb, int slot, long epoch) {
        this.disk = disk;
        this.sb = sb;
        this.slot = slot;
        this.first = sb.journalPage(slot);
        this.epoch = epoch;
    }

    /** A valid record. */
    record Record(long seq, long at, List<Long> targets, List<ByteBuffer> images) {
    }

    static ByteBuffer header(Superblock sb, int slot, long epoch) {
        ByteBuffer b = Pages.allocate();
        b.putLong(32, epoch);
        b.putInt(40, slot);
        return Pages.seal(b, Pages.JOURNAL_HEADER, sb.journalPage(slot), epoch, sb.tag());
    }

    /**
     * Reads a slot's journal header.
     *
     * @throws StorageException {@code CORRUPT_IMAGE} when the header is damaged
     */
    static Journal open(Disk disk, Superblock sb, int slot) {
        long page = sb.journalPage(slot);
        ByteBuffer h = disk.readPage(page);
        boolean torn = tornHeader(h, page, slot, sb.tag());
        if (!torn && (Pages.state(h, Pages.JOURNAL_HEADER, page, sb.tag()) != Pages.State.VALID || h.getInt(40) != slot)) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "the journal header of host slot " + slot
                    + " is damaged (" + Pages.problem(h, Pages.JOURNAL_HEADER, page, sb.tag())
                    + "); run storage:datastore-check --repair");
        }
        Journal j = new Journal(disk, sb, slot, h.getLong(32));
        j.torn = torn;
        return j;
    }

    /**
     * Whether a slot's journal header is one a crash tore while {@link #checkpoint} rewrote it:
     * every field in place and sound (they all sit in the first sector), zeros after them, only
     * the checksum (in the last sector) wrong. Either epoch it can show is safe to go on with:
     * a checkpoint starts only once every record of the old one is in place.
     */
    static boolean tornHeader(ByteBuffer h, long page, int slot, int tag) {
        if (h.getInt(0) != Pages.MAGIC || h.getShort(4) != Pages.JOURNAL_HEADER || h.getLong(8) != page
                || h.getInt(24) != tag || h.getInt(40) != slot || h.getInt(Pages.CRC_AT) == Pages.crc(h)) {
            return false;
        }
        for (int i = 44; i < Pages.CRC_AT; i++) {
            if (h.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    long epoch() {
        return epoch;
    }

    int slot() {
        return slot;
    }

    /** @return the sound records of the current epoch, in sequence order */
    List<Record> records() {
        int n = sb.journalPages();
        ByteBuffer all = disk.readPages(first, n);
        List<Record> out = new ArrayList<>();
        int tag = sb.tag();
        for (int i = 1; i < n; i++) {
            ByteBuffer h = Disk.page(all, i);
            if (Pages.state(h, Pages.JOURNAL_RECORD, first + i, tag) != Pages.State.VALID || h.getLong(32) != epoch) {
                continue;
            }
            int count = h.getInt(48);
            if (count < 1 || count > MAX_PAGES || i + count >= n) {
                continue;
            }
            CRC32C crc = new CRC32C();
            List<Long> targets = new ArrayList<>(count);
            List<ByteBuffer> images = new ArrayList<>(count);
            for (int k = 0; k < count; k++) {
                ByteBuffer img = Disk.page(all, i + 1 + k);
                crc.update(img.duplicate());
                targets.add(h.getLong(56 + k * 8));
                images.add(img);
            }
            if ((int) crc.getValue() != h.getInt(52)) {
                continue;
            }
            out.add(new Record(h.getLong(40), first + i, targets, images));
        }
        out.sort(Comparator.comparingLong(Record::seq));
        return out;
    }

    /**
     * Applies the current epoch's records where the device is older, then starts a new epoch.
     *
     * @return the number of pages written in place
     */
    int replay() {
        List<Record> records = records();
        int written = 0;
        for (Record r : records) {
            for (int k = 0; k < r.targets().size(); k++) {
                if (apply(r.targets().get(k), r.images().get(k))) {
                    written++;
                }
            }
            seq = Math.max(seq, r.seq());
        }
        if (written > 0) {
            disk.flush();
        }
        if (!records.isEmpty() || torn) {
            checkpoint();
        }
        return written;
    }

    private boolean apply(long target, ByteBuffer image) {
        int type = Pages.type(image);
        ByteBuffer now = disk.readPage(target);
        Pages.State state = Pages.state(now, type, target, sb.tag());
        boolean inData = target * Pages.SIZE >= sb.dataStart();
        boolean older = state == Pages.State.VALID && Pages.version(now) < Pages.version(image);
        boolean write = older || state == Pages.State.ZERO
                || (state == Pages.State.DAMAGED && (!inData || torn(now, image)));
        if (write) {
            disk.writePages(target, image);
        }
        return write;
    }

    /**
     * Whether a damaged page in a file block is this very image torn by a crash while it was
     * written in place: its header (the first sector, written first) is the image's own, only
     * the checksum fails. Anything else there (data of a file the block went to since) is left.
     */
    private static boolean torn(ByteBuffer now, ByteBuffer image) {
        return now.duplicate().limit(Pages.PAYLOAD)
                .equals(image.duplicate().position(0).limit(Pages.PAYLOAD));
    }

    /** Retires every record: they are all in place (each commit writes in place and flushes before it returns). */
    synchronized void checkpoint() {
        disk.writePages(first, header(sb, slot, epoch + 1));
        disk.flush();
        epoch++;
        head = 1;
        torn = false;
    }

    /**
     * Commits a transaction: record, flush, pages in place, flush.
     *
     * @param pages the sealed new images by page number (iteration order is write order)
     */
    synchronized void commit(Map<Long, ByteBuffer> pages) {
        int count = pages.size();
        if (count == 0) {
            return;
        }
        if (count > MAX_PAGES || count + 1 >= sb.journalPages()) {
            throw new IllegalStateException("transaction of " + count + " pages is larger than a journal record");
        }
        if (head + 1 + count > sb.journalPages()) {
            head = 1;
        }
        ByteBuffer rec = ByteBuffer.allocate((count + 1) * Pages.SIZE);
        ByteBuffer h = Disk.page(rec, 0);
        h.putLong(32, epoch);
        h.putLong(40, ++seq);
        h.putInt(48, count);
        CRC32C crc = new CRC32C();
        int k = 0;
        for (Map.Entry<Long, ByteBuffer> e : pages.entrySet()) {
            h.putLong(56 + k * 8, e.getKey());
            ByteBuffer img = Disk.page(rec, k + 1);
            img.put(0, e.getValue(), 0, Pages.SIZE);
            crc.update(img.duplicate());
            k++;
        }
        h.putInt(52, (int) crc.getValue());
        Pages.seal(h, Pages.JOURNAL_RECORD, first + head, epoch, sb.tag());
        disk.writePages(first + head, rec);
        disk.flush();
        head += 1 + count;
        for (Map.Entry<Long, ByteBuffer> e : pages.entrySet()) {
            disk.writePages(e.getKey(), e.getValue());
        }
        disk.flush();
    }
}
