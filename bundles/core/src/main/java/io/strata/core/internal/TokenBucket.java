package io.strata.core.internal;

/**
 * A token bucket that lends: a request always takes its tokens, and when that leaves the
 * bucket in debt the request waits until the debt is paid back at the bucket's rate. So a
 * request larger than the bucket (1 MiB against a small byte rate) still passes, and
 * concurrent requests queue up in the order they took tokens. The bucket starts full.
 */
final class TokenBucket {
    private final double perNano;
    private final double capacity;
    private double tokens;
    private long last;

    TokenBucket(double ratePerSecond, double burstSeconds, long now) {
        this.perNano = ratePerSecond / 1e9;
        this.capacity = Math.max(1, ratePerSecond * burstSeconds);
        this.tokens = capacity;
        this.last = now;
    }

    /** Takes {@code n} tokens at time {@code now}; @return how long the caller must wait, in nanoseconds. */
    synchronized long take(double n, long now) {
        if (now > last) {
            tokens = Math.min(capacity, tokens + (now - last) * perNano);
            last = now;
        }
        tokens -= n;
        return tokens >= 0 ? 0 : (long) Math.ceil(-tokens / perNano);
    }
}
