package io.strata.fs.vims.internal;

import io.strata.api.format.CheckReport;
import io.strata.lease.HostStatus;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The VIMS checker: superblocks, journals, namespace, directory, descriptors and pointer pages,
 * lock records, and the allocation bitmaps against the blocks the files use (leaked, doubly
 * used and wrongly free blocks). With repair it fixes what can be fixed without guessing: a
 * damaged superblock copy from the sound one, journals of hosts not alive (replayed, or reset
 * when their header is garbage), bitmaps rebuilt from the files, allocation counts, lock records
 * of hosts the lockspace does not know. It never deletes a file; a block two files claim is
 * reported, not resolved.
 *
 * <p>On a mounted filesystem ({@code vims} given) it runs under the namespace lease and every
 * cluster group's lease and repairs through this host's journal; offline (no host has it
 * mounted) it writes in place.
 */
final class Checker {
    private final Disk disk;
    private Superblock sb;
    private final Vims vims;
    private final List<String> errors = new ArrayList<>();
    private final List<String> leaks = new ArrayList<>();
    private final List<String> repaired = new ArrayList<>();
    private long leakedBytes;
    private final Map<Long, ByteBuffer> fixes = new LinkedHashMap<>();
    private int tag;

    Checker(Disk disk, Superblock sb, Vims vims) {
        this.disk = disk;
        this.sb = sb;
        this.vims = vims;
    }

    /** Checks a filesystem no host has mounted. */
    static CheckReport offline(io.strata.api.device.BlockDevice device, boolean repair) {
        Disk disk = new Disk(device);
        Superblock sb = Vims.readSuperblock(disk);
        return new Checker(disk, sb, null).check(repair);
    }

    CheckReport check(boolean repair) {
        tag = sb.tag();
        long end = sb.dataStart() + sb.blocks() * sb.blockSize();
        if (disk.size() < end) {
            // what lies past the end reads as zeros: nothing the checker would conclude from it can be trusted
            errors.add("the device has " + disk.size() + " bytes but the VIMS on it needs " + end
                    + " (a truncated or shrunk LUN?)" + (repair ? "; nothing was repaired" : ""));
            repair = false;
        }
        superblocks(repair);
        journals(repair);
        flush(repair);
        namespace(repair);
        int[] owner = new int[(int) sb.blocks()];
        Map<Integer, String> names = new HashMap<>();
        files(repair, owner, names);
        flush(repair);
        bitmaps(repair, owner, names);
        flush(repair);
        return new CheckReport("VIMS " + sb.uuid() + (sb.label().isEmpty() ? "" : " (" + sb.label() + ")"), errors,
                leaks, repaired, leakedBytes);
    }

    private void fix(long page, int type, ByteBuffer image, String what) {
        Pages.seal(image, type, page, Pages.version(image) + 1, tag);
        fixes.put(page, image);
        repaired.add(what);
    }

    private void flush(boolean repair) {
        if (!repair || fixes.isEmpty()) {
            fixes.clear();
            return;
        }
        if (vims != null) {
            Txn t = new Txn(tag);
            for (Map.Entry<Long, ByteBuffer> e : fixes.entrySet()) {
                t.pages.put(e.getKey(), e.getValue());
                if (t.size() >= 100) {
                    vims.commit(t);
                    t = new Txn(tag);
                }
            }
            if (!t.isEmpty()) {
                vims.commit(t);
            }
        } else {
            for (Map.Entry<Long, ByteBuffer> e : fixes.entrySet()) {
                disk.writePages(e.getKey(), e.getValue());
            }
            disk.flush();
        }
        fixes.clear();
    }

    private void superblocks(boolean repair) {
        ByteBuffer pb = disk.readPage(Superblock.PRIMARY_PAGE);
        ByteBuffer bb = disk.readPage(Superblock.BACKUP_PAGE);
        Superblock p = Superblock.decode(pb, Superblock.PRIMARY_PAGE);
        Superblock b = Superblock.decode(bb, Superblock.BACKUP_PAGE);
        if (p == null) {
            errors.add("the primary superblock is damaged");
            if (repair && b != null) {
                fix(Superblock.PRIMARY_PAGE, Pages.SUPER, b.encode(Superblock.PRIMARY_PAGE, Pages.version(bb)),
                        "primary superblock rewritten from the backup");
            }
        } else if (b == null) {
            errors.add("the backup superblock is damaged");
            if (repair) {
                fix(Superblock.BACKUP_PAGE, Pages.SUPER, p.encode(Superblock.BACKUP_PAGE, Pages.version(pb)),
                        "backup superblock rewritten from the primary");
            }
        } else if (!p.equals(b)) {
            errors.add("the superblock copies differ (" + p.blocks() + " and " + b.blocks() + " blocks)");
            if (repair) {
                Superblock newer = p.blocks() >= b.blocks() ? p : b;
                long v = Math.max(Pages.version(pb), Pages.version(bb));
                fix(Superblock.PRIMARY_PAGE, Pages.SUPER, newer.encode(Superblock.PRIMARY_PAGE, v), "primary superblock rewritten");
                fix(Superblock.BACKUP_PAGE, Pages.SUPER, newer.encode(Superblock.BACKUP_PAGE, v), "backup superblock rewritten");
            }
        }
    }

    private boolean alive(int slot) {
        if (vims == null) {
            return false;
        }
        if (slot == vims.ls.slot()) {
            return true;
        }
        HostStatus h = vims.hostsBySlot().get(slot);
        return h != null && (h.state() == HostStatus.State.LIVE || h.state() == HostStatus.State.UNKNOWN);
    }

    private void journals(boolean repair) {
        for (int s = 0; s < sb.maxHosts(); s++) {
            long page = sb.journalPage(s);
            ByteBuffer h = disk.readPage(page);
            boolean torn = Journal.tornHeader(h, page, s, tag);
            if (!torn && (Pages.state(h, Pages.JOURNAL_HEADER, page, tag) != Pages.State.VALID || h.getInt(40) != s)) {
                errors.add("the journal header of slot " + s + " is " + Pages.problem(h, Pages.JOURNAL_HEADER, page, tag));
                if (repair && !alive(s)) {
                    // an epoch no record on the device can carry
                    long epoch = System.currentTimeMillis() * 1000 + s;
                    ByteBuffer fresh = Journal.header(sb, s, epoch);
                    fresh.putLong(16, Pages.isZero(h) ? 0 : Math.max(0, Pages.version(h)));
                    fix(page, Pages.JOURNAL_HEADER, fresh, "journal of slot " + s + " reset");
                }
                continue;
            }
            if (alive(s)) {
                continue;
            }
            Journal j = Journal.open(disk, sb, s);
            int pending = 0;
            for (Journal.Record r : j.records()) {
                for (int k = 0; k < r.targets().size(); k++) {
                    long target = r.targets().get(k);
                    ByteBuffer now = disk.readPage(target);
                    ByteBuffer img = r.images().get(k);
                    Pages.State st = Pages.state(now, Pages.type(img), target, tag);
                    if (st != Pages.State.VALID || Pages.version(now) < Pages.version(img)) {
                        pending++;
                    }
                }
            }
            if (torn) {
                errors.add("the journal header of slot " + s + " was torn by a crash while it was rewritten");
            }
            if (pending > 0) {
                errors.add("the journal of slot " + s + " holds " + pending + " page(s) not yet replayed");
            }
            if (pending > 0 || torn) {
                if (repair) {
                    int n = j.replay();
                    repaired.add("journal of slot " + s + " replayed (" + n + " page(s))");
                }
            }
        }
    }

    private void namespace(boolean repair) {
        ByteBuffer ns = disk.readPage(sb.namespacePage());
        if (Pages.state(ns, Pages.NAMESPACE, sb.namespacePage(), tag) != Pages.State.VALID) {
            errors.add("the namespace header is " + Pages.problem(ns, Pages.NAMESPACE, sb.namespacePage(), tag));
            if (repair) {
                ByteBuffer fresh = Pages.allocate();
                fresh.putLong(16, System.currentTimeMillis()); // above any version it had
                fix(sb.namespacePage(), Pages.NAMESPACE, fresh, "namespace header rewritten");
            }
        }
    }

    private void files(boolean repair, int[] owner, Map<Integer, String> names) {
        ByteBuffer dir = disk.readPages(sb.directoryStart(), sb.directoryPages());
        Map<String, Integer> seen = new HashMap<>();
        Map<Integer, HostStatus> hosts = vims == null ? Map.of() : vims.hostsBySlot();
        for (int p = 0; p < sb.directoryPages(); p++) {
            ByteBuffer page = Disk.page(dir, p);
            if (Pages.state(page, Pages.DIRECTORY, sb.directoryStart() + p, tag) != Pages.State.VALID) {
                errors.add("directory page " + p + " is " + Pages.problem(page, Pages.DIRECTORY, sb.directoryStart() + p, tag)
                        + " (the files it named cannot be recovered by the checker)");
                continue;
            }
            for (int k = 0; k < Superblock.ENTRIES_PER_PAGE; k++) {
                int i = p * Superblock.ENTRIES_PER_PAGE + k;
                if (i >= sb.maxFiles()) {
                    break;
                }
                Entry e = Entry.read(page, i);
                if (e == null) {
                    errors.add("directory entry " + i + " is malformed");
                    continue;
                }
                if (e.state() == Entry.FREE) {
                    continue;
                }
                String fname = e.state() == Entry.USED ? e.name() : e.name() + " (being deleted)";
                names.put(i, fname);
                if (e.state() == Entry.USED) {
                    Integer other = seen.put(e.name(), i);
                    if (other != null) {
                        errors.add("file name '" + e.name() + "' appears twice (entries " + other + " and " + i + ")");
                    }
                }
                descriptor(repair, e, fname, owner, hosts);
            }
        }
    }

    private void descriptor(boolean repair, Entry e, String fname, int[] owner, Map<Integer, HostStatus> hosts) {
        long page = sb.descriptorPage(e.index());
        ByteBuffer b = disk.readPage(page);
        if (Pages.state(b, Pages.DESCRIPTOR, page, tag) != Pages.State.VALID) {
            errors.add("the descriptor of file '" + fname + "' is " + Pages.problem(b, Pages.DESCRIPTOR, page, tag));
            return;
        }
        Descriptor d = new Descriptor(e.index(), b);
        if (d.generation() != e.generation()) {
            errors.add("the descriptor of file '" + fname + "' belongs to another generation (" + d.generation()
                    + ", entry " + e.generation() + ")");
            return;
        }
        boolean changed = false;
        long counted = 0;
        for (int i = 0; i < Descriptor.DIRECT; i++) {
            long ptr = d.direct(i);
            if (ptr == 0) {
                continue;
            }
            if (claim(ptr, e.index(), fname, "block " + i, owner)) {
                counted++;
            } else {
                if (repair) {
                    d.direct(i, 0);
                    changed = true;
                }
            }
        }
        for (int ind = 0; ind < Descriptor.INDIRECT; ind++) {
            long ip = d.indirect(ind);
            if (ip == 0) {
                continue;
            }
            if (!claim(ip, e.index(), fname, "pointer block " + ind, owner)) {
                continue;
            }
            counted++;
            long block = Descriptor.block(ip);
            ByteBuffer pages = disk.readPages(sb.blockPage(block, 0), (int) sb.pagesPerBlock());
            for (int k = 0; k < sb.pagesPerBlock(); k++) {
                ByteBuffer pp = Disk.page(pages, k);
                long pageNo = sb.blockPage(block, k);
                Pages.State st = Pages.state(pp, Pages.POINTERS, pageNo, tag);
                if (st == Pages.State.ZERO) {
                    continue;
                }
                if (st == Pages.State.DAMAGED) {
                    errors.add("pointer page " + k + " of pointer block " + ind + " of file '" + fname + "' is "
                            + Pages.problem(pp, Pages.POINTERS, pageNo, tag));
                    continue;
                }
                for (int s = 0; s < Descriptor.PER_PAGE; s++) {
                    long ptr = pp.getLong(Pages.PAYLOAD + s * 8);
                    if (ptr != 0 && claim(ptr, e.index(), fname, "a block of pointer block " + ind, owner)) {
                        counted++;
                    }
                }
            }
        }
        if (counted != d.allocated()) {
            errors.add("file '" + fname + "' counts " + d.allocated() + " allocated blocks but uses " + counted);
            if (repair) {
                d.allocated(counted);
                changed = true;
            }
        }
        if (d.lockMode() != Descriptor.LOCK_NONE) {
            HostStatus h = hosts.get(d.lockSlot());
            boolean known = h != null && h.host().id().equals(d.lockOwner());
            if (vims != null && !known) {
                errors.add("the lock record of file '" + fname + "' names host " + d.lockOwner() + " (slot "
                        + d.lockSlot() + "), which the lockspace does not know");
                if (repair && !vims.fileHeld(e.index())) {
                    d.lock(Descriptor.LOCK_NONE, 0, null, 0);
                    changed = true;
                    repaired.add("lock record of file '" + fname + "' cleared");
                }
            }
        }
        if (changed && repair) {
            fix(page, Pages.DESCRIPTOR, d.page, "descriptor of file '" + fname + "' corrected");
        }
    }

    /** @return whether the pointer is sound; records its block as used by file {@code index} */
    private boolean claim(long ptr, int index, String fname, String what, int[] owner) {
        long block = Descriptor.block(ptr);
        if (!Descriptor.wellFormed(ptr) || block < 0 || block >= sb.blocks()) {
            errors.add(what + " of file '" + fname + "' points outside the filesystem (" + Long.toHexString(ptr) + ")");
            return false;
        }
        int prev = owner[(int) block];
        if (prev != 0) {
            errors.add("block " + block + " is used twice: by file #" + (prev - 1) + " and by " + what + " of file '"
                    + fname + "'");
            return true;
        }
        owner[(int) block] = index + 1;
        return true;
    }

    private void bitmaps(boolean repair, int[] owner, Map<Integer, String> names) {
        long clusters = sb.clusters();
        for (long c = 0; c < clusters; c++) {
            long pageNo = sb.bitmapPage(c);
            ByteBuffer b = disk.readPage(pageNo);
            int n = Bitmaps.blocksIn(sb, c, sb.blocks());
            boolean sound = Pages.state(b, Pages.BITMAP, pageNo, tag) == Pages.State.VALID && Bitmaps.cluster(b) == c
                    && Bitmaps.count(b) == n;
            if (!sound) {
                errors.add("the bitmap of cluster " + c + " is " + Pages.problem(b, Pages.BITMAP, pageNo, tag));
                if (repair) {
                    ByteBuffer fresh = Bitmaps.empty(sb, c, Pages.isZero(b) ? 0 : Math.max(0, Pages.version(b)));
                    for (int i = 0; i < n; i++) {
                        if (owner[(int) (c * sb.clusterBlocks() + i)] != 0) {
                            Bitmaps.set(fresh, i, true);
                        }
                    }
                    fix(pageNo, Pages.BITMAP, fresh, "bitmap of cluster " + c + " rebuilt from the files");
                }
                continue;
            }
            boolean changed = false;
            for (int i = 0; i < n; i++) {
                long block = c * sb.clusterBlocks() + i;
                boolean used = owner[(int) block] != 0;
                boolean marked = Bitmaps.get(b, i);
                if (used && !marked) {
                    errors.add("block " + block + " of file '" + names.get(owner[(int) block] - 1) + "' is marked free");
                    if (repair) {
                        Bitmaps.set(b, i, true);
                        changed = true;
                    }
                } else if (!used && marked) {
                    leaks.add("block " + block + " is allocated but no file uses it");
                    leakedBytes += sb.blockSize();
                    if (repair) {
                        Bitmaps.set(b, i, false);
                        changed = true;
                    }
                }
            }
            int free = n - Bitmaps.used(b);
            if (free != Bitmaps.free(b)) {
                errors.add("the bitmap of cluster " + c + " counts " + Bitmaps.free(b) + " free blocks but has " + free);
                if (repair) {
                    b.putInt(40, free);
                    changed = true;
                }
            }
            if (changed && repair) {
                fix(pageNo, Pages.BITMAP, b, "bitmap of cluster " + c + " corrected");
            }
        }
    }
}
