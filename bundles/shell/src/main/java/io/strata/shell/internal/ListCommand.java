package io.strata.shell.internal;

import org.apache.karaf.shell.api.action.Option;

/** Options every listing command shares, named as in Karaf's own list commands. */
public abstract class ListCommand extends StorageCommand {

    @Option(name = "--no-format", description = "Print rows without header, columns separated by tabs")
    boolean noFormat;

    @Option(name = "-b", aliases = "--bytes", description = "Print sizes in bytes instead of the short form (10.0G)")
    boolean bytes;
}
