package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import io.strata.shell.internal.completers.FormatTypeCompleter;
import io.strata.shell.internal.completers.FreeTextCompleter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.FileCompleter;

/** Adopts an existing image as a volume, after validating and checking it. */
@Command(scope = "storage", name = "volume-import",
        description = "Adopts an existing image as a volume after validating it (copied in unless already in the datastore)")
@Service
public class VolumeImportCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    /** Resolves relative paths against the shell's current directory; absent in unit tests. */
    @Reference(optional = true)
    Session session;

    @Option(name = "--format", description = "The image's format (detected when not given)")
    @Completion(FormatTypeCompleter.class)
    String format;

    @Option(name = "--parent", description = "For an image with a backing file or parent: the volume of this datastore "
            + "it was made from, as volume@snapshot, or volume to freeze its current state in a new snapshot")
    String parent;

    @Argument(index = 0, name = "datastore", description = "The datastore", required = true)
    @Completion(DatastoreNameCompleter.class)
    String datastore;

    @Argument(index = 1, name = "name", description = "The volume name", required = true)
    @Completion(FreeTextCompleter.class)
    String name;

    @Argument(index = 2, name = "path", description = "The image file", required = true)
    @Completion(FileCompleter.class)
    String path;

    @Override
    String run() {
        VolumeRef ref = new VolumeRef(datastore, name);
        Path base = session != null && session.currentDir() != null ? session.currentDir() : Path.of("");
        Path source;
        try {
            source = base.resolve(path).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "'" + Names.printable(path) + "' is not a valid path");
        }
        return VolumeInfoCommand.render(volumes.importImage(ref, source, format, parent));
    }
}
