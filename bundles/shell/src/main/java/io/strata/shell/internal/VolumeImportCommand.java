package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.FormatTypeCompleter;
import io.strata.shell.internal.completers.NewVolumeRefCompleter;
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

    @Argument(index = 0, name = "volume", description = "The new volume as <datastore>/<volume>", required = true)
    @Completion(NewVolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "path", description = "The image file", required = true)
    @Completion(FileCompleter.class)
    String path;

    /** The deprecated form {@code <datastore> <name> <path>}: the first two are then datastore and name. */
    @Argument(index = 2, name = "deprecated-path", description = "Only in the deprecated form "
            + "<datastore> <name> <path>, kept for old scripts: the image file")
    @Completion(FileCompleter.class)
    String deprecatedPath;

    @Override
    String run() {
        NewVolumeArguments args = NewVolumeArguments.parse(volume, path, deprecatedPath, "image's path");
        String image = args.value();
        Path base = session != null && session.currentDir() != null ? session.currentDir() : Path.of("");
        Path source;
        try {
            source = base.resolve(image).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "'" + Names.printable(image) + "' is not a valid path");
        }
        return VolumeInfoCommand.render(volumes.importImage(args.volume(), source, format, parent));
    }
}
