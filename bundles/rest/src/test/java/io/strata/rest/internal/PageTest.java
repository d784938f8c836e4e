package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PageTest {
    private static final List<Integer> ALL = IntStream.range(0, 250).boxed().toList();

    @Test
    void defaultsAreTheFirstHundred() {
        Page<Integer> p = Page.of(ALL, null, null);
        assertEquals(ALL.subList(0, 100), p.items());
        assertEquals(250, p.total());
        assertEquals(0, p.offset());
        assertEquals(100, p.limit());
    }

    @Test
    void offsetAndLimitSelectASlice() {
        Page<Integer> p = Page.of(ALL, 10, 5);
        assertEquals(List.of(10, 11, 12, 13, 14), p.items());
        assertEquals(250, p.total());
        assertEquals(10, p.offset());
        assertEquals(5, p.limit());
    }

    @Test
    void theLastPageIsShort() {
        assertEquals(ALL.subList(200, 250), Page.of(ALL, 200, 100).items());
        assertEquals(List.of(249), Page.of(ALL, 249, 1000).items());
    }

    @Test
    void anOffsetPastTheEndIsAnEmptyPage() {
        Page<Integer> p = Page.of(ALL, 250, 10);
        assertTrue(p.items().isEmpty());
        assertEquals(250, p.total());
        Page<Integer> far = Page.of(ALL, Integer.MAX_VALUE, 1000);
        assertTrue(far.items().isEmpty());
        assertEquals(Integer.MAX_VALUE, far.offset());
        assertTrue(Page.of(List.<Integer>of(), null, null).items().isEmpty());
    }

    @Test
    void limitBoundsAreOneToAThousand() {
        assertEquals(1, Page.of(ALL, 0, 1).items().size());
        assertEquals(250, Page.of(ALL, 0, 1000).items().size());
        for (int bad : new int[] {0, -1, 1001, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            ApiException e = assertThrows(ApiException.class, () -> Page.of(ALL, 0, bad), "limit " + bad);
            assertEquals(400, e.status());
            assertEquals(ApiException.BAD_REQUEST, e.code());
            assertTrue(e.getMessage().contains("limit"), e.getMessage());
        }
    }

    @Test
    void aNegativeOffsetIs400() {
        ApiException e = assertThrows(ApiException.class, () -> Page.of(ALL, -1, 10));
        assertEquals(400, e.status());
        assertTrue(e.getMessage().contains("offset"), e.getMessage());
    }

    @Test
    void theItemsAreACopy() {
        List<Integer> items = Page.of(ALL, 0, 3).items();
        assertThrows(UnsupportedOperationException.class, () -> items.add(1));
    }
}
