package io.strata.vhd.internal;

/**
 * What {@link VhdInspector} found in a file whose metadata it validated.
 *
 * @param fileSize the file size when inspected
 * @param footer the authoritative footer (the copy at offset 0 for dynamic disks)
 * @param virtualSize the disk size by {@link SizeRule}
 * @param header the dynamic header, null for fixed disks
 * @param bat the BAT entries ({@code header.maxTableEntries()} of them), null for fixed disks
 * @param nextFree first byte past every structure: new blocks go here or later
 * @param batRoomEnd how far the BAT can grow in place: the first structure after it
 * @param trailingFooterValid whether the file ends with a valid footer (false only for a
 *        dynamic disk whose last sector is all zeros, as an interrupted extension leaves it)
 */
record Inspection(
        long fileSize,
        Footer footer,
        long virtualSize,
        DynamicHeader header,
        int[] bat,
        long nextFree,
        long batRoomEnd,
        boolean trailingFooterValid) {

    DiskType type() {
        return footer.diskType();
    }

    long allocatedBlocks() {
        if (bat == null) {
            return 0;
        }
        long n = 0;
        for (int e : bat) {
            if (e != Bat.UNUSED) {
                n++;
            }
        }
        return n;
    }
}
