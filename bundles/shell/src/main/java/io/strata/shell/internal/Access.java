package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.AccessService;

/** The token and audit commands need the REST API's {@link AccessService}. */
final class Access {
    private Access() {
    }

    static void require(AccessService access) {
        if (access == null) {
            throw new StorageException(ErrorCode.UNSUPPORTED,
                    "API tokens and the audit log belong to the REST API (feature strata-rest), which is not running");
        }
    }
}
