package io.strata.fs.vims.internal;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/** The new images of the metadata pages one change touches, committed together through the journal. */
final class Txn {
    private final int tag;
    final Map<Long, ByteBuffer> pages = new LinkedHashMap<>();

    Txn(int tag) {
        this.tag = tag;
    }

    /**
     * Adds a page changed in place: seals it with the next version after the one it was read with.
     * The buffer is the caller's copy; it is sealed (its version bumped) here.
     */
    Txn put(long pageNo, int type, ByteBuffer page) {
        if (!pages.containsKey(pageNo)) {
            Pages.seal(page, type, pageNo, Pages.version(page) + 1, tag);
        } else {
            Pages.seal(page, type, pageNo, Pages.version(page), tag);
        }
        pages.put(pageNo, page);
        return this;
    }

    int size() {
        return pages.size();
    }

    boolean isEmpty() {
        return pages.isEmpty();
    }
}
