package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.DatastoreFile;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

/**
 * Small hand-laid VHD images built with Strata's own encoders, for the fuzz targets' seeds
 * and the hostile-image tests: Strata's writer reserves 4 MiB of BAT room and uses 2 MiB
 * blocks, too big for a fuzzing corpus, so these use small blocks and no room.
 */
final class SmallImages {
    /** The unique id of {@link #parent()}; children made by {@link #child} name it. */
    static final UUID PARENT_ID = UUID.fromString("5eed0000-0000-4000-8000-000000000001");
    static final String PARENT_NAME = "parent.vhd";
    /** Virtual size of {@link #parent()}: 64 KiB, every byte {@code (byte) (i * 7 + 1)}. */
    static final int PARENT_SIZE = 64 << 10;

    private SmallImages() {
    }

    static Footer footer(long size, DiskType type, UUID id) {
        return new Footer(Footer.FEATURES_RESERVED, Footer.FORMAT_VERSION,
                type == DiskType.FIXED ? Footer.NO_DATA_OFFSET : Vhd.HEADER_OFFSET, 0, SizeRule.STRATA_CREATOR,
                Vhd.CREATOR_VERSION, Footer.HOST_OS_WINDOWS, size, size, Geometry.of(size / 512), type.code, id,
                false);
    }

    static byte parentByte(long offset) {
        return (byte) (offset * 7 + 1);
    }

    /** A fixed disk of {@link #PARENT_SIZE} bytes with a pattern, unique id {@link #PARENT_ID}. */
    static byte[] parent() {
        byte[] out = new byte[PARENT_SIZE + Footer.SIZE];
        for (int i = 0; i < PARENT_SIZE; i++) {
            out[i] = parentByte(i);
        }
        System.arraycopy(footer(PARENT_SIZE, DiskType.FIXED, PARENT_ID).encode(), 0, out, PARENT_SIZE, Footer.SIZE);
        return out;
    }

    /** A fixed disk of {@code size} bytes whose data is {@code fill}. */
    static byte[] fixed(int size, byte fill) {
        byte[] out = new byte[size + Footer.SIZE];
        java.util.Arrays.fill(out, 0, size, fill);
        System.arraycopy(footer(size, DiskType.FIXED, UUID.randomUUID()).encode(), 0, out, size, Footer.SIZE);
        return out;
    }

    /**
     * A dynamic disk: footer copy, header at 512, BAT at 1536, the blocks listed (bitmap all
     * set, data filled with the block's index + 1), footer.
     */
    static byte[] dynamic(long size, int blockSize, int... allocated) {
        return sparse(size, blockSize, DiskType.DYNAMIC, null, null, null, allocated);
    }

    /**
     * A differencing disk over {@link #parent()}: locators W2ku and W2ru hold the paths given
     * (null: none), the header's parent name {@code name}; the blocks listed hold their first
     * sector (bitmap bit 0), filled with 0xC0 + index.
     */
    static byte[] child(long size, int blockSize, String name, String w2ku, String w2ru, int... allocated) {
        return sparse(size, blockSize, DiskType.DIFFERENCING, name, w2ku, w2ru, allocated);
    }

    private static byte[] sparse(long size, int blockSize, DiskType type, String name, String w2ku, String w2ru,
            int[] allocated) {
        int entries = (int) ((size + blockSize - 1) / blockSize);
        long batBytes = Bat.bytesOnDisk(entries);
        long pos = Vhd.BAT_OFFSET + batBytes;
        MemoryFile f = new MemoryFile("x");
        DynamicHeader h = DynamicHeader.forDynamic(Vhd.BAT_OFFSET, entries, blockSize);
        if (type == DiskType.DIFFERENCING) {
            List<ParentLocator> ls = new ArrayList<>(Collections.nCopies(DynamicHeader.LOCATORS, ParentLocator.NONE));
            int k = 0;
            for (String[] l : new String[][] {{"k", w2ku}, {"r", w2ru}}) {
                if (l[1] == null) {
                    continue;
                }
                byte[] data = l[1].getBytes(StandardCharsets.UTF_16LE);
                f.write(ByteBuffer.wrap(data), pos);
                int space = (int) ((data.length + 511) / 512);
                ls.set(k++, new ParentLocator(l[0].equals("k") ? ParentLocator.W2KU : ParentLocator.W2RU,
                        Math.max(1, space), data.length, pos));
                pos += Math.max(1, space) * 512L;
            }
            h = h.withParent(PARENT_ID, 0, name, ls);
        }
        int bitmap = SectorBitmap.sizeFor(blockSize);
        int[] bat = new int[entries];
        java.util.Arrays.fill(bat, Bat.UNUSED);
        for (int index : allocated) {
            bat[index] = Bat.entryFor(pos);
            byte[] bm = new byte[bitmap];
            byte[] data = new byte[blockSize];
            if (type == DiskType.DIFFERENCING) {
                SectorBitmap.set(bm, 0);
                java.util.Arrays.fill(data, 0, 512, (byte) (0xC0 + index));
            } else {
                java.util.Arrays.fill(bm, (byte) 0xff);
                java.util.Arrays.fill(data, (byte) (index + 1));
            }
            f.write(ByteBuffer.wrap(bm), pos);
            f.write(ByteBuffer.wrap(data), pos + bitmap);
            pos += bitmap + (long) blockSize;
        }
        Footer footer = footer(size, type, UUID.randomUUID());
        f.write(ByteBuffer.wrap(footer.encode()), 0);
        f.write(ByteBuffer.wrap(h.encode()), Vhd.HEADER_OFFSET);
        f.write(Bat.encode(bat, 0, entries, true), Vhd.BAT_OFFSET);
        f.write(ByteBuffer.wrap(footer.encode()), pos);
        return f.bytes();
    }

    /**
     * Recomputes the checksums of the footer copy at 0, the footer at the end and the dynamic
     * header the copy points at, where their cookies are present: the fuzz targets do this so
     * that mutations get past the checksums into the fields behind them (bad checksums have
     * their own tests).
     */
    /**
     * The import's first two steps, as the core runs them: probe (a refusal must be
     * CORRUPT_IMAGE) and a check that writes nothing.
     *
     * @return whether the image would be imported (probe passes, check reports no errors)
     */
    static boolean importable(VhdFormat format, MemoryFile f, BackingResolver parent) {
        try {
            format.probe(f);
        } catch (StorageException e) {
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            return false;
        }
        int before = f.mutations();
        CheckReport r = format.check(f, parent, false);
        assertEquals(before, f.mutations(), "check without repair wrote");
        return r.errors().isEmpty();
    }

    static byte[] fixChecksums(byte[] image) {
        byte[] b = image.clone();
        if (b.length >= Footer.SIZE) {
            fixFooter(b, 0);
            fixFooter(b, (b.length & ~511) - Footer.SIZE);
            if (startsWith(b, 0, Footer.COOKIE)) {
                long h = ByteBuffer.wrap(b, 16, 8).getLong();
                if (h >= 0 && h <= b.length - DynamicHeader.SIZE && startsWith(b, (int) h, DynamicHeader.COOKIE)) {
                    ByteBuffer.wrap(b, (int) h + 36, 4).putInt(0);
                    byte[] hdr = java.util.Arrays.copyOfRange(b, (int) h, (int) h + DynamicHeader.SIZE);
                    ByteBuffer.wrap(b, (int) h + 36, 4).putInt(Checksum.compute(hdr, 36));
                }
            }
        }
        return b;
    }

    private static void fixFooter(byte[] b, int at) {
        if (at >= 0 && startsWith(b, at, Footer.COOKIE)) {
            byte[] f = java.util.Arrays.copyOfRange(b, at, at + Footer.SIZE);
            ByteBuffer.wrap(b, at + 64, 4).putInt(Checksum.compute(f, 64));
        }
    }

    private static boolean startsWith(byte[] b, int at, byte[] cookie) {
        if (at < 0 || at + cookie.length > b.length) {
            return false;
        }
        for (int i = 0; i < cookie.length; i++) {
            if (b[at + i] != cookie[i]) {
                return false;
            }
        }
        return true;
    }

    static MemoryFile file(String name, byte[] bytes) {
        MemoryFile f = new MemoryFile(name);
        f.poke(0, bytes);
        return f;
    }

    /**
     * What the core hands a format when the user named the parent of an imported child:
     * the same parent whatever name the child records (a read-only copy per open).
     */
    static BackingResolver namedParent(MemoryFile parent) {
        return name -> {
            java.util.Objects.requireNonNull(name, "the format asked the resolver for a null name");
            return parent.readOnlyCopy();
        };
    }

    static DatastoreFile copyOf(MemoryFile f) {
        return f.copy();
    }
}
