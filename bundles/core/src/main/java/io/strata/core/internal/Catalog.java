package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * An immutable snapshot of a datastore's volume catalog. Every change makes a
 * new snapshot with the next generation; the generation lets a reader (and a
 * person reading the file) tell two versions apart.
 *
 * @param generation incremented on every write
 * @param volumes the entries, sorted by name
 * @param areas on a shared datastore, the lease area of each volume in the datastore's
 *        lockspace (volume name to area number); empty on a datastore used by one host
 */
record Catalog(long generation, List<CatalogEntry> volumes, Map<String, Integer> areas) {
    /** The file on each datastore holding its catalog. */
    static final String FILE = ".strata-catalog.json";
    /**
     * The version of the file layout this code writes; it reads every version up to it.
     * Version 2 added snapshots, leafParent, base and pending (all optional, so a version 1
     * file reads as volumes without chains and is rewritten as version 2 at the next change).
     */
    static final int VERSION = 2;

    static final Catalog EMPTY = new Catalog(0, List.of());

    Catalog(long generation, List<CatalogEntry> volumes) {
        this(generation, volumes, Map.of());
    }

    Catalog {
        List<CatalogEntry> sorted = new ArrayList<>(volumes);
        sorted.sort(Comparator.comparing(CatalogEntry::name));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i).name().equals(sorted.get(i - 1).name())) {
                throw new StorageException(ErrorCode.CORRUPT_IMAGE,
                        "catalog lists volume '" + sorted.get(i).name() + "' twice");
            }
        }
        volumes = List.copyOf(sorted);
        Map<String, Integer> kept = new TreeMap<>(areas);
        kept.keySet().retainAll(sorted.stream().map(CatalogEntry::name).toList());
        areas = java.util.Collections.unmodifiableMap(kept);
    }

    /** @return the volume's lease area, or -1 when it has none yet */
    int area(String volume) {
        return areas.getOrDefault(volume, -1);
    }

    /** @return the same generation with the volume's lease area recorded (written with the change it belongs to) */
    Catalog withArea(String volume, int area) {
        Map<String, Integer> next = new TreeMap<>(areas);
        next.put(volume, area);
        return new Catalog(generation, volumes, next);
    }

    /** @return the lowest lease area from {@code first} on that no volume uses, or -1 when all up to {@code limit} are used */
    int freeArea(int first, int limit) {
        java.util.Set<Integer> used = new java.util.HashSet<>(areas.values());
        for (int a = first; a < limit; a++) {
            if (!used.contains(a)) {
                return a;
            }
        }
        return -1;
    }

    Optional<CatalogEntry> find(String name) {
        return volumes.stream().filter(e -> e.name().equals(name)).findFirst();
    }

    Optional<CatalogEntry> findByFile(String file) {
        return volumes.stream().filter(e -> file.equals(e.file()) || file.equals(e.tempFile())
                || e.snapshots().stream().anyMatch(s -> s.file().equals(file))
                || e.pending() != null && file.equals(e.pending().file())).findFirst();
    }

    /** @return a new generation with the entry added or replaced */
    Catalog put(CatalogEntry entry) {
        List<CatalogEntry> list = new ArrayList<>(volumes.size() + 1);
        for (CatalogEntry e : volumes) {
            if (!e.name().equals(entry.name())) {
                list.add(e);
            }
        }
        list.add(entry);
        return new Catalog(generation + 1, list, areas);
    }

    /** @return a new generation without the named entry */
    Catalog remove(String name) {
        List<CatalogEntry> list = new ArrayList<>(volumes);
        list.removeIf(e -> e.name().equals(name));
        return new Catalog(generation + 1, list, areas);
    }
}
