package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import org.junit.jupiter.api.function.Executable;

final class Assertions2 {
    private Assertions2() {
    }

    /** Asserts a StorageException with that code and returns it. */
    static StorageException fails(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), () -> "got " + ex.toUserString());
        return ex;
    }
}
