package io.strata.posix;

import io.strata.api.device.WriteFence;
import java.util.Objects;

/**
 * A {@link WriteFence} that remembers its refusal, so that a driver tells a write the fence
 * refused (the host may no longer write) from a failure of the storage (which marks a device
 * offline or a path failed). One per write.
 */
public final class FenceCheck implements WriteFence {
    private final WriteFence fence;
    private volatile RuntimeException refusal;

    public FenceCheck(WriteFence fence) {
        this.fence = Objects.requireNonNull(fence, "fence");
    }

    @Override
    public void check() {
        try {
            fence.check();
        } catch (RuntimeException e) {
            refusal = e;
            throw e;
        }
    }

    /** @return whether {@code e} is what this fence threw */
    public boolean refused(Throwable e) {
        return e != null && e == refusal;
    }
}
