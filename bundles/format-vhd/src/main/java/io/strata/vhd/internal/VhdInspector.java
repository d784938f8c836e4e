package io.strata.vhd.internal;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads and validates the metadata of a VHD file without writing anything.
 * Every problem becomes {@code CORRUPT_IMAGE} with a message naming the file and
 * the damaged structure; nothing a damaged file contains can make it throw
 * anything else (offsets are range-checked before use, sizes before allocation).
 */
final class VhdInspector {
    /**
     * Largest block size accepted on open; Strata writes 2 MiB, others use 512 KiB..2 MiB.
     * Populate, reclaim and compaction hold a block in memory, so a hostile header must not
     * be able to ask for hundreds of MiB per call.
     */
    static final int MAX_BLOCK_SIZE = 32 << 20;
    /**
     * Bounds the memory a damaged or hostile BAT can make us allocate (16 MiB). 2040 GiB
     * needs 1,044,480 entries in 2 MiB blocks and 4,177,920 in Virtual PC's 512 KiB blocks.
     */
    static final long MAX_ENTRIES = 1L << 22;

    private VhdInspector() {
    }

    static Inspection inspect(DatastoreFile file) {
        try {
            return doInspect(file, true);
        } catch (Damage d) {
            throw corrupt(file, d.getMessage());
        }
    }

    /**
     * Everything {@link #inspect} validates except the BAT's entries, which are not read:
     * the inspection has no {@code bat} and its {@code nextFree}/{@code batRoomEnd} are not
     * final. For parents opened read-only with their child ({@link DynamicVhdDisk} reads the
     * BAT when first read through).
     */
    static Inspection inspectHeaders(DatastoreFile file) {
        try {
            return doInspect(file, false);
        } catch (Damage d) {
            throw corrupt(file, d.getMessage());
        }
    }

    static StorageException corrupt(DatastoreFile file, String problem) {
        return new StorageException(ErrorCode.CORRUPT_IMAGE, "VHD image '" + file.name() + "' is damaged: " + problem);
    }

    /** Cheap test used to recognize the format: a cookie at offset 0 or in the last sector. */
    static boolean looksLikeVhd(DatastoreFile file) {
        long size = file.size();
        if (size < Footer.SIZE) {
            return false;
        }
        byte[] head = Io.readBytes(file, 0, 8);
        byte[] tail = Io.readBytes(file, size - Footer.SIZE, 8);
        return head != null && Arrays.equals(head, Footer.COOKIE) || tail != null && Arrays.equals(tail, Footer.COOKIE);
    }

    private static Inspection doInspect(DatastoreFile file, boolean withBat) {
        long size = file.size();
        if (size < Footer.SIZE) {
            throw new Damage("the file is " + size + " bytes, too small to hold a VHD footer");
        }
        byte[] tail = Io.readBytes(file, size - Footer.SIZE, Footer.SIZE);
        byte[] head = Io.readBytes(file, 0, Footer.SIZE);
        if (tail == null || head == null) {
            throw new Damage("the file could not be read to its end (truncated while reading?)");
        }
        Footer trailing = null;
        Damage trailingProblem = null;
        try {
            trailing = Footer.decode(tail, "the footer at the end of the file");
        } catch (Damage d) {
            trailingProblem = d;
        }
        // A valid fixed footer at the end wins even if the guest data happens to start with "conectix".
        if (trailing != null && trailing.diskType() == DiskType.FIXED) {
            return inspectFixed(size, trailing);
        }
        if (Footer.hasCookie(head)) {
            Footer copy = Footer.decode(head, "the footer copy at offset 0");
            return inspectDynamic(file, size, copy, trailing, trailingProblem, tail, withBat);
        }
        if (trailing != null) {
            DiskType t = trailing.diskType();
            if (t == DiskType.DYNAMIC || t == DiskType.DIFFERENCING) {
                throw new Damage("the footer copy at offset 0 has a wrong cookie (expected 'conectix')");
            }
            throw new Damage("unsupported disk type " + trailing.diskTypeCode() + " in the footer");
        }
        if (Footer.hasCookie(tail)) {
            throw trailingProblem;
        }
        throw new Damage("not a VHD image: no 'conectix' footer cookie at offset 0 or at the end of the file");
    }

    /**
     * The virtual size a footer states, validated: positive, whole 512-byte sectors (when
     * current_size is the size), at most 2040 GiB. Shared with the checker.
     *
     * @throws Damage naming what is wrong
     */
    static long checkedSize(Footer footer) {
        long stated = footer.currentSize();
        if (SizeRule.usesCurrentSize(footer)) {
            if (stated < 0 || stated > Vhd.MAX_VIRTUAL_SIZE) {
                throw new Damage("the virtual size " + Bounds.unsigned(stated) + " exceeds the VHD limit of 2040 GiB ("
                        + Vhd.MAX_VIRTUAL_SIZE + " bytes)");
            }
            if (stated % 512 != 0) {
                throw new Damage("the virtual size " + stated + " is not a whole number of 512-byte sectors");
            }
        }
        long virtualSize = SizeRule.virtualSize(footer);
        if (virtualSize > Vhd.MAX_VIRTUAL_SIZE) {
            throw new Damage("the virtual size " + Bounds.unsigned(virtualSize) + " exceeds the VHD limit of 2040 GiB ("
                    + Vhd.MAX_VIRTUAL_SIZE + " bytes)");
        }
        if (virtualSize <= 0) {
            throw new Damage("the virtual size is 0 (" + (SizeRule.usesCurrentSize(footer) ? "current_size "
                    + Bounds.unsigned(stated) : "geometry " + footer.geometry()) + "); a disk needs at least one sector");
        }
        return virtualSize;
    }

    /** {@code a + b} for numbers from the image: an overflow is damage, never a wrapped offset. */
    static long add(long a, long b, String what) {
        try {
            return Bounds.add(a, b, ErrorCode.CORRUPT_IMAGE, what);
        } catch (StorageException e) {
            throw new Damage(e.getMessage());
        }
    }

    /** {@code a * b} for numbers from the image: an overflow is damage. */
    static long multiply(long a, long b, String what) {
        try {
            return Bounds.multiply(a, b, ErrorCode.CORRUPT_IMAGE, what);
        } catch (StorageException e) {
            throw new Damage(e.getMessage());
        }
    }

    private static Inspection inspectFixed(long fileSize, Footer footer) {
        long virtualSize = checkedSize(footer);
        if (virtualSize > fileSize - Footer.SIZE) {
            throw new Damage("the file is truncated: a fixed disk of " + virtualSize + " bytes needs "
                    + add(virtualSize, Footer.SIZE, "fixed disk size") + " bytes but the file has " + fileSize);
        }
        return new Inspection(fileSize, footer, virtualSize, null, null, fileSize - Footer.SIZE, 0, true);
    }

    private static Inspection inspectDynamic(DatastoreFile file, long fileSize, Footer footer, Footer trailing,
            Damage trailingProblem, byte[] tail, boolean withBat) {
        DiskType type = footer.diskType();
        if (type != DiskType.DYNAMIC && type != DiskType.DIFFERENCING) {
            throw new Damage("unsupported disk type " + footer.diskTypeCode() + " in the footer copy at offset 0");
        }
        long virtualSize = checkedSize(footer);
        if ((fileSize & 511) != 0) {
            throw new Damage("the file size " + fileSize + " is not a whole number of sectors (truncated?)");
        }
        boolean trailingValid = trailing != null;
        if (!trailingValid && Footer.hasCookie(tail)) {
            throw trailingProblem;
        }
        if (!trailingValid && !allZero(tail)) {
            throw new Damage("the footer at the end of the file is missing or damaged (truncated file?)");
        }

        long hdrOff = footer.dataOffset();
        if (hdrOff < Footer.SIZE || hdrOff > fileSize - DynamicHeader.SIZE || (hdrOff & 511) != 0) {
            throw new Damage("the dynamic header offset " + Bounds.unsigned(hdrOff)
                    + " is out of range for a file of " + fileSize + " bytes");
        }
        byte[] hb = Io.readBytes(file, hdrOff, DynamicHeader.SIZE);
        if (hb == null) {
            throw new Damage("the dynamic header at offset " + hdrOff + " extends past the end of the file");
        }
        DynamicHeader header = DynamicHeader.decode(hb, "the dynamic header at offset " + hdrOff);
        int bs = header.blockSize();
        if (bs < 512 || bs > MAX_BLOCK_SIZE || Integer.bitCount(bs) != 1) {
            throw new Damage("unsupported block size " + Integer.toUnsignedString(bs)
                    + " (a power of two from 512 bytes to 32 MiB is required)");
        }
        long entries = header.entries();
        if (multiply(entries, bs, "the BAT's coverage") < virtualSize) {
            throw new Damage("the BAT has " + entries + " entries of " + bs + " bytes, too few for the virtual size "
                    + virtualSize);
        }
        if (entries > Vhd.MAX_VIRTUAL_SIZE / bs) {
            throw new Damage("the BAT has " + entries + " entries, more than a 2040 GiB disk needs");
        }
        if (entries > MAX_ENTRIES) {
            throw new Damage("the BAT has " + entries + " entries; at most " + MAX_ENTRIES + " are supported");
        }
        long batOff = header.tableOffset();
        long batBytes = Bat.bytesOnDisk(entries);
        if (!Bounds.inRange(batOff, batBytes, fileSize) || (batOff & 511) != 0) {
            throw new Damage("the BAT offset " + Bounds.unsigned(batOff) + " (" + entries
                    + " entries) is out of range for a file of " + fileSize + " bytes");
        }
        if (overlaps(batOff, batBytes, 0, Footer.SIZE)) {
            throw new Damage("the BAT at offset " + batOff + " overlaps the footer copy at offset 0");
        }
        if (overlaps(batOff, batBytes, hdrOff, DynamicHeader.SIZE)) {
            throw new Damage("the BAT at offset " + batOff + " overlaps the dynamic header at offset " + hdrOff);
        }

        long blockBytes = SectorBitmap.sizeFor(bs) + (long) bs;
        long trailingPos = fileSize - Footer.SIZE;
        long nextFree = Math.max(trailingPos, Math.max(batOff + batBytes, hdrOff + DynamicHeader.SIZE));
        long batRoomEnd = trailingPos >= batOff + batBytes ? trailingPos : Long.MAX_VALUE;
        if (hdrOff >= batOff + batBytes) {
            batRoomEnd = Math.min(batRoomEnd, hdrOff);
        }
        List<long[]> locatorAreas = new ArrayList<>();
        if (type == DiskType.DIFFERENCING) {
            checkParentFields(header);
            for (int k = 0; k < header.parentLocators().size(); k++) {
                ParentLocator l = header.parentLocators().get(k);
                if (!l.isUsed()) {
                    continue;
                }
                long[] area = locatorArea(l, k, fileSize);
                String what = "parent locator " + k + " (" + l.codeName() + ")";
                if (overlaps(area[0], area[1], 0, Footer.SIZE) || overlaps(area[0], area[1], hdrOff, DynamicHeader.SIZE)
                        || overlaps(area[0], area[1], batOff, batBytes)) {
                    throw new Damage(what + " at offset " + area[0] + " overlaps the footer copy, header or BAT");
                }
                nextFree = Math.max(nextFree, area[0] + area[1]);
                if (area[0] >= batOff + batBytes) {
                    batRoomEnd = Math.min(batRoomEnd, area[0]);
                }
                locatorAreas.add(new long[] {area[0], area[1], k});
            }
        }
        if (!withBat) {
            return new Inspection(fileSize, footer, virtualSize, header, null, nextFree, batRoomEnd, trailingValid);
        }
        ByteBuffer bb = ByteBuffer.allocate((int) (entries * 4));
        if (Io.readFully(file, bb, batOff) != bb.capacity()) {
            throw new Damage("the BAT extends past the end of the file");
        }
        int[] bat = Bat.decode(bb.flip(), (int) entries);
        // Sized by the allocated entries, not the table: a thin 2 TiB disk has a million entries and
        // opening one sits on every snapshot and clone's path (parents are opened with the child).
        int used = 0;
        for (int e : bat) {
            if (e != Bat.UNUSED) {
                used++;
            }
        }
        long[] byOffset = new long[used];
        int allocated = 0;
        for (int i = 0; i < bat.length; i++) {
            if (bat[i] == Bat.UNUSED) {
                continue;
            }
            long start = Bat.blockOffset(bat[i]);
            long end = add(start, blockBytes, "BAT entry " + i);
            if (end > fileSize) {
                throw new Damage("BAT entry " + i + " points past the end of the file (block at " + start
                        + ", file size " + fileSize + ")");
            }
            if (overlaps(start, blockBytes, 0, Footer.SIZE)) {
                throw new Damage("BAT entry " + i + " overlaps the footer copy at offset 0");
            }
            if (overlaps(start, blockBytes, hdrOff, DynamicHeader.SIZE)) {
                throw new Damage("BAT entry " + i + " overlaps the dynamic header at offset " + hdrOff);
            }
            if (overlaps(start, blockBytes, batOff, batBytes)) {
                throw new Damage("BAT entry " + i + " overlaps the BAT at offset " + batOff);
            }
            if (trailingValid && overlaps(start, blockBytes, trailingPos, Footer.SIZE)) {
                throw new Damage("BAT entry " + i + " overlaps the footer at the end of the file");
            }
            for (long[] a : locatorAreas) {
                if (overlaps(start, blockBytes, a[0], a[1])) {
                    throw new Damage("BAT entry " + i + " overlaps the data of parent locator " + a[2]);
                }
            }
            nextFree = Math.max(nextFree, end);
            if (start >= batOff + batBytes) {
                batRoomEnd = Math.min(batRoomEnd, start);
            }
            byOffset[allocated++] = (Integer.toUnsignedLong(bat[i]) << 24) | i; // entry < 2^32, i < 2^24
        }
        checkCrossLinks(byOffset, allocated, blockBytes);
        return new Inspection(fileSize, footer, virtualSize, header, bat, nextFree, batRoomEnd, trailingValid);
    }

    /** A differencing disk must say which parent it needs: an identity and at least one way to find it. */
    private static void checkParentFields(DynamicHeader h) {
        if (h.parentUniqueId().equals(DynamicHeader.NO_PARENT)) {
            throw new Damage("the differencing disk has no parent unique id");
        }
        boolean locator = h.parentLocators().stream().anyMatch(ParentLocator::isUsed);
        if (!locator && h.parentName().isEmpty()) {
            throw new Damage("the differencing disk names no parent (no parent name, no parent locator)");
        }
    }

    /** @return {offset, reserved bytes} of a used locator's data, validated against the file */
    static long[] locatorArea(ParentLocator l, int k, long fileSize) {
        String what = "parent locator " + k + " (" + l.codeName() + ")";
        long space = l.spaceBytes();
        long len = Integer.toUnsignedLong(l.dataLength());
        long off = l.dataOffset();
        if (space < 0) {
            throw new Damage(what + " has a data space of " + Integer.toUnsignedString(l.dataSpace())
                    + ", neither sectors nor a whole number of sector bytes");
        }
        if (len > space || len > 65536) {
            throw new Damage(what + " holds " + len + " bytes of data in " + space + " bytes of space");
        }
        if (!Bounds.inRange(off, len, fileSize - Footer.SIZE) || (off & 511) != 0) {
            throw new Damage(what + " data offset " + Bounds.unsigned(off) + " is out of range for a file of "
                    + fileSize + " bytes");
        }
        return new long[] {off, Math.max(len, Math.min(space, fileSize - Footer.SIZE - off))};
    }

    /** Two entries pointing into the same space would let one block's writes show up in another. */
    private static void checkCrossLinks(long[] byOffset, int n, long blockBytes) {
        Arrays.sort(byOffset, 0, n);
        for (int k = 1; k < n; k++) {
            long prevStart = (byOffset[k - 1] >>> 24) * 512;
            long start = (byOffset[k] >>> 24) * 512;
            if (start < prevStart + blockBytes) {
                throw new Damage("BAT entries " + (byOffset[k - 1] & 0xffffff) + " and " + (byOffset[k] & 0xffffff)
                        + " point at overlapping blocks");
            }
        }
    }

    private static boolean overlaps(long aStart, long aLen, long bStart, long bLen) {
        return aStart < bStart + bLen && bStart < aStart + aLen;
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
