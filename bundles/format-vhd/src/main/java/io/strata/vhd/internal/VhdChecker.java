package io.strata.vhd.internal;

import io.strata.api.Bounds;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a VHD the way blktap's vhd-util check does, collecting every problem
 * instead of stopping at the first: both footers (cookie, checksum, agreement),
 * the dynamic header, BAT bounds and overlaps, sector bitmaps, parent links and
 * locators, file size against the last block, and leaked space.
 *
 * <p>Repairs only what cannot lose data: a damaged or missing footer copy or
 * trailing footer (from the other, valid one; the copy at 0 wins when both are
 * valid but differ, as it is what every reader believes), and leaked space
 * (compaction, only when no error remains). Everything else is reported.
 */
final class VhdChecker {
    private final DatastoreFile file;
    private final BackingResolver backing;
    private final List<String> errors = new ArrayList<>();
    private final List<String> leaks = new ArrayList<>();
    private final List<String> repaired = new ArrayList<>();
    private long leakedBytes;
    /**
     * Odd but harmless parent naming (unreadable locator paths, name and locator disagreeing,
     * no usable name): errors only when no resolver confirms the parent by its unique id,
     * since the recorded names are hints and an imported child may record any path.
     */
    private final List<String> naming = new ArrayList<>();
    /** Whether a BAT entry covers the last sector of the file (it is then block data, not a footer). */
    private boolean lastSectorInBlock;

    VhdChecker(DatastoreFile file, BackingResolver backing) {
        this.file = file;
        this.backing = backing;
    }

    CheckReport check(boolean repair) {
        try {
            boolean fixedFooters = scan(repair);
            if (fixedFooters) {
                errors.clear();
                leaks.clear();
                naming.clear();
                leakedBytes = 0;
                scan(false);
            }
            if (!errors.isEmpty() && !leaks.isEmpty()) {
                // A block whose BAT entry was damaged looks exactly like a leak: freeing it would destroy
                // the data someone may still recover. Leaks are only freed from an image without errors.
                List<String> kept = new ArrayList<>();
                for (String l : leaks) {
                    kept.add(l + "; not freed" + (repair ? "" : " by a repair") + " while the image has errors:"
                            + " it may be data that a damaged BAT entry no longer points to");
                }
                leaks.clear();
                leaks.addAll(kept);
            }
            if (repair && errors.isEmpty() && !leaks.isEmpty()) {
                Inspection in = VhdInspector.inspect(file);
                long before = file.size();
                new DynamicVhdDisk(file, false, in).compact();
                repaired.add("compacted the file: " + leakedBytes + " bytes of leaked space freed, file "
                        + before + " -> " + file.size() + " bytes");
                leaks.clear();
                naming.clear();
                leakedBytes = 0;
                scan(false);
            }
        } catch (StorageException | Damage e) {
            errors.add("check stopped: " + e.getMessage());
        }
        return new CheckReport(file.name(), errors, leaks, repaired, leakedBytes);
    }

    /** @return whether a footer was repaired (the caller scans again) */
    private boolean scan(boolean repair) {
        lastSectorInBlock = false;
        long size = file.size();
        if (size < Footer.SIZE) {
            errors.add("the file is " + size + " bytes, too small to hold a VHD footer");
            return false;
        }
        byte[] head = Io.readBytes(file, 0, Footer.SIZE);
        long tailPos = (size & ~511L) - Footer.SIZE;
        byte[] tail = Io.readBytes(file, tailPos, Footer.SIZE);
        Footer trailing = null;
        String trailingProblem = null;
        try {
            trailing = Footer.decode(tail, "the footer at the end of the file");
        } catch (Damage d) {
            trailingProblem = allZero(tail) ? "the footer at the end of the file is missing (all zeros)"
                    : d.getMessage();
        }
        if (trailing != null && trailing.diskType() == DiskType.FIXED) {
            checkFixed(size, trailing);
            return false;
        }
        Footer copy = null;
        String copyProblem = null;
        if (Footer.hasCookie(head)) {
            try {
                copy = Footer.decode(head, "the footer copy at offset 0");
            } catch (Damage d) {
                copyProblem = d.getMessage();
            }
        } else {
            copyProblem = "the footer copy at offset 0 has a wrong cookie (expected 'conectix')";
        }
        if (copy == null && (trailing == null || !isSparse(trailing))) {
            errors.add(trailing == null ? "not a VHD image: no valid footer at offset 0 or at the end of the file"
                    + " (" + copyProblem + "; " + trailingProblem + ")" : copyProblem);
            return false;
        }
        Footer footer = copy != null ? copy : trailing;
        if (!isSparse(footer)) {
            errors.add("unsupported disk type " + footer.diskTypeCode() + " in the footer");
            return false;
        }
        if (copy == null) {
            errors.add(copyProblem);
        }
        if ((size & 511) != 0) {
            errors.add("the file size " + size + " is not a whole number of sectors (truncated?)");
        }
        boolean differ = copy != null && trailing != null && !Arrays.equals(copy.encode(), trailing.encode());
        if (trailing == null) {
            errors.add(trailingProblem);
        } else if (differ) {
            errors.add("the footer copy at offset 0 and the footer at the end of the file differ"
                    + describeDifference(copy, trailing));
        }
        int before = errors.size();
        Inspection in = structure(footer, size, trailing != null, copy != null && trailing != null && !differ);
        if (!repair || errors.size() > before) {
            return false; // footers are only rewritten into an otherwise sound image
        }
        if (copy == null) {
            Io.write(file, trailing.encode(), 0);
            file.flush();
            repaired.add("rewrote the footer copy at offset 0 from the footer at the end of the file");
            return true;
        }
        if (trailing == null || differ) {
            // Over the last sector when that is a footer (damaged or stale); else append, as the last
            // sector may be block data of a file that lost its footer.
            long pos = Footer.hasCookie(tail) && !lastSectorInBlock ? tailPos
                    : (size + 511) & ~511L;
            Io.write(file, copy.encode(), pos);
            file.flush();
            repaired.add("rewrote the footer at the end of the file (offset " + pos + ") from the copy at offset 0");
            return true;
        }
        return false;
    }

    private static boolean isSparse(Footer f) {
        return f.diskType() == DiskType.DYNAMIC || f.diskType() == DiskType.DIFFERENCING;
    }

    private static String describeDifference(Footer a, Footer b) {
        List<String> d = new ArrayList<>();
        if (a.currentSize() != b.currentSize()) {
            d.add("size " + a.currentSize() + " vs " + b.currentSize());
        }
        if (a.diskTypeCode() != b.diskTypeCode()) {
            d.add("disk type " + a.diskTypeCode() + " vs " + b.diskTypeCode());
        }
        if (!a.uniqueId().equals(b.uniqueId())) {
            d.add("unique id " + a.uniqueId() + " vs " + b.uniqueId());
        }
        return d.isEmpty() ? "" : " (" + String.join(", ", d) + ")";
    }

    private void checkFixed(long size, Footer footer) {
        long virtualSize;
        try {
            virtualSize = VhdInspector.checkedSize(footer);
        } catch (Damage d) {
            errors.add(d.getMessage());
            return;
        }
        if (virtualSize > size - Footer.SIZE) {
            errors.add("the file is truncated: a fixed disk of " + virtualSize + " bytes needs "
                    + (virtualSize + Footer.SIZE) + " bytes but the file has " + size);
        }
    }

    /**
     * Header, BAT, blocks, bitmaps, locators and parent, leaks.
     *
     * @return the inspection when the structure is sound enough for the inspector, else null
     */
    private Inspection structure(Footer footer, long size, boolean trailingValid, boolean footersSound) {
        long virtualSize;
        try {
            virtualSize = VhdInspector.checkedSize(footer);
        } catch (Damage d) {
            errors.add(d.getMessage());
            return null;
        }
        long hdrOff = footer.dataOffset();
        if (hdrOff < Footer.SIZE || hdrOff > size - DynamicHeader.SIZE || (hdrOff & 511) != 0) {
            errors.add("the dynamic header offset " + Bounds.unsigned(hdrOff) + " is out of range for a file of "
                    + size + " bytes");
            return null;
        }
        DynamicHeader h;
        try {
            h = DynamicHeader.decode(Io.readBytes(file, hdrOff, DynamicHeader.SIZE), "the dynamic header at offset "
                    + hdrOff);
        } catch (Damage d) {
            errors.add(d.getMessage());
            return null;
        }
        if (h.headerVersion() != DynamicHeader.HEADER_VERSION) {
            errors.add("the dynamic header has version 0x" + Integer.toHexString(h.headerVersion())
                    + " (expected 0x00010000)");
        }
        if (h.dataOffset() != DynamicHeader.NO_DATA_OFFSET) {
            errors.add("the dynamic header's data offset field is 0x" + Long.toHexString(h.dataOffset())
                    + " (reserved, must be 0xFFFFFFFFFFFFFFFF)");
        }
        int bs = h.blockSize();
        if (bs < 512 || bs > VhdInspector.MAX_BLOCK_SIZE || Integer.bitCount(bs) != 1) {
            errors.add("unsupported block size " + Integer.toUnsignedString(bs)
                    + " (a power of two from 512 bytes to 32 MiB is required)");
            return null;
        }
        long entries = h.entries();
        if (VhdInspector.multiply(entries, bs, "the BAT's coverage") < virtualSize) {
            errors.add("the BAT has " + entries + " entries of " + bs + " bytes, too few for the virtual size "
                    + virtualSize);
            return null;
        }
        if (entries > VhdInspector.MAX_ENTRIES || entries > Vhd.MAX_VIRTUAL_SIZE / bs) {
            errors.add("the BAT has " + entries + " entries, more than a 2040 GiB disk needs");
            return null;
        }
        long batOff = h.tableOffset();
        long batBytes = Bat.bytesOnDisk(entries);
        if (!Bounds.inRange(batOff, batBytes, size) || (batOff & 511) != 0) {
            errors.add("the BAT offset " + Bounds.unsigned(batOff) + " (" + entries
                    + " entries) is out of range for a file of " + size + " bytes");
            return null;
        }
        if (overlaps(batOff, batBytes, 0, Footer.SIZE) || overlaps(batOff, batBytes, hdrOff, DynamicHeader.SIZE)) {
            errors.add("the BAT at offset " + batOff + " overlaps the footer copy or the dynamic header");
            return null;
        }
        ByteBuffer bb = ByteBuffer.allocate((int) (entries * 4));
        Io.readFully(file, bb, batOff);
        int[] bat = Bat.decode(bb.flip(), (int) entries);
        boolean differencing = footer.diskType() == DiskType.DIFFERENCING;
        int errorsBefore = errors.size();

        // locators first: blocks must not overlap them
        List<long[]> locatorAreas = new ArrayList<>();
        if (differencing) {
            locatorAreas = checkParentFields(h, size, hdrOff, batOff, batBytes);
        }
        int bitmapSize = SectorBitmap.sizeFor(bs);
        long blockBytes = bitmapSize + (long) bs;
        long trailingPos = size - Footer.SIZE;
        List<long[]> blocks = new ArrayList<>();
        for (int i = 0; i < bat.length; i++) {
            if (bat[i] == Bat.UNUSED) {
                continue;
            }
            long start = Bat.blockOffset(bat[i]);
            String what = "BAT entry " + i;
            if ((long) i * bs >= virtualSize) {
                errors.add(what + " is allocated but lies past the end of the " + virtualSize + "-byte disk");
            }
            if (overlaps(start, blockBytes, (size & ~511L) - Footer.SIZE, Footer.SIZE)) {
                lastSectorInBlock = true; // a footer repair must not write over it
            }
            if (start + blockBytes > size) { // start < 2^41: no overflow
                errors.add(what + " points past the end of the file (block at " + start + ", file size " + size + ")");
                continue;
            }
            if (overlaps(start, blockBytes, 0, Footer.SIZE)) {
                errors.add(what + " overlaps the footer copy at offset 0");
            } else if (overlaps(start, blockBytes, hdrOff, DynamicHeader.SIZE)) {
                errors.add(what + " overlaps the dynamic header at offset " + hdrOff);
            } else if (overlaps(start, blockBytes, batOff, batBytes)) {
                errors.add(what + " overlaps the BAT at offset " + batOff);
            } else if (trailingValid && overlaps(start, blockBytes, trailingPos, Footer.SIZE)) {
                errors.add(what + " overlaps the footer at the end of the file");
            } else {
                boolean onLocator = false;
                for (long[] a : locatorAreas) {
                    if (overlaps(start, blockBytes, a[0], a[1])) {
                        errors.add(what + " overlaps the data of parent locator " + a[2]);
                        onLocator = true;
                    }
                }
                if (!onLocator) {
                    blocks.add(new long[] {start, i});
                }
            }
        }
        blocks.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int k = 1; k < blocks.size(); k++) {
            if (blocks.get(k)[0] < blocks.get(k - 1)[0] + blockBytes) {
                errors.add("BAT entries " + blocks.get(k - 1)[1] + " and " + blocks.get(k)[1]
                        + " point at overlapping blocks");
            }
        }
        checkBitmaps(blocks, bitmapSize, bs, virtualSize, differencing);
        // Leaks are reported even when there are errors (check() says why they are not freed then).
        findLeaks(new Inspection(size, footer, virtualSize, h, bat, 0, 0, trailingValid), blocks, locatorAreas,
                blockBytes);
        if (errors.size() > errorsBefore || !footersSound) {
            errors.addAll(naming);
            return null; // the rest needs the inspector, which needs sound footers
        }
        Inspection in;
        try {
            in = VhdInspector.inspect(file);
        } catch (StorageException e) {
            errors.add(e.getMessage());
            errors.addAll(naming);
            return null;
        }
        if (differencing && backing != null) {
            if (!checkParentLink(in)) {
                errors.addAll(naming);
            }
        } else {
            errors.addAll(naming);
        }
        return in;
    }

    private List<long[]> checkParentFields(DynamicHeader h, long size, long hdrOff, long batOff, long batBytes) {
        List<long[]> areas = new ArrayList<>();
        if (h.parentUniqueId().equals(DynamicHeader.NO_PARENT)) {
            errors.add("the differencing disk has no parent unique id");
        }
        for (int k = 0; k < h.parentLocators().size(); k++) {
            ParentLocator l = h.parentLocators().get(k);
            if (!l.isUsed()) {
                continue;
            }
            String what = "parent locator " + k + " (" + l.codeName() + ")";
            if (!ParentLocator.knownCode(l.platformCode())) {
                errors.add(what + " has an unknown platform code 0x" + Integer.toHexString(l.platformCode()));
                continue;
            }
            long[] area;
            try {
                area = VhdInspector.locatorArea(l, k, size);
            } catch (Damage d) {
                errors.add(d.getMessage());
                continue;
            }
            if (overlaps(area[0], area[1], 0, Footer.SIZE) || overlaps(area[0], area[1], hdrOff, DynamicHeader.SIZE)
                    || overlaps(area[0], area[1], batOff, batBytes)) {
                errors.add(what + " at offset " + area[0] + " overlaps the footer copy, header or BAT");
                continue;
            }
            areas.add(new long[] {area[0], area[1], k});
            String path = Layout.locatorPath(file, l);
            if (ParentLocator.fileName(path).isEmpty()) {
                naming.add(what + " holds no readable path");
            }
        }
        String relative = Layout.locatorPath(file, h.locator(ParentLocator.W2RU));
        if (relative != null && !h.parentName().isEmpty()
                && !ParentLocator.fileName(relative).equals(ParentLocator.fileName(h.parentName()))) {
            naming.add("the parent name '" + h.parentName() + "' and the relative parent locator '" + relative
                    + "' name different files");
        }
        if (Layout.parentFileName(file, h) == null) {
            naming.add("the differencing disk names no parent (no parent name, no readable parent locator)");
        }
        return areas;
    }

    private void checkBitmaps(List<long[]> blocks, int bitmapSize, int bs, long virtualSize, boolean differencing) {
        int sectors = bs / 512;
        for (long[] b : blocks) {
            byte[] bm = Io.readBytes(file, b[0], bitmapSize);
            if (bm == null) {
                continue;
            }
            long blockStart = b[1] * bs;
            int inDisk = (int) Math.max(0, Math.min(sectors, (virtualSize - blockStart) / 512));
            if (!differencing) {
                // Hyper-V writes exact bitmaps and reads zeros for unset sectors; qemu and Strata read the
                // data area. They disagree only where an unset sector holds something other than zeros.
                for (int i = 0; i < inDisk; i++) {
                    if (!SectorBitmap.isSet(bm, i) && !allZero(Io.readBytes(file, b[0] + bitmapSize + i * 512L, 512))) {
                        errors.add("block " + b[1] + " of the dynamic disk has sector " + i + " marked absent in its"
                                + " bitmap but holding data (Hyper-V reads zeros there, qemu and Strata the data)");
                        break;
                    }
                }
            } else {
                for (int i = inDisk; i < sectors; i++) {
                    if (SectorBitmap.isSet(bm, i)) {
                        errors.add("block " + b[1] + " has bitmap bits set for sectors past the end of the disk");
                        break;
                    }
                }
            }
            for (int i = (sectors + 7) / 8; i < bm.length; i++) {
                if (bm[i] != 0 && bm[i] != (byte) 0xff) {
                    errors.add("block " + b[1] + " has garbage in the padding of its bitmap");
                    break;
                }
            }
        }
    }

    /** @return whether the resolver handed a parent with the unique id the child records */
    private boolean checkParentLink(Inspection in) {
        String name = Layout.parentNameForResolver(file, in.header());
        try {
            DynamicVhdDisk.Parent p = VhdFormat.openParent(file.name(), name, backing, in.header().parentUniqueId(), 1);
            try {
                if (p.disk().virtualSize() > in.virtualSize()) {
                    errors.add("the parent '" + name + "' (" + p.disk().virtualSize()
                            + " bytes) is larger than the child (" + in.virtualSize() + " bytes)");
                }
            } finally {
                p.disk().close();
            }
            return true;
        } catch (StorageException e) {
            errors.add("parent link: " + e.getMessage());
            return false;
        }
    }

    /**
     * Space past the metadata that no block or locator uses and that could hold a
     * block: what an allocation interrupted before its BAT update, or a freed
     * (trimmed, reclaimed) block, leaves. Smaller gaps are alignment padding.
     */
    private void findLeaks(Inspection in, List<long[]> blocks, List<long[]> locators, long blockBytes) {
        long metaEnd = Layout.metaEnd(in);
        List<long[]> used = new ArrayList<>();
        for (long[] b : blocks) {
            used.add(new long[] {b[0], b[0] + blockBytes});
        }
        for (long[] l : locators) {
            used.add(new long[] {l[0], l[0] + l[1]});
        }
        used.add(new long[] {in.fileSize() - Footer.SIZE, in.fileSize()});
        used.sort((a, b) -> Long.compare(a[0], b[0]));
        long cur = metaEnd;
        for (long[] u : used) {
            if (u[1] <= metaEnd) {
                continue;
            }
            if (u[0] - cur >= blockBytes) {
                leaks.add((u[0] - cur) + " bytes at offset " + cur + " are referenced by nothing (a freed block or an"
                        + " allocation interrupted before its BAT entry was written)");
                leakedBytes += u[0] - cur;
            }
            cur = Math.max(cur, u[1]);
        }
    }

    private static boolean overlaps(long aStart, long aLen, long bStart, long bLen) {
        return aStart < bStart + bLen && bStart < aStart + aLen;
    }

    private static boolean allZero(byte[] b) {
        if (b == null) {
            return false;
        }
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
