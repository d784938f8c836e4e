package io.strata.rest.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.ExportService;
import io.strata.api.service.HostService;
import io.strata.api.service.ResourceService;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.TaskService;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeService;
import java.util.function.Supplier;

/** The storage services the API answers from; exports come and go with the NBD feature. */
record Services(ResourceService resources, DatastoreService datastores, VolumeService volumes,
        SnapshotService snapshots, TaskService tasks, HostService host, VolumeIoService io,
        Supplier<ExportService> exportService) {

    /** @throws StorageException UNSUPPORTED when the NBD feature is not installed */
    ExportService exports() {
        ExportService e = exportService.get();
        if (e == null) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "exports need the strata-nbd feature, which is not running");
        }
        return e;
    }
}
