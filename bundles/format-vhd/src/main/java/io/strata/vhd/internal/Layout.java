package io.strata.vhd.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where things go in the dynamic and differencing images Strata writes, and the
 * rules shared by the writer, the compactor and the checker about which part of
 * a file is metadata and which is block space.
 */
final class Layout {
    /** Start of the parent locator data of a differencing disk Strata creates: right after the BAT room. */
    static final long LOCATOR_AREA = Vhd.BAT_OFFSET + Bat.bytesOnDisk(Vhd.MAX_BAT_ENTRIES);
    /** Room for one locator's data: 16 sectors, an 4096-character path in UTF-16. */
    static final int LOCATOR_SLOT = 8192;
    /** One set of locators (W2ku, W2ru); two sets alternate so a rebase never overwrites the live one. */
    static final int LOCATOR_SET = 2 * LOCATOR_SLOT;
    /** End of both locator sets; a child's first block goes after this. */
    static final long LOCATOR_AREA_END = LOCATOR_AREA + 2L * LOCATOR_SET;

    private Layout() {
    }

    /**
     * Writes W2ku (absolute) and W2ru (relative) locator data at {@code at} and
     * {@code at + LOCATOR_SLOT}, and returns the header's eight entries for them.
     */
    static List<ParentLocator> writeLocators(DatastoreFile file, long at, String relative, String absolute) {
        byte[] abs = absolute.getBytes(StandardCharsets.UTF_16LE);
        byte[] rel = relative.getBytes(StandardCharsets.UTF_16LE);
        if (abs.length > LOCATOR_SLOT || rel.length > LOCATOR_SLOT) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "the parent path '" + absolute
                    + "' is too long for a VHD parent locator (" + LOCATOR_SLOT / 2 + " characters at most)");
        }
        Io.write(file, abs, at);
        Io.write(file, rel, at + LOCATOR_SLOT);
        List<ParentLocator> out = new ArrayList<>(Collections.nCopies(DynamicHeader.LOCATORS, ParentLocator.NONE));
        out.set(0, new ParentLocator(ParentLocator.W2KU, LOCATOR_SLOT / 512, abs.length, at));
        out.set(1, new ParentLocator(ParentLocator.W2RU, LOCATOR_SLOT / 512, rel.length, at + LOCATOR_SLOT));
        return out;
    }

    /** @return the relative locator path Strata writes for a parent in the same directory */
    static String relativePath(String parentFile) {
        return ".\\" + parentFile;
    }

    /**
     * The parent's file name as the child records it: the last element of the W2ru
     * (relative) locator, else of the parent Unicode name, else of the W2ku locator.
     * Trailing separators are dropped ({@code C:\vms\base\} names {@code base}); what the
     * child records is a hint for the resolver, never a path that is followed: the parent's
     * unique id decides whether the file it hands over is the right one.
     *
     * @return the name, or null when the image records none
     */
    static String parentFileName(DatastoreFile file, DynamicHeader h) {
        String rel = ParentLocator.fileName(locatorPath(file, h.locator(ParentLocator.W2RU)));
        if (!rel.isEmpty()) {
            return rel;
        }
        String name = ParentLocator.fileName(h.parentName());
        if (!name.isEmpty()) {
            return name;
        }
        String abs = ParentLocator.fileName(locatorPath(file, h.locator(ParentLocator.W2KU)));
        return abs.isEmpty() ? null : abs;
    }

    /**
     * The name to ask the resolver for: {@link #parentFileName}, or the empty string when the
     * child records none that is usable (the resolver of an import hands the parent the user
     * named whatever the child records; a datastore's refuses the empty name).
     */
    static String parentNameForResolver(DatastoreFile file, DynamicHeader h) {
        String name = parentFileName(file, h);
        return name == null ? "" : name;
    }

    /** @return the decoded path of a locator, or null when absent or unreadable */
    static String locatorPath(DatastoreFile file, ParentLocator l) {
        if (l == null || l.dataLength() <= 0 || l.dataLength() > 65536 || l.dataOffset() < 0) {
            return null;
        }
        byte[] data = Io.readBytes(file, l.dataOffset(), l.dataLength());
        return data == null ? null : ParentLocator.decodePath(l.platformCode(), data);
    }

    /** @return the locator set a rebase should write next: the other of Strata's two, or -1 (append) */
    static long otherLocatorSet(DynamicHeader h) {
        ParentLocator k = h.locator(ParentLocator.W2KU);
        if (k == null) {
            return -1;
        }
        if (k.dataOffset() == LOCATOR_AREA) {
            return LOCATOR_AREA + LOCATOR_SET;
        }
        return k.dataOffset() == LOCATOR_AREA + LOCATOR_SET ? LOCATOR_AREA : -1;
    }

    /** @return whether the image has Strata's reserved locator area (both sets) */
    static boolean hasStrataLocatorArea(DynamicHeader h) {
        return h != null && otherLocatorSet(h) >= 0;
    }

    /**
     * The end of the metadata region: footer copy, header, BAT with the room it may
     * grow into, and locator data that sits before the first block. Blocks live
     * after it; a gap there that could hold a block is a leak.
     */
    static long metaEnd(Inspection in) {
        DynamicHeader h = in.header();
        long batEnd = h.tableOffset() + Bat.bytesOnDisk(h.entries());
        long firstBlock = in.fileSize() - Footer.SIZE;
        for (int e : in.bat()) {
            if (e != Bat.UNUSED && Bat.blockOffset(e) >= batEnd) {
                firstBlock = Math.min(firstBlock, Bat.blockOffset(e));
            }
        }
        long room = h.tableOffset() + Bat.bytesOnDisk(Math.max(h.entries(), Vhd.MAX_VIRTUAL_SIZE / h.blockSize()));
        long end = Math.max(in.footer().dataOffset() + DynamicHeader.SIZE, Math.max(batEnd, Math.min(room, firstBlock)));
        if (hasStrataLocatorArea(h)) {
            end = Math.max(end, LOCATOR_AREA_END);
        }
        for (ParentLocator l : h.parentLocators()) {
            if (l.isUsed() && l.dataOffset() < firstBlock && l.spaceBytes() > 0) {
                end = Math.max(end, Math.min(firstBlock, l.dataOffset() + l.spaceBytes()));
            }
        }
        return Math.min(end, Math.max(batEnd, in.fileSize() - Footer.SIZE));
    }

    /** First offset at or past {@code from} that puts a block's data on a 4 KiB boundary. */
    static long alignBlock(long from, int bitmapSize) {
        long data = (from + bitmapSize + Vhd.DATA_ALIGNMENT - 1) & -(long) Vhd.DATA_ALIGNMENT;
        return data - bitmapSize;
    }
}
