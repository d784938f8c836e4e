package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Space accounting of one volume across its chain.
 *
 * @param volume the volume
 * @param unique bytes only this volume uses (its current image and its own snapshots)
 * @param shared bytes it reads from images other volumes also use (a linked clone's base)
 * @param base the volume (or {@code volume@snapshot}) its chain starts from when it is a linked clone, else empty
 * @param dependents linked clones built on this volume or its snapshots
 */
public record VolumeUsage(VolumeRef volume, long unique, long shared, String base, List<String> dependents) {
    /** Checks the components and copies the list. */
    public VolumeUsage {
        requireNonNull(volume, "volume");
        requireNonNull(base, "base");
        dependents = List.copyOf(dependents);
    }
}
