package io.strata.rest.internal;

import java.util.List;

/** One page of a list: the items, how many match in all, and where the page starts. */
public record Page<T>(List<T> items, int total, int offset, int limit) {
    static final int DEFAULT_LIMIT = 100;
    static final int MAX_LIMIT = 1000;

    /** @return the page of {@code all} that {@code offset} and {@code limit} (null for the default) select */
    static <T> Page<T> of(List<T> all, Integer offset, Integer limit) {
        int from = offset == null ? 0 : offset;
        int max = limit == null ? DEFAULT_LIMIT : limit;
        if (from < 0) {
            throw ApiException.badRequest("offset must be 0 or more");
        }
        if (max < 1 || max > MAX_LIMIT) {
            throw ApiException.badRequest("limit must be 1 to " + MAX_LIMIT);
        }
        int start = Math.min(from, all.size());
        return new Page<>(List.copyOf(all.subList(start, Math.min(all.size(), start + max))), all.size(), from, max);
    }
}
